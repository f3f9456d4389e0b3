package com.portraitmobile.demo.segmentation

import com.portraitmobile.demo.contract.ContractLoader
import com.portraitmobile.demo.contract.TileGrid
import kotlin.math.max
import kotlin.math.min

/** An RGB image: 3 bytes a pixel (R, G, B), row-major. */
class RgbImage(val pixels: ByteArray, val width: Int, val height: Int) {
    init {
        require(width > 0 && height > 0 && pixels.size == width * height * 3) {
            "a ${width}x$height RGB image has ${width * height * 3} bytes, got ${pixels.size}"
        }
    }

    companion object {
        /** From Android's ARGB_8888 pixel ints (Bitmap.getPixels), alpha dropped. */
        fun fromArgb(argb: IntArray, width: Int, height: Int): RgbImage {
            require(argb.size == width * height) { "expected ${width}x$height pixels, got ${argb.size}" }
            val out = ByteArray(argb.size * 3)
            for (i in argb.indices) {
                val px = argb[i]
                out[3 * i] = (px shr 16).toByte()
                out[3 * i + 1] = (px shr 8).toByte()
                out[3 * i + 2] = px.toByte()
            }
            return RgbImage(out, width, height)
        }
    }
}

/** The core origin of one tile in the working frame (its top-left pixel). */
data class TileOrigin(val y: Int, val x: Int)

/**
 * The refined probability at the working frame ([width] x [height], row-major, in [0, 1]) and the
 * tiles the refiner ran on.
 */
class BandResult(val prob: FloatArray, val width: Int, val height: Int, val tiles: List<TileOrigin>)

/**
 * Quality "accurate": the band logic of portrait_mobile/runtime/band.py, step for step (docs/refine.md).
 *
 * The frame is brought to the refiner's working frame (its contract's `tiles.work_long_side` on the
 * long side, never enlarged) and the coarse probability resized to it and stored as uint8; the
 * refiner's 4th channel is made from it (the probability itself, or it through the runtime's guided
 * filter there). The frame is cut into `core` x `core` tiles; only the tiles that channel's 0.5
 * contour crosses go to the refiner, each as uint8 R, G, B, channel with `margin` pixels of context;
 * its output (at 1/`out_stride`) is resized bilinearly to the tile and its core replaces the
 * probability there. Every other pixel keeps the 4th channel's value exactly. The last step of the
 * runtime, the resize back to the photo, is the effect renderer's bilinear draw (as for the coarse mask).
 */
object EdgeBand {
    private const val INV_255 = 1f / 255f

    /** (height, width) of the working frame: the long side brought to [longSide], never enlarged. */
    fun workSize(height: Int, width: Int, longSide: Int): Pair<Int, Int> {
        val scale = min(1.0, longSide.toDouble() / max(height, width))
        return max(1, Math.rint(height * scale).toInt()) to max(1, Math.rint(width * scale).toInt())
    }

    /** Probability in [0, 1] -> uint8 round(p * 255), the tiles' encoding. */
    fun toU8(prob: FloatArray): ByteArray = ByteArray(prob.size) {
        Math.rint((prob[it] * 255f).toDouble()).toInt().coerceIn(0, 255).toByte()
    }

    /** uint8 -> probability (value / 255), as the runtime reads a uint8 plane. */
    fun fromU8(u8: ByteArray): FloatArray = FloatArray(u8.size) { (u8[it].toInt() and 0xFF) * INV_255 }

    /**
     * `band.to_work`: the frame (INTER_AREA) and the coarse probability (any size, [pw] x [ph]:
     * INTER_AREA if it shrinks on an axis, else INTER_LINEAR) at the working frame, the latter as uint8.
     */
    fun toWork(image: RgbImage, prob: FloatArray, pw: Int, ph: Int, grid: TileGrid): Pair<RgbImage, ByteArray> {
        val (h, w) = workSize(image.height, image.width, grid.workLongSide)
        val img = if (image.width == w && image.height == h) {
            image
        } else {
            RgbImage(Resample.rgbArea(image.pixels, image.width, image.height, w, h), w, h)
        }
        val p = if (pw == w && ph == h) prob else Resample.plane(prob, pw, ph, w, h, area = ph > h || pw > w)
        return img to toU8(p)
    }

    /**
     * `band.with_channel`: the refiner's 4th channel at the working frame (uint8), from [toWork]'s two
     * arrays: the coarse probability itself, or it through the guided filter at the working frame.
     */
    fun withChannel(image: RgbImage, probU8: ByteArray, channel: String): ByteArray = when (channel) {
        ContractLoader.COARSE_PROBABILITY -> probU8

        ContractLoader.GUIDED_PROBABILITY ->
            toU8(GuidedFilter.refineEdges(image, fromU8(probU8), image.width, image.height))

        else -> throw IllegalArgumentException("unknown refiner input channel '$channel'")
    }

    /**
     * `band.contour`: pixels whose 3x3 neighbourhood holds both sides of 0.5 (128 as uint8). The
     * frame's border is no contour: outside it the edge pixels repeat.
     */
    fun contour(probU8: ByteArray, width: Int, height: Int): BooleanArray {
        val fg = BooleanArray(probU8.size) { (probU8[it].toInt() and 0xFF) >= 128 }
        val out = BooleanArray(probU8.size)
        for (y in 0 until height) {
            for (x in 0 until width) {
                val c = fg[y * width + x]
                var edge = false
                for (dy in -1..1) {
                    val yy = (y + dy).coerceIn(0, height - 1)
                    for (dx in -1..1) {
                        if (fg[yy * width + (x + dx).coerceIn(0, width - 1)] != c) edge = true
                    }
                }
                out[y * width + x] = edge
            }
        }
        return out
    }

    /**
     * `band.select_tiles`: the core origins of the tiles the contour crosses, row-major. The grid
     * starts at the frame's top-left corner; a core may reach past the bottom or right edge.
     */
    fun selectTiles(probU8: ByteArray, width: Int, height: Int, grid: TileGrid): List<TileOrigin> {
        val edge = contour(probU8, width, height)
        val c = grid.core
        val gh = (height + c - 1) / c
        val gw = (width + c - 1) / c
        val hit = BooleanArray(gh * gw)
        for (y in 0 until height) {
            for (x in 0 until width) {
                if (edge[y * width + x]) hit[(y / c) * gw + x / c] = true
            }
        }
        return hit.indices.filter { hit[it] }.map { TileOrigin((it / gw) * c, (it % gw) * c) }
    }

    /**
     * `band.gather_tiles` for one origin: uint8 T x T x 4 (R, G, B, 4th channel), the core plus
     * `margin` on every side; outside the frame the edge pixels repeat.
     */
    fun gatherTile(image: RgbImage, probU8: ByteArray, origin: TileOrigin, grid: TileGrid): ByteArray {
        val w = image.width
        val h = image.height
        require(probU8.size == w * h) { "image is ${w}x$h but the probability has ${probU8.size} values" }
        val t = grid.tile
        val out = ByteArray(t * t * 4)
        for (j in 0 until t) {
            val y = (origin.y - grid.margin + j).coerceIn(0, h - 1)
            for (i in 0 until t) {
                val p = y * w + (origin.x - grid.margin + i).coerceIn(0, w - 1)
                val o = (j * t + i) * 4
                out[o] = image.pixels[3 * p]
                out[o + 1] = image.pixels[3 * p + 1]
                out[o + 2] = image.pixels[3 * p + 2]
                out[o + 3] = probU8[p]
            }
        }
        return out
    }

    /**
     * `band.blend_tiles`, in place on [prob] (the working frame, [width] x [height]): each tile's core
     * replaced by the refiner's output for it (out_tile x out_tile), resized bilinearly to the whole
     * tile first (no seam at the core's edge); then every value clipped to [0, 1].
     */
    fun blendTiles(
        prob: FloatArray,
        width: Int,
        height: Int,
        outputs: List<FloatArray>,
        origins: List<TileOrigin>,
        grid: TileGrid,
    ) {
        require(outputs.size == origins.size) { "${outputs.size} outputs for ${origins.size} tiles" }
        val t = grid.tile
        val ot = grid.outTile
        val m = grid.margin
        val c = grid.core
        for ((o, origin) in outputs.zip(origins)) {
            require(o.size == ot * ot) { "the refiner returned ${o.size} values, expected ${ot}x$ot" }
            val up = if (grid.outStride == 1) o else Resample.plane(o, ot, ot, t, t, area = false)
            for (y in max(0, origin.y) until min(height, origin.y + c)) {
                for (x in max(0, origin.x) until min(width, origin.x + c)) {
                    prob[y * width + x] = up[(m + y - origin.y) * t + m + x - origin.x]
                }
            }
        }
        for (i in prob.indices) prob[i] = prob[i].coerceIn(0f, 1f)
    }

    /**
     * `band.refine_work`: the refined probability at the working frame, from [toWork]'s image and
     * the 4th channel; [runTile] maps a [gatherTile] tile to the refiner's out_tile x out_tile output.
     */
    fun refineWork(
        image: RgbImage,
        channelU8: ByteArray,
        grid: TileGrid,
        runTile: (ByteArray) -> FloatArray,
    ): BandResult {
        val origins = selectTiles(channelU8, image.width, image.height, grid)
        val refined = fromU8(channelU8)
        if (origins.isNotEmpty()) {
            val outputs = origins.map { runTile(gatherTile(image, channelU8, it, grid)) }
            blendTiles(refined, image.width, image.height, outputs, origins, grid)
        }
        return BandResult(refined, image.width, image.height, origins)
    }

    /**
     * The accurate level on one frame (`band.refine_band` up to the working frame): [coarse] is the
     * coarse model's probability at its own size ([pw] x [ph]); [channel] the refiner's 4th input.
     */
    fun refineBand(
        image: RgbImage,
        coarse: FloatArray,
        pw: Int,
        ph: Int,
        grid: TileGrid,
        channel: String,
        runTile: (ByteArray) -> FloatArray,
    ): BandResult {
        val (img, probU8) = toWork(image, coarse, pw, ph, grid)
        return refineWork(img, withChannel(img, probU8, channel), grid, runTile)
    }
}
