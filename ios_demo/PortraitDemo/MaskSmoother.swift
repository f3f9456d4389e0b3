import Accelerate

/// Temporal smoothing of the person probability over frames: an exponential moving average,
/// s = s + alpha * (m - s), per pixel. A low alpha steadies a flickering edge, a high one follows
/// fast motion; 1 turns smoothing off. The first frame (or a new mask size) starts afresh.
final class MaskSmoother {
    static let minimumAlpha: Float = 0.05

    /// Weight of the newest frame, in (0, 1].
    var alpha: Float {
        didSet { alpha = Self.limited(alpha) }
    }

    private var state: [Float] = []

    init(alpha: Float = 0.5) {
        self.alpha = Self.limited(alpha)
    }

    /// `alpha` in [minimumAlpha, 1]; NaN (which min/max pass through, and which would turn every mask
    /// NaN, i.e. background, for good) is 1: no smoothing.
    private static func limited(_ alpha: Float) -> Float {
        alpha.isNaN ? 1 : min(max(alpha, minimumAlpha), 1)
    }

    func reset() {
        state = []
    }

    func smooth(_ mask: [Float]) -> [Float] {
        guard state.count == mask.count else {
            state = mask
            return state
        }
        // linearInterpolate(a, b, t) = a + t * (b - a)
        state = vDSP.linearInterpolate(state, mask, using: alpha)
        return state
    }
}
