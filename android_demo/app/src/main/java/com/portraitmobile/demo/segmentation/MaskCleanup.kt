package com.portraitmobile.demo.segmentation

import kotlin.math.hypot
import kotlin.math.max

/**
 * What [MaskCleanup.clean] takes out of the coarse mask (`postprocess.RegionCleanup`): person regions smaller
 * than [minRegion] x the largest one (detached false positives: a patch of wall, a bag), and holes the person
 * encloses smaller than [maxHole] x the person's area (a missed patch of shirt). 0 turns a part off. The
 * defaults are the Python runtime's `DEFAULT_CLEANUP`, chosen on its training carves (docs/experiments.md).
 */
data class RegionCleanup(val minRegion: Double = MIN_REGION, val maxHole: Double = MAX_HOLE) {
    init {
        require(minRegion in 0.0..1.0) { "minRegion must be a fraction in [0, 1], got $minRegion" }
        require(maxHole in 0.0..1.0) { "maxHole must be a fraction in [0, 1], got $maxHole" }
    }

    val active: Boolean get() = minRegion > 0 || maxHole > 0

    /**
     * `RegionCleanup.for_level`: the cleanup [level] runs. Holes are filled for fast and balanced, left to the
     * learned refiner for accurate (it tells a missed patch from a real gap between arm and body better).
     */
    fun forLevel(level: Quality): RegionCleanup = if (level == Quality.ACCURATE) copy(maxHole = 0.0) else this

    companion object {
        const val MIN_REGION = 0.1
        const val MAX_HOLE = 0.002

        /** `postprocess.NO_CLEANUP`. */
        val NONE = RegionCleanup(minRegion = 0.0, maxHole = 0.0)
    }
}

/**
 * The Python runtime's cleanup of the coarse mask, `postprocess.clean_regions`, step for step: every quality
 * level starts from the model's probability so cleaned (after the temporal smoothing, for camera frames).
 *
 * Person regions are 8-connected at [THRESHOLD] and holes 4-connected (a hole never leaks through a diagonal
 * the person holds); a hole is a background region that touches no side of the frame. A removed region is set
 * to 0 and a filled hole to 1, each with its soft edge: the pixels within the halo (by default 2% of the
 * mask's diagonal) that are nearer it than their rival (the regions kept; the rest of the background), by the
 * chamfer distance of OpenCV's `distanceTransform(DIST_L2, 3)` ([chamferDistance]).
 */
object MaskCleanup {
    /** `clean_regions`' default threshold. */
    const val THRESHOLD = 0.5f

    /** `postprocess._default_halo`: 2% of the mask's diagonal, rounded half to even as Python's round, at least 1. */
    fun defaultHalo(width: Int, height: Int): Int =
        max(1, Math.rint(0.02 * hypot(height.toDouble(), width.toDouble())).toInt())

    /**
     * [prob] ([width] x [height], row-major, in [0, 1]) without the small detached person regions and the small
     * enclosed holes [cleanup] names, each taken out with its soft edge ([halo] pixels; null: [defaultHalo]).
     * Returns a new array; [prob] is not changed.
     */
    fun clean(
        prob: FloatArray,
        width: Int,
        height: Int,
        cleanup: RegionCleanup = RegionCleanup(),
        threshold: Float = THRESHOLD,
        halo: Int? = null,
    ): FloatArray {
        require(width > 0 && height > 0 && prob.size == width * height) {
            "a ${width}x$height mask has ${width * height} values, got ${prob.size}"
        }
        val out = prob.copyOf()
        if (!cleanup.active) return out
        val reach = halo ?: defaultHalo(width, height)
        val n = prob.size
        val fg = BooleanArray(n) { prob[it] >= threshold }
        if (cleanup.minRegion > 0) {
            val regions = Components.of(fg, width, height, eightConnected = true)
            if (regions.count > 1) {
                val largest = regions.area.max()
                val small = BooleanArray(regions.count) { regions.area[it] < cleanup.minRegion * largest }
                if (small.any { it }) {
                    val removed = BooleanArray(n) { regions.label[it] >= 0 && small[regions.label[it]] }
                    claim(out, removed, BooleanArray(n) { fg[it] && !removed[it] }, width, height, reach, 0f)
                    for (i in 0 until n) if (removed[i]) fg[i] = false
                }
            }
        }
        val person = fg.count { it }
        if (cleanup.maxHole > 0 && person > 0) {
            val background = Components.of(BooleanArray(n) { !fg[it] }, width, height, eightConnected = false)
            val hole = BooleanArray(background.count) {
                !background.touchesSide[it] && background.area[it] < cleanup.maxHole * person
            }
            if (hole.any { it }) {
                val label = background.label
                val filled = BooleanArray(n) { label[it] >= 0 && hole[label[it]] }
                claim(out, filled, BooleanArray(n) { label[it] >= 0 && !filled[it] }, width, height, reach, 1f)
            }
        }
        return out
    }

    /**
     * `postprocess._claim`: [target] set to [value] in [prob], with the soft edge around it: the pixels within
     * [halo] of it that are nearer it than [rival].
     */
    private fun claim(
        prob: FloatArray,
        target: BooleanArray,
        rival: BooleanArray,
        width: Int,
        height: Int,
        halo: Int,
        value: Float,
    ) {
        val dRival = chamferDistance(rival, width, height)
        val dTarget = chamferDistance(target, width, height)
        val reach = halo.toFloat()
        for (i in prob.indices) {
            if (target[i] || (dTarget[i] <= reach && dTarget[i] < dRival[i])) prob[i] = value
        }
    }

    /** OpenCV's 3x3 chamfer steps for DIST_L2, 0.955 and 1.3693, in 16-bit fixed point (`CV_FLT_TO_FIX`). */
    private const val SHIFT = 16
    private val EDGE_STEP = Math.rint(0.955f * (1 shl SHIFT).toDouble()).toLong()
    private val DIAGONAL_STEP = Math.rint(1.3693f * (1 shl SHIFT).toDouble()).toLong()
    private val FAR = 0xFFFFFFFFL - DIAGONAL_STEP // distransform.cpp's DIST_MAX: UINT_MAX - DIAG_DIST
    private const val SCALE = 1f / (1 shl SHIFT)

    /**
     * `cv2.distanceTransform(src, DIST_L2, 3)` with src 0 where [to] is true: each pixel's distance to the nearest
     * such pixel, as OpenCV's portable distransform.cpp (`distanceTransform_3x3`) computes it, in unsigned 32-bit
     * fixed point: a forward pass (up-left, up, up-right, left) and a backward one (down-right, down, down-left,
     * right), outside the frame at DIST_MAX; then each value times 2^-16 as a float. (OpenCV's x86 wheels run
     * Intel IPP's version instead, whose float sums can differ in the last bits; tests/demos/cleanup_golden.py
     * keeps to masks on which the two give the runtime the same result.)
     */
    fun chamferDistance(to: BooleanArray, width: Int, height: Int): FloatArray {
        require(to.size == width * height) { "a ${width}x$height mask has ${width * height} values, got ${to.size}" }
        val w = width + 2 // a border of DIST_MAX on every side
        val t = LongArray(w * (height + 2)) { FAR }
        for (y in 0 until height) {
            val row = (y + 1) * w + 1
            for (x in 0 until width) {
                val j = row + x
                t[j] = if (to[y * width + x]) {
                    0L
                } else {
                    var d = t[j - w - 1] + DIAGONAL_STEP
                    d = minOf(d, t[j - w] + EDGE_STEP)
                    d = minOf(d, t[j - w + 1] + DIAGONAL_STEP)
                    d = minOf(d, t[j - 1] + EDGE_STEP)
                    minOf(d, FAR)
                }
            }
        }
        val out = FloatArray(width * height)
        for (y in height - 1 downTo 0) {
            val row = (y + 1) * w + 1
            for (x in width - 1 downTo 0) {
                val j = row + x
                var d = t[j]
                if (d > EDGE_STEP) {
                    d = minOf(d, t[j + w + 1] + DIAGONAL_STEP)
                    d = minOf(d, t[j + w] + EDGE_STEP)
                    d = minOf(d, t[j + w - 1] + DIAGONAL_STEP)
                    d = minOf(d, t[j + 1] + EDGE_STEP)
                    t[j] = d
                }
                out[y * width + x] = d.toFloat() * SCALE
            }
        }
        return out
    }

    /**
     * The connected regions of [mask]'s true pixels: each pixel's region ([label], -1 where false), and per
     * region its [area] and whether it touches a side of the frame ([touchesSide]).
     */
    private class Components(val label: IntArray, val area: IntArray, val touchesSide: BooleanArray) {
        val count: Int get() = area.size

        companion object {
            fun of(mask: BooleanArray, width: Int, height: Int, eightConnected: Boolean): Components {
                val label = IntArray(mask.size) { -1 }
                val areas = ArrayList<Int>()
                val sides = ArrayList<Boolean>()
                val stack = IntArray(mask.size)
                for (start in mask.indices) {
                    if (!mask[start] || label[start] >= 0) continue
                    val id = areas.size
                    var area = 0
                    var side = false
                    var top = 0
                    label[start] = id
                    stack[top++] = start
                    while (top > 0) {
                        val p = stack[--top]
                        area++
                        val y = p / width
                        val x = p % width
                        if (x == 0 || y == 0 || x == width - 1 || y == height - 1) side = true
                        for (dy in -1..1) {
                            val yy = y + dy
                            if (yy < 0 || yy >= height) continue
                            for (dx in -1..1) {
                                val xx = x + dx
                                if (xx < 0 || xx >= width || (dx == 0 && dy == 0)) continue
                                if (!eightConnected && dx != 0 && dy != 0) continue
                                val q = yy * width + xx
                                if (mask[q] && label[q] < 0) {
                                    label[q] = id
                                    stack[top++] = q
                                }
                            }
                        }
                    }
                    areas.add(area)
                    sides.add(side)
                }
                return Components(label, areas.toIntArray(), sides.toBooleanArray())
            }
        }
    }
}
