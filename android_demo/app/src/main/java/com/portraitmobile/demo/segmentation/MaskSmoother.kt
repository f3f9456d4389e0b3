package com.portraitmobile.demo.segmentation

/**
 * Temporal smoothing of the person probability over frames: an exponential moving average,
 * s = s + alpha * (m - s), per pixel. A low alpha steadies a flickering edge, a high one follows
 * fast motion; 1 turns smoothing off. The first frame (or a new mask size) starts afresh.
 */
class MaskSmoother(alpha: Float = DEFAULT_ALPHA) {
    /** Weight of the newest frame, in (0, 1]. */
    var alpha: Float = alpha
        set(value) {
            field = value.coerceIn(MIN_ALPHA, 1f)
        }

    private var state: FloatArray? = null

    init {
        this.alpha = alpha
    }

    fun reset() {
        state = null
    }

    /** Blends [mask] into the running average and returns the smoothed mask (owned by the smoother). */
    fun smooth(mask: FloatArray): FloatArray {
        val s = state
        if (s == null || s.size != mask.size) {
            return mask.copyOf().also { state = it }
        }
        val a = alpha
        for (i in s.indices) {
            s[i] += a * (mask[i] - s[i])
        }
        return s
    }

    companion object {
        const val DEFAULT_ALPHA = 0.5f
        const val MIN_ALPHA = 0.05f
    }
}
