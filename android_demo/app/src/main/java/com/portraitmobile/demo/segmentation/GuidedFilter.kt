package com.portraitmobile.demo.segmentation

import kotlin.math.max
import kotlin.math.min

/**
 * The Python runtime's edge refinement, `postprocess.refine_edges` with its defaults: the
 * colour-guided filter of He, Sun and Tang (coefficients on a grid radius / 4 coarser, the fast
 * guided filter), its output steepened around 0.5 by `contrast`. Quality "balanced" runs it at the
 * frame's size; an edge refiner whose 4th channel is `guided_probability` reads it at the working
 * frame ([EdgeBand.withChannel]); quality "accurate" snaps its refined tiles with it, inside those
 * tiles only ([refineEdgesIn], [EdgeBand.snapBand]). Float32 arithmetic in the runtime's order; box
 * filters with OpenCV's BORDER_REFLECT (fedcba|abcdef|fedcba), summed in double as `cv2.boxFilter` does.
 */
object GuidedFilter {
    const val EPS = 1e-3f
    const val CONTRAST = 2f

    /** `refine_edges`' grid: radius / 4 coarser than the image. */
    const val SUBSAMPLE = 4
    private const val INV_255 = 1f / 255f

    /** `refine_edges`' default radius: 2% of the image's long side, at least 2 pixels. */
    fun defaultRadius(width: Int, height: Int): Int = max(2, Math.rint(0.02 * max(height, width)).toInt())

    /**
     * [image]: the guide at its own size; [prob]: the person probability at any size ([probWidth] x
     * [probHeight]: the model's own output can be passed, it is resized as part of the filtering).
     * Returns the refined probability in [0, 1] at the image's size, row-major.
     */
    fun refineEdges(
        image: RgbImage,
        prob: FloatArray,
        probWidth: Int,
        probHeight: Int,
        eps: Float = EPS,
        contrast: Float = CONTRAST,
    ): FloatArray {
        val fit = fitEdges(image, prob, probWidth, probHeight, defaultRadius(image.width, image.height), eps, SUBSAMPLE)
        return apply(fit, image, contrast)
    }

    /**
     * `postprocess.refine_edges_in`: [refineEdges] inside [rects] only (at the image's size, clipped to
     * it), with a grid radius / [subsample] coarser; elsewhere [prob] resized bilinearly to the image.
     * The full-size work is the rects' area: a mask whose contour lies in a few tiles costs those tiles.
     * [weight]: a map in [0, 1] at any size ([weightWidth] x [weightHeight], by default the probability's),
     * resized bilinearly inside each rect, of how much of the filtered value each pixel takes, the rest
     * from the resized [prob]: 0 at the rects' outer edge hands over without a step.
     */
    fun refineEdgesIn(
        image: RgbImage,
        prob: FloatArray,
        probWidth: Int,
        probHeight: Int,
        rects: List<TileRect>,
        radius: Int = defaultRadius(image.width, image.height),
        eps: Float = EPS,
        contrast: Float = CONTRAST,
        subsample: Int = SUBSAMPLE,
        weight: FloatArray? = null,
        weightWidth: Int = probWidth,
        weightHeight: Int = probHeight,
    ): FloatArray {
        require(weight == null || weight.size == weightWidth * weightHeight) {
            "a ${weightWidth}x$weightHeight weight has ${weightWidth * weightHeight} values, got ${weight?.size}"
        }
        val fit = fitEdges(image, prob, probWidth, probHeight, radius, eps, subsample)
        val w = image.width
        val h = image.height
        val base = if (probWidth == w && probHeight == h) {
            prob.copyOf()
        } else {
            Resample.plane(prob, probWidth, probHeight, w, h, area = false)
        }
        // Neighbouring rects share an edge row or column: blend against the untouched mask, not against
        // what the previous rect wrote there.
        val out = if (weight == null) base else base.copyOf()
        for (rect in rects) {
            val y0 = max(0, rect.y0)
            val y1 = min(h, rect.y1)
            val x0 = max(0, rect.x0)
            val x1 = min(w, rect.x1)
            if (y1 <= y0 || x1 <= x0) continue
            fun up(x: FloatArray) = Resample.planeRect(x, fit.width, fit.height, w, h, y0, y1, x0, x1)
            val a = Array(3) { up(fit.a[it]) }
            val b = up(fit.b)
            val wUp = weight?.let { Resample.planeRect(it, weightWidth, weightHeight, w, h, y0, y1, x0, x1) }
            val rw = x1 - x0
            for (y in y0 until y1) {
                for (x in x0 until x1) {
                    val j = (y - y0) * rw + x - x0
                    val q = linear(a[0][j], a[1][j], a[2][j], b[j], image.pixels, y * w + x, contrast)
                    // Weighted as the runtime does, each step rounded to float32: q -= base; q *= w; q += base.
                    out[y * w + x] = if (wUp == null) q else (q - base[y * w + x]) * wUp[j] + base[y * w + x]
                }
            }
        }
        for (i in out.indices) out[i] = out[i].coerceIn(0f, 1f)
        return out
    }

    /** The filter's coefficients (3 planes of a, one of b) on its grid ([width] x [height]). */
    private class Fit(val a: Array<FloatArray>, val b: FloatArray, val width: Int, val height: Int)

    /**
     * `postprocess._fit_edges`: the coefficients on a grid radius / [subsample] coarser than [image]
     * (the guide through INTER_AREA, the probability INTER_AREA if it shrinks on an axis, else
     * INTER_LINEAR), box radius [radius] / that step.
     */
    private fun fitEdges(
        image: RgbImage,
        prob: FloatArray,
        probWidth: Int,
        probHeight: Int,
        radius: Int,
        eps: Float,
        subsample: Int,
    ): Fit {
        require(prob.size == probWidth * probHeight) {
            "a ${probWidth}x$probHeight probability has ${prob.size} values"
        }
        val w = image.width
        val h = image.height
        val r0 = max(1, radius)
        val s = max(1, r0 / max(1, subsample))
        val gw = max(1, w / s)
        val gh = max(1, h / s)
        val small = if (gw == w && gh == h) image.pixels else Resample.rgbArea(image.pixels, w, h, gw, gh)
        val n = gw * gh
        val guide = Array(3) { c -> FloatArray(n) { (small[3 * it + c].toInt() and 0xFF) * INV_255 } }
        val p = if (probWidth == gw && probHeight == gh) {
            prob
        } else {
            Resample.plane(prob, probWidth, probHeight, gw, gh, area = probHeight > gh || probWidth > gw)
        }
        val r = max(1, Math.rint(r0.toDouble() / s).toInt())
        val (meanA, meanB) = coefficients(guide, p, gw, gh, r, eps)
        return Fit(meanA, meanB, gw, gh)
    }

    /** Box-averaged linear coefficients (3 planes of a, one of b) of the colour-guided filter. */
    private fun coefficients(
        g: Array<FloatArray>,
        p: FloatArray,
        w: Int,
        h: Int,
        r: Int,
        e: Float,
    ): Pair<Array<FloatArray>, FloatArray> {
        val n = w * h
        fun box(x: FloatArray) = boxFilter(x, w, h, r)
        fun mul(a: FloatArray, b: FloatArray) = FloatArray(n) { a[it] * b[it] }
        val meanP = box(p)
        val meanI = Array(3) { box(g[it]) }
        val cov = Array(3) { c ->
            box(mul(g[c], p)).also { m -> for (i in 0 until n) m[i] -= meanI[c][i] * meanP[i] }
        }

        fun variance(i: Int, j: Int) =
            box(mul(g[i], g[j])).also { m -> for (k in 0 until n) m[k] -= meanI[i][k] * meanI[j][k] }
        val v00 = variance(0, 0)
        val v01 = variance(0, 1)
        val v02 = variance(0, 2)
        val v11 = variance(1, 1)
        val v12 = variance(1, 2)
        val v22 = variance(2, 2)
        val a = Array(3) { FloatArray(n) }
        val b = FloatArray(n)
        for (k in 0 until n) {
            // a = (Sigma + eps U)^-1 cov(I, p), Sigma the 3x3 colour covariance (He et al. eq. 14).
            val a11 = v00[k] + e
            val a12 = v01[k]
            val a13 = v02[k]
            val a22 = v11[k] + e
            val a23 = v12[k]
            val a33 = v22[k] + e
            val i11 = a22 * a33 - a23 * a23
            val i12 = a13 * a23 - a12 * a33
            val i13 = a12 * a23 - a13 * a22
            val i22 = a11 * a33 - a13 * a13
            val i23 = a12 * a13 - a11 * a23
            val i33 = a11 * a22 - a12 * a12
            val det = a11 * i11 + a12 * i12 + a13 * i13
            val c0 = cov[0][k]
            val c1 = cov[1][k]
            val c2 = cov[2][k]
            a[0][k] = (i11 * c0 + i12 * c1 + i13 * c2) / det
            a[1][k] = (i12 * c0 + i22 * c1 + i23 * c2) / det
            a[2][k] = (i13 * c0 + i23 * c1 + i33 * c2) / det
            b[k] = meanP[k] - (a[0][k] * meanI[0][k] + a[1][k] * meanI[1][k] + a[2][k] * meanI[2][k])
        }
        return Array(3) { box(a[it]) } to box(b)
    }

    /** q = mean_a . I + mean_b at the image's size (coefficients resized bilinearly), steepened, clipped. */
    private fun apply(fit: Fit, image: RgbImage, contrast: Float): FloatArray {
        val w = image.width
        val h = image.height
        val same = fit.width == w && fit.height == h
        fun up(x: FloatArray) = if (same) x else Resample.plane(x, fit.width, fit.height, w, h, area = false)
        val a = Array(3) { up(fit.a[it]) }
        val b = up(fit.b)
        return FloatArray(w * h) { i ->
            linear(a[0][i], a[1][i], a[2][i], b[i], image.pixels, i, contrast).coerceIn(0f, 1f)
        }
    }

    /**
     * `postprocess._linear` at pixel [i] of packed RGB [px]: q = a . I + b (I = value / 255; each product
     * rounded, summed in order, then b), steepened around 0.5 by [contrast].
     */
    private fun linear(a0: Float, a1: Float, a2: Float, b: Float, px: ByteArray, i: Int, contrast: Float): Float {
        val g0 = (px[3 * i].toInt() and 0xFF).toFloat() * INV_255
        val g1 = (px[3 * i + 1].toInt() and 0xFF).toFloat() * INV_255
        val g2 = (px[3 * i + 2].toInt() and 0xFF).toFloat() * INV_255
        var q = a0 * g0 + a1 * g1 + a2 * g2
        q += b
        return if (contrast != 1f) (q - 0.5f) * contrast + 0.5f else q
    }

    /**
     * `cv2.boxFilter(x, CV_32F, (2r + 1, 2r + 1), normalize=True, borderType=BORDER_REFLECT)`: running
     * row sums, then running column sums, in double; each output the sum times 1 / (2r + 1)^2.
     */
    fun boxFilter(x: FloatArray, w: Int, h: Int, r: Int): FloatArray {
        val k = 2 * r + 1
        val rows = DoubleArray(w * h)
        for (y in 0 until h) {
            val o = y * w
            var s = 0.0
            for (j in -r..r) s += x[o + reflect(j, w)]
            rows[o] = s
            for (i in 1 until w) {
                s += x[o + reflect(i + r, w)].toDouble() - x[o + reflect(i - r - 1, w)].toDouble()
                rows[o + i] = s
            }
        }
        val out = FloatArray(w * h)
        val scale = 1.0 / (k * k)
        val sum = DoubleArray(w)
        for (j in -r until r) {
            val o = reflect(j, h) * w
            for (i in 0 until w) sum[i] += rows[o + i]
        }
        for (y in 0 until h) {
            val enter = reflect(y + r, h) * w
            val leave = reflect(y - r, h) * w
            for (i in 0 until w) {
                val s0 = sum[i] + rows[enter + i]
                out[y * w + i] = (s0 * scale).toFloat()
                sum[i] = s0 - rows[leave + i]
            }
        }
        return out
    }

    /** BORDER_REFLECT: fedcba|abcdef|fedcba. */
    private fun reflect(j: Int, n: Int): Int {
        var i = j
        while (i < 0 || i >= n) {
            i = if (i < 0) -i - 1 else 2 * n - i - 1
        }
        return i
    }
}
