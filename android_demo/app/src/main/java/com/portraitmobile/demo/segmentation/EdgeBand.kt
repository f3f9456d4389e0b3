package com.portraitmobile.demo.segmentation

import com.portraitmobile.demo.contract.ContractLoader
import com.portraitmobile.demo.contract.TileGrid
import kotlin.math.ceil
import kotlin.math.floor
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

/** A tile's core at the photo's size: rows [y0] until [y1], columns [x0] until [x1]. */
data class TileRect(val y0: Int, val y1: Int, val x0: Int, val x1: Int)

/**
 * How the accurate level snaps the refined tiles to the photo's own edges (`band.Snap`): the guided
 * filter ([GuidedFilter.refineEdgesIn]) inside the tiles, at the photo's size divided by the least
 * whole factor that brings its long side to at most [longSide] ([EdgeBand.shrinkBy]), with a radius
 * of [radius] x that long side and its coefficients on a grid radius / [subsample] coarser.
 */
data class Snap(val radius: Double = 0.01, val longSide: Int = 1024, val subsample: Int = 2)

/**
 * The refined probability ([width] x [height], row-major, in [0, 1]) and the tiles the refiner ran on.
 * Unsnapped it is at the working frame ([workWidth] x [workHeight]); snapped, at the photo's size, the
 * snap having run at [snapWidth] x [snapHeight] (the photo shrunk by a whole factor; 0 x 0: no snap).
 */
class BandResult(
    val prob: FloatArray,
    val width: Int,
    val height: Int,
    val tiles: List<TileOrigin>,
    val workWidth: Int = width,
    val workHeight: Int = height,
    val snapWidth: Int = 0,
    val snapHeight: Int = 0,
)

/**
 * Quality "accurate": the band logic of portrait_mobile/runtime/band.py, step for step (docs/refine.md).
 *
 * The frame is brought to the refiner's working frame (its contract's `tiles.work_long_side` on the
 * long side, never enlarged) and the coarse probability resized to it and stored as uint8; the
 * refiner's 4th channel is made from it (the probability itself, or it through the runtime's guided
 * filter there). The frame is cut into `core` x `core` tiles, the grid shifted per frame so that as few
 * tiles as possible cover that channel's 0.5 contour ([OFFSET_STEPS]); only the tiles the contour crosses
 * go to the refiner, each as uint8 R, G, B, channel with `margin` pixels of context;
 * its output (at 1/`out_stride`) is resized bilinearly to the tile and its core replaces the
 * probability there, handed over to the probability around the refined region over [FEATHER]
 * working-frame pixels ([featherWeight]). Every other pixel keeps the 4th channel's value exactly. With
 * a [Snap] (the accurate level's, [ACCURATE_SNAP]) the refined tiles are then snapped to the photo's own
 * edges: the guided filter inside those tiles only, at the photo's size (shrunk by a whole factor past
 * [Snap.longSide], then grown back), handed over the same way, the rest the working frame resized
 * bilinearly. Unsnapped, the runtime's last step, the resize back to the photo, is the effect
 * renderer's bilinear draw.
 */
object EdgeBand {
    private const val INV_255 = 1f / 255f

    /** `band.ACCURATE_SNAP`: what quality accurate snaps with ([EdgeRefiner.refine]). */
    val ACCURATE_SNAP = Snap()

    /**
     * `band.FEATHER`: working-frame pixels over which a refined region hands over to the mask around it
     * (without it the refiner's tiles, and the snap inside them, end in a hard step at the region's edge).
     */
    const val FEATHER = 4

    /**
     * `band.OFFSET_STEPS` (portrait_mobile/runtime/band.py says why): the grid's origin is chosen per frame
     * among offsets of core / OFFSET_STEPS pixels, whichever covers the contour with the fewest tiles.
     */
    const val OFFSET_STEPS = 8

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
     * `band.select_tiles`: the core origins of the tiles the contour crosses, row-major. The grid starts
     * at -[offset] (y to x, each in [0, core)) and covers the frame, so a core may reach past any of its
     * edges (an origin may be negative). [offset] null, as the runtime runs: [fewestTilesOffset]'s, so
     * the frame pays for as few tiles as cover its contour.
     */
    fun selectTiles(
        probU8: ByteArray,
        width: Int,
        height: Int,
        grid: TileGrid,
        offset: Pair<Int, Int>? = null,
    ): List<TileOrigin> {
        val edge = contour(probU8, width, height)
        val c = grid.core
        val (oy, ox) = offset ?: fewestTilesOffset(edge, width, height, grid)
        require(oy in 0 until c && ox in 0 until c) { "offset ($oy, $ox) must be within [0, $c)" }
        val gh = (height + oy + c - 1) / c
        val gw = (width + ox + c - 1) / c
        val hit = BooleanArray(gh * gw)
        for (y in 0 until height) {
            for (x in 0 until width) {
                if (edge[y * width + x]) hit[((y + oy) / c) * gw + (x + ox) / c] = true
            }
        }
        return hit.indices.filter { hit[it] }.map { TileOrigin((it / gw) * c - oy, (it % gw) * c - ox) }
    }

    /**
     * `band.offset_step`: the step of the offsets [fewestTilesOffset] tries, the largest divisor of the
     * core that is at most core / [OFFSET_STEPS] (at least 1).
     */
    fun offsetStep(grid: TileGrid): Int {
        val c = grid.core
        return (max(1, c / OFFSET_STEPS) downTo 1).first { c % it == 0 }
    }

    /**
     * `band.fewest_tiles_offset`: the grid offset (y to x), both multiples of [offsetStep], whose tiles cover
     * the contour [edge] ([width] x [height]) with the fewest tiles; ties go to the first in row-major order,
     * (0, 0) first. Counted on step x step blocks of the contour (a block is crossed when any of its pixels
     * is): a pixel's tile at such an offset is its block's, so the count is [selectTiles]' exactly.
     */
    fun fewestTilesOffset(edge: BooleanArray, width: Int, height: Int, grid: TileGrid): Pair<Int, Int> {
        val s = offsetStep(grid)
        val k = grid.core / s
        val hb = (height + s - 1) / s
        val wb = (width + s - 1) / s
        val blocks = BooleanArray(hb * wb)
        for (y in 0 until height) {
            for (x in 0 until width) {
                if (edge[y * width + x]) blocks[(y / s) * wb + x / s] = true
            }
        }
        val crossed = blocks.indices.filter { blocks[it] }
        var best = 0 to 0
        var fewest = Int.MAX_VALUE
        for (a in 0 until k) {
            for (b in 0 until k) {
                val gw = (wb + b + k - 1) / k
                val hit = BooleanArray(((hb + a + k - 1) / k) * gw)
                var n = 0
                for (i in crossed) {
                    val t = ((i / wb + a) / k) * gw + (i % wb + b) / k
                    if (!hit[t]) {
                        hit[t] = true
                        n++
                    }
                }
                if (n < fewest) {
                    best = a * s to b * s
                    fewest = n
                }
            }
        }
        return best
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
     * `band.feather_weight`: how much of the refined value each pixel of the working frame ([width] x
     * [height], row-major) takes. 0 outside the union of the tiles' cores; inside it 1 / ([feather] + 1)
     * per pixel of chessboard distance from the nearest unrefined pixel, up to 1 from [feather] + 1 pixels
     * in. The frame's border is no edge (outside it the edge pixels repeat, as `cv2.erode` with
     * BORDER_REPLICATE): a tile that meets it keeps its refined values there. [feather] 0: the region
     * itself, a hard edge. Computed as the runtime does: the region plus [feather] 3x3 erosions of it,
     * summed, times float32(1 / ([feather] + 1)).
     */
    fun featherWeight(
        origins: List<TileOrigin>,
        grid: TileGrid,
        width: Int,
        height: Int,
        feather: Int = FEATHER,
    ): FloatArray {
        require(feather >= 0) { "feather width must be >= 0, got $feather" }
        val c = grid.core
        var inner = BooleanArray(width * height)
        for (o in origins) { // each core clipped to the frame (its origin may be negative)
            for (y in max(0, o.y) until min(height, o.y + c)) {
                for (x in max(0, o.x) until min(width, o.x + c)) inner[y * width + x] = true
            }
        }
        val count = FloatArray(width * height) { if (inner[it]) 1f else 0f }
        val rows = BooleanArray(width * height)
        repeat(feather) {
            // A 3x3 erosion, BORDER_REPLICATE: the minimum across (x - 1..x + 1), then down (y - 1..y + 1).
            for (y in 0 until height) {
                val o = y * width
                for (x in 0 until width) {
                    rows[o + x] = inner[o + max(0, x - 1)] && inner[o + x] && inner[o + min(width - 1, x + 1)]
                }
            }
            val eroded = BooleanArray(width * height)
            for (y in 0 until height) {
                val up = max(0, y - 1) * width
                val down = min(height - 1, y + 1) * width
                for (x in 0 until width) {
                    val i = y * width + x
                    eroded[i] = rows[up + x] && rows[i] && rows[down + x]
                    if (eroded[i]) count[i] += 1f
                }
            }
            inner = eroded
        }
        val scale = (1.0 / (feather + 1)).toFloat()
        for (i in count.indices) count[i] *= scale
        return count
    }

    /**
     * `band.blend_tiles`, in place on [prob] (the working frame, [width] x [height]): each tile's core
     * replaced by the refiner's output for it (out_tile x out_tile), resized bilinearly to the whole
     * tile first (no seam at the core's edge), handed over to the [prob] it replaces over [feather]
     * pixels at the refined region's edge (p + w (refined - p), w = [featherWeight]); then every value
     * clipped to [0, 1].
     */
    fun blendTiles(
        prob: FloatArray,
        width: Int,
        height: Int,
        outputs: List<FloatArray>,
        origins: List<TileOrigin>,
        grid: TileGrid,
        feather: Int = FEATHER,
    ) {
        require(outputs.size == origins.size) { "${outputs.size} outputs for ${origins.size} tiles" }
        val base = if (feather > 0) prob.copyOf() else null
        val t = grid.tile
        val ot = grid.outTile
        val m = grid.margin
        val c = grid.core
        for ((o, origin) in outputs.zip(origins)) {
            require(o.size == ot * ot) { "the refiner returned ${o.size} values, expected ${ot}x$ot" }
            val up = if (grid.outStride == 1) o else Resample.plane(o, ot, ot, t, t, area = false)
            // A core may start above or left of the frame, or end past it: only its part inside is written.
            for (y in max(0, origin.y) until min(height, origin.y + c)) {
                for (x in max(0, origin.x) until min(width, origin.x + c)) {
                    prob[y * width + x] = up[(m + y - origin.y) * t + m + x - origin.x]
                }
            }
        }
        if (base != null) {
            val weight = featherWeight(origins, grid, width, height, feather)
            // The runtime's order, each step rounded to float32: out -= base; out *= weight; out += base.
            for (i in prob.indices) prob[i] = (prob[i] - base[i]) * weight[i] + base[i]
        }
        for (i in prob.indices) prob[i] = prob[i].coerceIn(0f, 1f)
    }

    /**
     * `band.refine_work`: the refined probability at the working frame, from [toWork]'s image and
     * the 4th channel; [runTile] maps a [gatherTile] tile to the refiner's out_tile x out_tile output;
     * [feather]: the hand-over's width at the refined region's edge ([blendTiles]).
     */
    fun refineWork(
        image: RgbImage,
        channelU8: ByteArray,
        grid: TileGrid,
        feather: Int = FEATHER,
        runTile: (ByteArray) -> FloatArray,
    ): BandResult {
        val origins = selectTiles(channelU8, image.width, image.height, grid)
        val refined = fromU8(channelU8)
        if (origins.isNotEmpty()) {
            val outputs = origins.map { runTile(gatherTile(image, channelU8, it, grid)) }
            blendTiles(refined, image.width, image.height, outputs, origins, grid, feather)
        }
        return BandResult(refined, image.width, image.height, origins)
    }

    /**
     * `band.photo_rects`: the tiles' cores at the photo's size ([photoWidth] x [photoHeight]) from the
     * working frame's ([workWidth] x [workHeight]), each widened to whole pixels (floor of the start,
     * ceil of the end: neighbouring cores share their edge row or column), clipped to the photo.
     */
    fun photoRects(
        origins: List<TileOrigin>,
        grid: TileGrid,
        workWidth: Int,
        workHeight: Int,
        photoWidth: Int,
        photoHeight: Int,
    ): List<TileRect> {
        val sy = photoHeight.toDouble() / workHeight
        val sx = photoWidth.toDouble() / workWidth
        val c = grid.core
        return origins.map { o ->
            TileRect(
                floor(o.y * sy).toInt().coerceIn(0, photoHeight),
                ceil((o.y + c) * sy).toInt().coerceIn(0, photoHeight),
                floor(o.x * sx).toInt().coerceIn(0, photoWidth),
                ceil((o.x + c) * sx).toInt().coerceIn(0, photoWidth),
            )
        }
    }

    /**
     * `band.shrink_by`: the photo averaged over [k] x [k] blocks (INTER_AREA by a whole factor); the
     * last rows and columns that do not fill a block are dropped.
     */
    fun shrinkBy(image: RgbImage, k: Int): RgbImage {
        if (k == 1) return image
        val w = image.width / k
        val h = image.height / k
        val cw = w * k
        val ch = h * k
        val crop = if (cw == image.width) {
            image.pixels.copyOf(cw * ch * 3)
        } else {
            ByteArray(cw * ch * 3).also { out ->
                for (y in 0 until ch) System.arraycopy(image.pixels, y * image.width * 3, out, y * cw * 3, cw * 3)
            }
        }
        return RgbImage(Resample.rgbArea(crop, cw, ch, w, h), w, h)
    }

    /**
     * `band.grow_by`, [shrinkBy]'s inverse for a mask ([pw] x [ph]): bilinear by exactly [k] (pixels stay
     * aligned with the photo's), then the dropped rows and columns repeat the edge, to [width] x [height].
     */
    fun growBy(prob: FloatArray, pw: Int, ph: Int, k: Int, width: Int, height: Int): FloatArray {
        val uw = pw * k
        val uh = ph * k
        val up = Resample.plane(prob, pw, ph, uw, uh, area = false)
        return FloatArray(width * height) { up[min(it / width, uh - 1) * uw + min(it % width, uw - 1)] }
    }

    /**
     * The accurate level on one frame, `band.refine_band`: [coarse] is the coarse model's probability at
     * its own size ([pw] x [ph]); [channel] the refiner's 4th input. Without [snap] (or without tiles)
     * the result is at the working frame, the renderer's draw its resize to the photo; with it, at the
     * photo's size ([snapBand]). [feather]: the hand-over's width at the refined region's edge, for the
     * refiner's tiles and the snap alike ([featherWeight]).
     */
    fun refineBand(
        image: RgbImage,
        coarse: FloatArray,
        pw: Int,
        ph: Int,
        grid: TileGrid,
        channel: String,
        snap: Snap? = null,
        feather: Int = FEATHER,
        runTile: (ByteArray) -> FloatArray,
    ): BandResult {
        val (img, probU8) = toWork(image, coarse, pw, ph, grid)
        val band = refineWork(img, withChannel(img, probU8, channel), grid, feather, runTile)
        return if (snap == null || band.tiles.isEmpty()) band else snapBand(image, band, grid, snap, feather)
    }

    /**
     * `band.refine_band`'s snap of [band] (the working frame's result) to [image]'s own edges: the photo
     * shrunk by k, the least whole factor that brings its long side to at most [Snap.longSide]; the
     * guided filter inside the refined tiles' rects there (radius [Snap.radius] x its long side), handed
     * over to the working frame's values over [feather] working-frame pixels at the refined region's edge
     * ([featherWeight], resized bilinearly), the working frame resized bilinearly elsewhere; grown back by
     * k to the photo's size.
     */
    fun snapBand(image: RgbImage, band: BandResult, grid: TileGrid, snap: Snap, feather: Int = FEATHER): BandResult {
        val w = image.width
        val h = image.height
        val k = max(1, min((max(h, w) + snap.longSide - 1) / snap.longSide, min(h, w)))
        val frame = shrinkBy(image, k)
        val rects = photoRects(band.tiles, grid, band.width, band.height, frame.width, frame.height)
        val radius = max(1, Math.rint(snap.radius * max(frame.width, frame.height)).toInt())
        val weight = if (feather > 0) featherWeight(band.tiles, grid, band.width, band.height, feather) else null
        val q = GuidedFilter.refineEdgesIn(
            frame,
            band.prob,
            band.width,
            band.height,
            rects,
            radius,
            subsample = snap.subsample,
            weight = weight,
        )
        val prob = if (k > 1) growBy(q, frame.width, frame.height, k, w, h) else q
        return BandResult(prob, w, h, band.tiles, band.width, band.height, frame.width, frame.height)
    }
}
