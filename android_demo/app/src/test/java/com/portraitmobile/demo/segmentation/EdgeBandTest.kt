package com.portraitmobile.demo.segmentation

import com.portraitmobile.demo.contract.ContractLoader
import com.portraitmobile.demo.contract.RefinerContract
import com.portraitmobile.demo.contract.TileGrid
import com.portraitmobile.demo.engine.TensorData
import kotlin.math.min
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/** The band logic on hand-made masks: which tiles are refined, what the others keep, what the blend writes. */
class EdgeBandTest {
    private val grid = TileGrid(core = 8, margin = 0, outStride = 1, workLongSide = 512)

    /** A w x h uint8 mask: 255 where [fg] holds, else 0. */
    private fun mask(w: Int, h: Int, fg: (y: Int, x: Int) -> Boolean) =
        ByteArray(w * h) { if (fg(it / w, it % w)) 255.toByte() else 0 }

    private fun image(w: Int, h: Int) = RgbImage(ByteArray(w * h * 3) { (it * 7).toByte() }, w, h)

    @Test
    fun aStraightEdgeSelectsTheTilesItCrossesAndNothingElse() {
        // 40 x 32, person on the left: the contour is columns 19 and 20, inside tile column 2 (x 16..23).
        val vertical = EdgeBand.selectTiles(mask(40, 32) { _, x -> x < 20 }, 40, 32, grid)
        assertEquals((0 until 4).map { TileOrigin(it * 8, 16) }, vertical)
        // On a tile border (columns 23 | 24) of the unshifted grid both neighbours hold contour pixels.
        val onBorder = EdgeBand.selectTiles(mask(40, 32) { _, x -> x < 24 }, 40, 32, grid, offset = 0 to 0)
        assertEquals((0 until 4).flatMap { listOf(TileOrigin(it * 8, 16), TileOrigin(it * 8, 24)) }, onBorder)
        // A horizontal edge: rows 11 and 12, tile row 1.
        val horizontal = EdgeBand.selectTiles(mask(40, 32) { y, _ -> y >= 12 }, 40, 32, grid)
        assertEquals((0 until 5).map { TileOrigin(8, it * 8) }, horizontal)
    }

    /**
     * `band.fewest_tiles_offset`: the grid is shifted (by multiples of [EdgeBand.offsetStep]) to cover the
     * contour with the fewest tiles, ties to the first offset in row-major order; a core may then start left
     * of (or above) the frame.
     */
    @Test
    fun theGridIsShiftedForTheFewestTiles() {
        // Columns 23 | 24 fall in one tile from a shift of one column on: the first such shift.
        val onBorder = EdgeBand.selectTiles(mask(40, 32) { _, x -> x < 24 }, 40, 32, grid)
        assertEquals((0 until 4).map { TileOrigin(it * 8, 23) }, onBorder)
        // Edges at columns 3 | 4 and 23 | 24: the same shift, and the first core column starts at x = -1.
        val band = mask(40, 32) { _, x -> x in 4 until 24 }
        assertEquals(0 to 1, EdgeBand.fewestTilesOffset(EdgeBand.contour(band, 40, 32), 40, 32, grid))
        val tiles = EdgeBand.selectTiles(band, 40, 32, grid)
        assertEquals((0 until 4).flatMap { listOf(TileOrigin(it * 8, -1), TileOrigin(it * 8, 23)) }, tiles)
        // Unfeathered, each core's part inside the frame is the refiner's output there.
        val ramp = FloatArray(64) { it / 100f }
        val r = EdgeBand.refineWork(image(40, 32), band, grid, feather = 0) { ramp }
        assertEquals(tiles, r.tiles)
        for (y in 0 until 32) {
            for (x in 0 until 7) assertEquals("($y, $x)", ramp[(y % 8) * 8 + x + 1], r.prob[y * 40 + x], 0f)
            for (x in 23 until 31) assertEquals("($y, $x)", ramp[(y % 8) * 8 + x - 23], r.prob[y * 40 + x], 0f)
        }
        // The step: the largest divisor of the core that is at most core / OFFSET_STEPS (8), at least 1.
        val steps = listOf(7, 8, 12, 20, 30, 40, 48, 64).map { EdgeBand.offsetStep(TileGrid(it, 0, 1, 512)) }
        assertEquals(listOf(1, 1, 1, 2, 3, 5, 6, 8), steps)
    }

    @Test
    fun theFramesBorderIsNoContour() {
        assertEquals(emptyList<TileOrigin>(), EdgeBand.selectTiles(mask(40, 32) { _, _ -> true }, 40, 32, grid))
        assertEquals(emptyList<TileOrigin>(), EdgeBand.selectTiles(mask(40, 32) { _, _ -> false }, 40, 32, grid))
        // A frame not a multiple of the core: the last tiles reach past it.
        val ragged = EdgeBand.selectTiles(mask(21, 13) { _, x -> x < 18 }, 21, 13, grid)
        assertEquals(listOf(TileOrigin(0, 16), TileOrigin(8, 16)), ragged)
    }

    @Test
    fun aTileTheContourDoesNotCrossKeepsTheCoarseProbabilityExactly() {
        val w = 40
        val h = 32
        // Soft values everywhere (below 0.5 on the right, above on the left), one vertical contour.
        val prob = ByteArray(w * h) { i ->
            val x = i % w
            val y = i / w
            (if (x < 20) 200 + (x + y) % 40 else 20 + (3 * x + y) % 90).toByte()
        }
        val result = EdgeBand.refineWork(image(w, h), prob, grid) { FloatArray(grid.outTile * grid.outTile) { 0.5f } }
        assertEquals((0 until 4).map { TileOrigin(it * 8, 16) }, result.tiles)
        for (y in 0 until h) {
            for (x in 0 until w) {
                if (x in 16 until 24) continue
                assertEquals("($y, $x)", (prob[y * w + x].toInt() and 0xFF) * (1f / 255f), result.prob[y * w + x], 0f)
            }
        }
    }

    /** Unfeathered (feather 0), the blend writes the refiner's output itself over each selected core. */
    @Test
    fun theBlendWritesTheRefinersOutputWhereSelected() {
        val w = 40
        val h = 32
        val ramp = FloatArray(64) { it / 100f }
        val result = EdgeBand.refineWork(image(w, h), mask(w, h) { _, x -> x < 20 }, grid, feather = 0) { ramp }
        for (y in 0 until h) {
            for (x in 16 until 24) assertEquals("($y, $x)", ramp[(y % 8) * 8 + x - 16], result.prob[y * w + x], 0f)
        }
        // With a margin, the core is the middle of the (upsampled) output; cores past the frame are cut.
        val margined = TileGrid(core = 8, margin = 2, outStride = 1, workLongSide = 512)
        val wide = FloatArray(144) { it / 200f }
        val r2 = EdgeBand.refineWork(image(21, 13), mask(21, 13) { _, x -> x < 18 }, margined, feather = 0) { wide }
        for (y in 0 until 13) {
            for (x in 16 until 21) {
                assertEquals("($y, $x)", wide[(2 + y % 8) * 12 + 2 + x - 16], r2.prob[y * 21 + x], 0f)
            }
        }
    }

    @Test
    fun aHalfResolutionOutputIsResizedToTheTileAndClipped() {
        val half = TileGrid(core = 8, margin = 0, outStride = 2, workLongSide = 512)
        val r = EdgeBand.refineWork(image(40, 32), mask(40, 32) { _, x -> x < 20 }, half, feather = 0) {
            FloatArray(16) { 1.5f }
        }
        for (y in 0 until 32) for (x in 16 until 24) assertEquals(1f, r.prob[y * 40 + x], 0f)
        val quarter = EdgeBand.refineWork(
            image(40, 32),
            mask(40, 32) { _, x ->
                x < 20
            },
            half,
            feather = 0,
        ) { FloatArray(16) { 0.25f } }
        for (y in 0 until 32) for (x in 16 until 24) assertEquals(0.25f, quarter.prob[y * 40 + x], 1e-6f)
    }

    /**
     * The hand-over at the refined region's edge (`band.feather_weight`, [EdgeBand.FEATHER] = 4): 1/5, 2/5,
     * .. 1 with the chessboard distance from the nearest unrefined pixel; the frame's border is no edge,
     * and neither is the seam between two refined cores.
     */
    @Test
    fun theRefinedRegionHandsOverToTheMaskAroundIt() {
        assertEquals(4, EdgeBand.FEATHER)
        val w = 40
        val h = 32
        val big = TileGrid(core = 16, margin = 0, outStride = 1, workLongSide = 512)
        // Two adjacent cores (columns 8..39, rows 0..15): they meet the top and right borders, and each other
        // at columns 23 | 24; the region's edges are column 8 (on the left) and row 15 (below).
        val weight = EdgeBand.featherWeight(listOf(TileOrigin(0, 8), TileOrigin(0, 24)), big, w, h)
        fun want(y: Int, x: Int): Float {
            if (y >= 16 || x < 8) return 0f
            val d = min(x - 8 + 1, 16 - y) // chessboard distance to the nearest unrefined pixel
            return min(d, 5) * (1f / 5f)
        }
        for (y in 0 until h) {
            for (x in 0 until w) assertEquals("($y, $x)", want(y, x), weight[y * w + x], 1e-7f)
        }
        // The ramp across the left edge, 1/5 on the region's edge pixel, 1 from 5 pixels in.
        assertArrayEquals(
            floatArrayOf(0f, 0.2f, 0.4f, 0.6f, 0.8f, 1f, 1f),
            weight.copyOfRange(4 * w + 7, 4 * w + 14),
            1e-7f,
        )
        // No ramp at the frame's top and right borders, none at the seam between the two cores.
        for (x in 12 until w) assertEquals("top ($x)", 1f, weight[x], 0f)
        for (y in 0 until 11) assertEquals("right ($y)", 1f, weight[y * w + w - 1], 0f)
        for (y in 0 until 11) for (x in 20 until 28) assertEquals("seam ($y, $x)", 1f, weight[y * w + x], 0f)
        // Feather 0: the region itself.
        val hard = EdgeBand.featherWeight(listOf(TileOrigin(0, 8), TileOrigin(0, 24)), big, w, h, feather = 0)
        for (i in hard.indices) assertEquals(if (i / w < 16 && i % w >= 8) 1f else 0f, hard[i], 0f)
    }

    /** The blend hands over to the coarse probability with those weights: p + w (refined - p), then clipped. */
    @Test
    fun theBlendIsFeatheredAtTheRegionsEdge() {
        val w = 40
        val h = 32
        val prob = mask(w, h) { _, x -> x < 20 }
        val r = EdgeBand.refineWork(image(w, h), prob, grid) { FloatArray(64) { 0.5f } }
        // Column 16..23 (one column of tiles, full height): 1, 2, 3, 4, 4, 3, 2, 1 fifths of the refined value.
        val fifths = intArrayOf(1, 2, 3, 4, 4, 3, 2, 1)
        for (y in 0 until h) {
            for (x in 0 until w) {
                val p = if (x < 20) 1f else 0f
                val f = if (x in 16 until 24) fifths[x - 16] * (1f / 5f) else 0f
                assertEquals("($y, $x)", p + f * (0.5f - p), r.prob[y * w + x], 1e-6f)
            }
        }
    }

    @Test
    fun aTileIsItsPixelsAndChannelWithTheEdgesRepeated() {
        val margined = TileGrid(core = 4, margin = 2, outStride = 2, workLongSide = 512)
        val img = image(6, 5)
        val prob = ByteArray(30) { (it * 3).toByte() }
        val t = margined.tile
        // Past the right edge, and (a shifted grid's core) above and left of the frame.
        for (origin in listOf(TileOrigin(0, 4), TileOrigin(-3, -2))) {
            val tile = EdgeBand.gatherTile(img, prob, origin, margined)
            for (j in 0 until t) {
                for (i in 0 until t) {
                    val p = (origin.y - 2 + j).coerceIn(0, 4) * 6 + (origin.x - 2 + i).coerceIn(0, 5)
                    val o = (j * t + i) * 4
                    assertArrayEquals(
                        "$origin ($j, $i)",
                        byteArrayOf(img.pixels[3 * p], img.pixels[3 * p + 1], img.pixels[3 * p + 2], prob[p]),
                        tile.copyOfRange(o, o + 4),
                    )
                }
            }
        }
    }

    @Test
    fun theWorkingFrameIsNeverEnlarged() {
        assertEquals(384 to 512, EdgeBand.workSize(480, 640, 512))
        assertEquals(512 to 384, EdgeBand.workSize(640, 480, 512))
        assertEquals(100 to 50, EdgeBand.workSize(100, 50, 512))
        // Round half to even, as Python's round(): 0.5 * 5 = 2.5 -> 2.
        assertEquals(2 to 512, EdgeBand.workSize(5, 1024, 512))
    }

    @Test
    fun theCoarseChannelIsTheProbabilityItself() {
        val prob = ByteArray(12) { (it * 20).toByte() }
        assertTrue(prob === EdgeBand.withChannel(image(4, 3), prob, ContractLoader.COARSE_PROBABILITY))
        assertEquals(
            listOf(0, 128, 255),
            EdgeBand.toU8(floatArrayOf(0f, 0.5f, 1.2f)).map { it.toInt() and 0xFF },
        )
    }

    @Test
    fun anInt8RefinerTakesTheTileMinus128AndAnNchwOneItsPlanes() {
        val c = ContractLoader.parse(RefinerContract.json)
        val tile = ByteArray(40 * 40 * 4) { (it % 251).toByte() }
        val enc = TileEncoder(c)
        val out = enc.newTensor() as TensorData.Bytes
        enc.encode(tile, out)
        for (i in tile.indices) assertEquals(((tile[i].toInt() and 0xFF) - 128).toByte(), out.values[i])
        val nchw = TileEncoder(c.copy(inputLayout = "NCHW", inputDtype = "float32", inputQuant = null))
        val f = nchw.newTensor() as TensorData.Floats
        nchw.encode(tile, f)
        assertEquals((tile[4 * 7 + 3].toInt() and 0xFF) * (1f / 255f), f.values[3 * 1600 + 7], 0f)
    }

    @Test
    fun oneByOneTilesAndOnePixelFramesRun() {
        // The smallest grids a contract may give, on frames one pixel wide or tall: every value in [0, 1].
        for (g in listOf(TileGrid(1, 0, 1, 512), TileGrid(2, 0, 2, 512), TileGrid(2, 2, 1, 512))) {
            for ((w, h) in listOf(1 to 1, 1 to 700, 700 to 1, 2 to 3)) {
                val coarse = FloatArray(w * h) { if (it % 2 == 0) 1f else 0f }
                for (snap in listOf(null, EdgeBand.ACCURATE_SNAP)) {
                    val band = EdgeBand.refineBand(
                        image(w, h),
                        coarse,
                        w,
                        h,
                        g,
                        ContractLoader.GUIDED_PROBABILITY,
                        snap,
                    ) {
                        FloatArray(g.outTile * g.outTile) { 0.6f }
                    }
                    assertEquals("$g ${w}x$h", band.width * band.height, band.prob.size)
                    assertTrue("$g ${w}x$h", band.prob.all { it in 0f..1f })
                }
            }
        }
    }
}
