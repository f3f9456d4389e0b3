import Foundation

/// What `MaskCleanup.clean` takes out of the coarse mask (the Python runtime's
/// `postprocess.RegionCleanup`): person regions smaller than `minRegion` x the largest one (detached
/// false positives: a patch of wall, a bag), and holes the person encloses smaller than `maxHole` x
/// the person's area (a missed patch of shirt). 0 turns a part off. The defaults are the runtime's
/// `DEFAULT_CLEANUP`, chosen on its training carves (docs/experiments.md).
///
/// The runtime leaves the holes to its learned refiner at quality "accurate" (`for_level`); this app
/// has no refiner and one level, the coarse mask upsampled, which the runtime cleans with holes
/// filled: `standard`.
struct RegionCleanup: Equatable, Sendable {
    static let defaultMinRegion = 0.1
    static let defaultMaxHole = 0.002

    /// `postprocess.DEFAULT_CLEANUP`.
    static let standard = RegionCleanup(unchecked: defaultMinRegion, defaultMaxHole)
    /// `postprocess.NO_CLEANUP`.
    static let none = RegionCleanup(unchecked: 0, 0)

    let minRegion: Double
    let maxHole: Double

    /// Throws `MaskCleanupError.notAFraction` for a value outside [0, 1] (NaN included).
    init(minRegion: Double = RegionCleanup.defaultMinRegion, maxHole: Double = RegionCleanup.defaultMaxHole) throws {
        for (name, value) in [("minRegion", minRegion), ("maxHole", maxHole)] where !(0...1).contains(value) {
            throw MaskCleanupError.notAFraction(name: name, value: value)
        }
        self.init(unchecked: minRegion, maxHole)
    }

    private init(unchecked minRegion: Double, _ maxHole: Double) {
        self.minRegion = minRegion
        self.maxHole = maxHole
    }

    var active: Bool { minRegion > 0 || maxHole > 0 }
}

enum MaskCleanupError: LocalizedError, Equatable {
    case notAFraction(name: String, value: Double)
    case sizeMismatch(width: Int, height: Int, count: Int)

    var errorDescription: String? {
        switch self {
        case .notAFraction(let name, let value):
            return "\(name) must be a fraction in [0, 1], got \(value)"
        case .sizeMismatch(let width, let height, let count):
            guard let want = MaskCleanup.pixelCount(width: width, height: height) else {
                return "a mask cannot be \(width)x\(height) (got \(count) values)"
            }
            return "a \(width)x\(height) mask has \(want) values, got \(count)"
        }
    }
}

/// The Python runtime's cleanup of the coarse mask, `postprocess.clean_regions`, step for step (a port
/// of the Android demo's MaskCleanup.kt): the app cleans the model's probability after the temporal
/// smoothing, before the effect, as the runtime's `Segmenter.finish` does.
///
/// Person regions are 8-connected at `threshold` and holes 4-connected (a hole never leaks through a
/// diagonal the person holds); a hole is a background region that touches no side of the frame. A
/// removed region is set to 0 and a filled hole to 1, each with its soft edge: the pixels within the
/// halo (by default 2% of the mask's diagonal) that are nearer it than their rival (the regions kept;
/// the rest of the background), by the chamfer distance of OpenCV's `distanceTransform(DIST_L2, 3)`
/// (`chamferDistance`).
enum MaskCleanup {
    /// `clean_regions`' default threshold.
    static let threshold: Float = 0.5

    /// `width` x `height` pixels, or nil when a side is not positive or the product overflows: sizes may
    /// come from a file, and Int's `*` traps on overflow.
    static func pixelCount(width: Int, height: Int) -> Int? {
        guard width > 0, height > 0 else { return nil }
        let (count, overflow) = width.multipliedReportingOverflow(by: height)
        return overflow ? nil : count
    }

    /// `postprocess._default_halo`: 2% of the mask's diagonal, rounded half to even as Python's round,
    /// at least 1. (The diagonal is the square root of an exact integer, so correctly rounded; for sides
    /// whose squares overflow an Int, of a Double, never a trap.)
    static func defaultHalo(width: Int, height: Int) -> Int {
        let (w2, o1) = width.multipliedReportingOverflow(by: width)
        let (h2, o2) = height.multipliedReportingOverflow(by: height)
        let (sum, o3) = w2.addingReportingOverflow(h2)
        let diagonal = o1 || o2 || o3 ? (Double(width) * Double(width) + Double(height) * Double(height)).squareRoot()
            : Double(sum).squareRoot()
        return max(1, Int((0.02 * diagonal).rounded(.toNearestOrEven)))
    }

    /// `prob` (`width` x `height`, row-major, in [0, 1]) without the small detached person regions and
    /// the small enclosed holes `cleanup` names, each taken out with its soft edge (`halo` pixels; nil:
    /// `defaultHalo`). Throws `MaskCleanupError.sizeMismatch` if `prob` is not `width` x `height`.
    static func clean(_ prob: [Float], width: Int, height: Int, cleanup: RegionCleanup = .standard,
                      threshold: Float = MaskCleanup.threshold, halo: Int? = nil) throws -> [Float] {
        guard pixelCount(width: width, height: height) == prob.count else {
            throw MaskCleanupError.sizeMismatch(width: width, height: height, count: prob.count)
        }
        var out = prob
        guard cleanup.active else { return out }
        let reach = halo ?? defaultHalo(width: width, height: height)
        let n = prob.count
        var fg = prob.map { $0 >= threshold }
        if cleanup.minRegion > 0 {
            let regions = Components(of: fg, width: width, height: height, eightConnected: true)
            if regions.count > 1, let largest = regions.area.max() {
                let small = regions.area.map { Double($0) < cleanup.minRegion * Double(largest) }
                if small.contains(true) {
                    let removed = regions.label.map { $0 >= 0 && small[$0] }
                    let kept = (0..<n).map { fg[$0] && !removed[$0] }
                    claim(&out, target: removed, rival: kept, width: width, height: height, halo: reach, value: 0)
                    fg = kept
                }
            }
        }
        let person = fg.reduce(0) { $1 ? $0 + 1 : $0 }
        if cleanup.maxHole > 0 && person > 0 {
            let background = Components(of: fg.map { !$0 }, width: width, height: height, eightConnected: false)
            let hole = (0..<background.count).map {
                !background.touchesSide[$0] && Double(background.area[$0]) < cleanup.maxHole * Double(person)
            }
            if hole.contains(true) {
                let label = background.label
                let filled = label.map { $0 >= 0 && hole[$0] }
                let rest = (0..<n).map { label[$0] >= 0 && !filled[$0] }
                claim(&out, target: filled, rival: rest, width: width, height: height, halo: reach, value: 1)
            }
        }
        return out
    }

    /// `postprocess._claim`: `target` set to `value` in `prob`, with the soft edge around it: the
    /// pixels within `halo` of it that are nearer it than `rival`.
    private static func claim(_ prob: inout [Float], target: [Bool], rival: [Bool], width: Int, height: Int,
                              halo: Int, value: Float) {
        let dRival = chamferDistance(to: rival, width: width, height: height)
        let dTarget = chamferDistance(to: target, width: width, height: height)
        let reach = Float(halo)
        for i in prob.indices where target[i] || (dTarget[i] <= reach && dTarget[i] < dRival[i]) {
            prob[i] = value
        }
    }

    /// OpenCV's 3x3 chamfer steps for DIST_L2, 0.955 and 1.3693 (floats), in 16-bit fixed point
    /// (`CV_FLT_TO_FIX`), and distransform.cpp's DIST_MAX (UINT_MAX - the diagonal step).
    private static let shift = 16
    private static let edgeStep = Int64((Double(Float(0.955)) * Double(1 << shift)).rounded(.toNearestOrEven))
    private static let diagonalStep = Int64((Double(Float(1.3693)) * Double(1 << shift)).rounded(.toNearestOrEven))
    private static let far = Int64(UInt32.max) - diagonalStep
    private static let scale = 1 / Float(1 << shift)

    /// `cv2.distanceTransform(src, DIST_L2, 3)` with src 0 where `to` is true: each pixel's distance to
    /// the nearest such pixel, as OpenCV's portable distransform.cpp (`distanceTransform_3x3`) computes
    /// it, in unsigned 32-bit fixed point: a forward pass (up-left, up, up-right, left) and a backward
    /// one (down-right, down, down-left, right), outside the frame at DIST_MAX; then each value times
    /// 2^-16 as a float. (OpenCV's x86 wheels run Intel IPP's version instead, whose float sums can
    /// differ in the last bits.)
    static func chamferDistance(to: [Bool], width: Int, height: Int) -> [Float] {
        precondition(pixelCount(width: width, height: height) == to.count,
                     "a \(width)x\(height) mask, got \(to.count) values")
        let w = width + 2  // a border of DIST_MAX on every side
        var t = [Int64](repeating: far, count: w * (height + 2))
        for y in 0..<height {
            let row = (y + 1) * w + 1
            for x in 0..<width {
                let j = row + x
                if to[y * width + x] {
                    t[j] = 0
                } else {
                    var d = t[j - w - 1] + diagonalStep
                    d = min(d, t[j - w] + edgeStep)
                    d = min(d, t[j - w + 1] + diagonalStep)
                    d = min(d, t[j - 1] + edgeStep)
                    t[j] = min(d, far)
                }
            }
        }
        var out = [Float](repeating: 0, count: width * height)
        for y in stride(from: height - 1, through: 0, by: -1) {
            let row = (y + 1) * w + 1
            for x in stride(from: width - 1, through: 0, by: -1) {
                let j = row + x
                var d = t[j]
                if d > edgeStep {
                    d = min(d, t[j + w + 1] + diagonalStep)
                    d = min(d, t[j + w] + edgeStep)
                    d = min(d, t[j + w - 1] + diagonalStep)
                    d = min(d, t[j + 1] + edgeStep)
                    t[j] = d
                }
                out[y * width + x] = Float(d) * scale
            }
        }
        return out
    }

    /// The connected regions of a mask's true pixels: each pixel's region (`label`, -1 where false),
    /// and per region its `area` and whether it touches a side of the frame (`touchesSide`).
    private struct Components {
        var label: [Int]
        var area: [Int] = []
        var touchesSide: [Bool] = []
        var count: Int { area.count }

        init(of mask: [Bool], width: Int, height: Int, eightConnected: Bool) {
            label = [Int](repeating: -1, count: mask.count)
            var stack = [Int](repeating: 0, count: mask.count)
            for start in mask.indices where mask[start] && label[start] < 0 {
                let id = area.count
                var size = 0
                var side = false
                var top = 0
                label[start] = id
                stack[top] = start
                top += 1
                while top > 0 {
                    top -= 1
                    let p = stack[top]
                    size += 1
                    let y = p / width
                    let x = p % width
                    if x == 0 || y == 0 || x == width - 1 || y == height - 1 { side = true }
                    for dy in -1...1 {
                        let yy = y + dy
                        if yy < 0 || yy >= height { continue }
                        for dx in -1...1 {
                            let xx = x + dx
                            if xx < 0 || xx >= width || (dx == 0 && dy == 0) { continue }
                            if !eightConnected && dx != 0 && dy != 0 { continue }
                            let q = yy * width + xx
                            if mask[q] && label[q] < 0 {
                                label[q] = id
                                stack[top] = q
                                top += 1
                            }
                        }
                    }
                }
                area.append(size)
                touchesSide.append(side)
            }
        }
    }
}
