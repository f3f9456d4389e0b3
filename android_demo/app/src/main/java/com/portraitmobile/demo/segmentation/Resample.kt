package com.portraitmobile.demo.segmentation

import kotlin.math.abs
import kotlin.math.ceil
import kotlin.math.floor
import kotlin.math.min
import kotlin.math.roundToInt

/**
 * OpenCV's `cv2.resize`, as the Python runtime calls it in quality "balanced" and "accurate"
 * (portrait_mobile/runtime/band.py and postprocess.py), so that the app's working frame, guided
 * filter and blended tiles are the runtime's:
 *
 * - INTER_AREA when both axes shrink: each output pixel is the area-weighted mean of the source
 *   cells it covers (OpenCV's computeResizeAreaTab); a whole-number shrink averages blocks (its
 *   "area fast" path, which rounds a 2x2 uint8 mean half up).
 * - INTER_AREA when an axis grows: OpenCV's area-mode bilinear weights.
 * - INTER_LINEAR: bilinear with half-pixel centres, clamped at the borders (an exact 2x shrink is
 *   INTER_AREA's, as in OpenCV). Each axis is a + w (b - a) rounded once, w the exact position's
 *   fraction: what the x86 OpenCV wheels the runtime runs on compute for float planes (their IPP
 *   path), bit for bit; OpenCV's own code rounds the position to float first, up to 5e-6 off at 512.
 *
 * Horizontal pass, then vertical; uint8 results rounded half to even (cvRound). The same size is a copy.
 */
object Resample {
    /**
     * One axis: output i reads the source at index[start[i] until start[i + 1]] with those weights,
     * summed in order; or, [lerp], a + w (b - a) of its two taps (w the second one's weight).
     */
    class Taps(val start: IntArray, val index: IntArray, val weight: FloatArray, val lerp: Boolean = false) {
        /** Output [d] of a source line whose value at index i is [at] (i). */
        inline fun apply(d: Int, at: (Int) -> Float): Float {
            val k0 = start[d]
            val n = start[d + 1] - k0
            if (lerp && n == 2) {
                val a = at(index[k0])
                val b = at(index[k0 + 1])
                // One rounding of w (b - a) + a, as a fused multiply-add (exact in double, then to float).
                return (weight[k0 + 1].toDouble() * (b - a).toDouble() + a.toDouble()).toFloat()
            }
            var sum = 0f
            for (k in k0 until k0 + n) sum += at(index[k]) * weight[k]
            return sum
        }
    }

    /** A source of values by flat index (a float plane, or uint8 pixels read as floats). */
    private fun interface Reader {
        fun at(i: Int): Float
    }

    /** `cv2.resize(plane, (dw, dh), INTER_AREA if [area] else INTER_LINEAR)` of a float32 sw x sh plane. */
    fun plane(src: FloatArray, sw: Int, sh: Int, dw: Int, dh: Int, area: Boolean): FloatArray {
        require(src.size == sw * sh) { "a ${sw}x$sh plane has ${sw * sh} values, got ${src.size}" }
        return resize(Reader { src[it] }, 1, sw, sh, dw, dh, area)
    }

    /**
     * Rows [y0] until [y1], columns [x0] until [x1] of a float32 sw x sh plane resized bilinearly to
     * dw x dh, without resizing the rest: `postprocess._upsample_rect`, a `cv2.remap` (INTER_LINEAR,
     * BORDER_REPLICATE) at cv2.resize's pixel centres, each computed in float32 as NumPy does
     * ((d + 0.5) * float32(sw / dw) - 0.5). Returns (y1 - y0) x (x1 - x0) values, row-major.
     */
    fun planeRect(src: FloatArray, sw: Int, sh: Int, dw: Int, dh: Int, y0: Int, y1: Int, x0: Int, x1: Int): FloatArray {
        require(src.size == sw * sh) { "a ${sw}x$sh plane has ${sw * sh} values, got ${src.size}" }
        require(y0 in 0 until y1 && y1 <= dh && x0 in 0 until x1 && x1 <= dw) {
            "rows $y0..$y1, columns $x0..$x1 of ${dw}x$dh"
        }
        val xs = remapTaps(sw, dw, x0, x1)
        val ys = remapTaps(sh, dh, y0, y1)
        // Only the source rows the rect reads: its taps shifted to the first of them.
        val first = ys.index.min()
        val rows = ys.index.max() - first + 1
        val shifted = Taps(ys.start, IntArray(ys.index.size) { ys.index[it] - first }, ys.weight, lerp = true)
        return separable(Reader { src[first * sw + it] }, 1, sw, rows, xs, shifted)
    }

    /**
     * `cv2.remap`'s INTER_LINEAR taps for outputs [from] until [until] of an axis resized from [src] to
     * [dst]: x = (d + 0.5) * scale - 0.5 in float32, its floor and the next pixel clamped to the line
     * (BORDER_REPLICATE), w = x - floor(x); the value a + w (b - a) rounded once, as OpenCV's remap
     * kernel computes it (a fused multiply-add).
     */
    private fun remapTaps(src: Int, dst: Int, from: Int, until: Int): Taps {
        val scale = (src.toDouble() / dst).toFloat()
        val n = until - from
        val start = IntArray(n + 1) { 2 * it }
        val index = IntArray(2 * n)
        val weight = FloatArray(2 * n)
        for (d in 0 until n) {
            val x = ((from + d).toFloat() + 0.5f) * scale - 0.5f
            val fx = floor(x)
            val sx = fx.toInt()
            index[2 * d] = sx.coerceIn(0, src - 1)
            index[2 * d + 1] = (sx + 1).coerceIn(0, src - 1)
            weight[2 * d] = 1f - (x - fx)
            weight[2 * d + 1] = x - fx
        }
        return Taps(start, index, weight, lerp = true)
    }

    /**
     * `cv2.resize(rgb, (dw, dh), INTER_AREA)` of packed uint8 RGB (3 bytes a pixel, row-major), which
     * the runtime only ever shrinks (a photo to its working frame, the guide to the filter's grid).
     */
    fun rgbArea(src: ByteArray, sw: Int, sh: Int, dw: Int, dh: Int): ByteArray {
        require(src.size == sw * sh * 3) { "a ${sw}x$sh RGB image has ${sw * sh * 3} bytes, got ${src.size}" }
        require(dw in 1..sw && dh in 1..sh) { "INTER_AREA here shrinks: ${sw}x$sh to ${dw}x$dh" }
        if (dw == sw && dh == sh) return src.copyOf()
        val halfUp = fastScale(sw, dw) == 2 && fastScale(sh, dh) == 2
        val f = resize(Reader { (src[it].toInt() and 0xFF).toFloat() }, 3, sw, sh, dw, dh, true)
        return ByteArray(f.size) {
            // OpenCV's 2x2 uint8 mean is (a + b + c + d + 2) >> 2; everything else saturate_cast (cvRound).
            val v = if (halfUp) floor(f[it] + 0.5f) else Math.rint(f[it].toDouble()).toFloat()
            v.toInt().coerceIn(0, 255).toByte()
        }
    }

    /** The whole-number shrink factor from [src] to [dst], or 0 (cv2.resize's is_area_fast, per axis). */
    private fun fastScale(src: Int, dst: Int): Int {
        val scale = 1.0 / (dst.toDouble() / src)
        val whole = scale.roundToInt()
        return if (abs(scale - whole) < DBL_EPSILON && whole >= 1) whole else 0
    }

    private fun resize(src: Reader, cn: Int, sw: Int, sh: Int, dw: Int, dh: Int, area: Boolean): FloatArray {
        require(sw > 0 && sh > 0 && dw > 0 && dh > 0) { "sizes ${sw}x$sh -> ${dw}x$dh" }
        if (sw == dw && sh == dh) return FloatArray(sw * sh * cn) { src.at(it) }
        val scaleX = 1.0 / (dw.toDouble() / sw)
        val scaleY = 1.0 / (dh.toDouble() / sh)
        val fx = fastScale(sw, dw)
        val fy = fastScale(sh, dh)
        val asArea = area || (fx == 2 && fy == 2) // OpenCV: INTER_LINEAR at exactly half is INTER_AREA
        if (asArea && scaleX >= 1 && scaleY >= 1) {
            return if (fx > 0 && fy > 0) {
                areaFast(src, cn, sw, dw, dh, fx, fy)
            } else {
                separable(src, cn, sw, sh, areaTaps(sw, dw), areaTaps(sh, dh))
            }
        }
        val xs = if (area) linearTaps(sw, dw, areaMode = true) else linearTaps(sw, dw)
        val ys = if (area) linearTaps(sh, dh, areaMode = true) else linearTaps(sh, dh)
        return separable(src, cn, sw, sh, xs, ys)
    }

    /**
     * Whole-number shrink: the mean of each fx x fy block, its sum times 1 / area (resizeAreaFast_;
     * at 2x2 the sum is (top pair) + (bottom pair), as its vector path adds them).
     */
    private fun areaFast(src: Reader, cn: Int, sw: Int, dw: Int, dh: Int, fx: Int, fy: Int): FloatArray {
        val out = FloatArray(dw * dh * cn)
        val scale = 1f / (fx * fy)
        for (y in 0 until dh) {
            for (x in 0 until dw) {
                for (c in 0 until cn) {
                    val o = (y * dw + x) * cn + c
                    if (fx == 2 && fy == 2) {
                        val top = (2 * y * sw + 2 * x) * cn + c
                        val bottom = top + sw * cn
                        out[o] = ((src.at(top) + src.at(top + cn)) + (src.at(bottom) + src.at(bottom + cn))) * scale
                        continue
                    }
                    var sum = 0f
                    for (by in 0 until fy) {
                        val row = (y * fy + by) * sw
                        for (bx in 0 until fx) sum += src.at((row + x * fx + bx) * cn + c)
                    }
                    out[o] = sum * scale
                }
            }
        }
        return out
    }

    /** Horizontal taps over every source row, then the vertical taps, each summed in order. */
    private fun separable(src: Reader, cn: Int, sw: Int, sh: Int, xs: Taps, ys: Taps): FloatArray {
        val dw = xs.start.size - 1
        val dh = ys.start.size - 1
        val rowLen = dw * cn
        val hor = FloatArray(sh * rowLen)
        for (sy in 0 until sh) {
            val base = sy * sw
            val o = sy * rowLen
            for (dx in 0 until dw) {
                for (c in 0 until cn) hor[o + dx * cn + c] = xs.apply(dx) { src.at((base + it) * cn + c) }
            }
        }
        val out = FloatArray(dh * rowLen)
        for (dy in 0 until dh) {
            val o = dy * rowLen
            for (i in 0 until rowLen) out[o + i] = ys.apply(dy) { hor[it * rowLen + i] }
        }
        return out
    }

    /**
     * INTER_LINEAR's taps: source x = (d + 0.5) * scale - 0.5 (in double), clamped to the first and
     * last pixel. [areaMode]: INTER_AREA's weights where an axis grows (OpenCV's: x = floor(d * scale),
     * weight of the next pixel (d + 1) - (x + 1) / scale, its fraction, in float).
     */
    fun linearTaps(src: Int, dst: Int, areaMode: Boolean = false): Taps {
        val inv = dst.toDouble() / src
        val scale = 1.0 / inv
        val start = IntArray(dst + 1)
        val index = IntArray(2 * dst)
        val weight = FloatArray(2 * dst)
        var k = 0
        for (d in 0 until dst) {
            var sx: Int
            var f: Float
            if (!areaMode) {
                val x = (d + 0.5) * (src.toDouble() / dst) - 0.5
                sx = floor(x).toInt()
                f = (x - sx).toFloat()
            } else {
                sx = floor(d * scale).toInt()
                f = ((d + 1) - (sx + 1) * inv).toFloat()
                f = if (f <= 0f) 0f else f - floor(f)
            }
            if (sx < 0) {
                f = 0f
                sx = 0
            }
            if (sx >= src - 1) {
                f = 0f
                sx = src - 1
            }
            index[k] = sx
            weight[k++] = 1f - f
            if (f != 0f) {
                index[k] = sx + 1
                weight[k++] = f
            }
            start[d + 1] = k
        }
        return Taps(start, index, weight, lerp = !areaMode)
    }

    /** INTER_AREA's taps for a shrinking axis (OpenCV's computeResizeAreaTab). */
    fun areaTaps(src: Int, dst: Int): Taps {
        val scale = 1.0 / (dst.toDouble() / src)
        val start = IntArray(dst + 1)
        val index = ArrayList<Int>(src + 2 * dst)
        val weight = ArrayList<Float>(src + 2 * dst)
        for (d in 0 until dst) {
            val fs1 = d * scale
            val fs2 = fs1 + scale
            val cell = min(scale, src - fs1)
            var s2 = floor(fs2).toInt()
            s2 = min(s2, src - 1)
            val s1 = min(ceil(fs1).toInt(), s2)
            if (s1 - fs1 > 1e-3) {
                index += s1 - 1
                weight += ((s1 - fs1) / cell).toFloat()
            }
            for (s in s1 until s2) {
                index += s
                weight += (1.0 / cell).toFloat()
            }
            if (fs2 - s2 > 1e-3) {
                index += s2
                weight += (min(min(fs2 - s2, 1.0), cell) / cell).toFloat()
            }
            start[d + 1] = index.size
        }
        return Taps(start, index.toIntArray(), weight.toFloatArray())
    }

    private const val DBL_EPSILON = 2.220446049250313e-16
}
