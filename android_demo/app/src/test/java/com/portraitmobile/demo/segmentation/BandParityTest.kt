package com.portraitmobile.demo.segmentation

import com.portraitmobile.demo.contract.ContractLoader
import com.portraitmobile.demo.contract.TileGrid
import kotlin.math.abs
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/**
 * The Kotlin band logic reproduces the Python runtime's (portrait_mobile/runtime/band.py) on the
 * small hand-made frame of tests/demos/band_golden.py, whose outputs [BandGolden] holds: each step is
 * fed the Python values of the step before, so a difference points at one step.
 */
class BandParityTest {
    private val g = BandGolden
    private val grid = TileGrid(g.CORE, g.MARGIN, g.OUT_STRIDE, g.WORK_LONG_SIDE)
    private val frame = RgbImage(bytes(g.FRAME_RGB), g.FRAME_WIDTH, g.FRAME_HEIGHT)
    private val workRgb = RgbImage(bytes(g.WORK_RGB), g.WORK_WIDTH, g.WORK_HEIGHT)
    private val channel = bytes(g.CHANNEL)

    @Test
    fun theWorkingFrameIsTheRuntimes() {
        assertEquals(g.WORK_HEIGHT to g.WORK_WIDTH, EdgeBand.workSize(g.FRAME_HEIGHT, g.FRAME_WIDTH, g.WORK_LONG_SIDE))
        val (img, prob) = EdgeBand.toWork(frame, floats(g.COARSE), g.COARSE_SIZE, g.COARSE_SIZE, grid)
        assertEquals(g.WORK_WIDTH, img.width)
        assertEquals(g.WORK_HEIGHT, img.height)
        assertClose("the frame through INTER_AREA", bytes(g.WORK_RGB), img.pixels)
        assertClose("the coarse probability through INTER_LINEAR, as uint8", bytes(g.WORK_PROB), prob)
    }

    @Test
    fun theGuidedChannelIsTheRuntimes() {
        val mine = EdgeBand.withChannel(workRgb, bytes(g.WORK_PROB), ContractLoader.GUIDED_PROBABILITY)
        assertClose("the guided filter at the working frame", channel, mine)
    }

    /**
     * Equal on the x86 OpenCV wheels the fixture was made with; a level at most, at 1% of the values,
     * allowed for another OpenCV build's order of float operations.
     */
    private fun assertClose(what: String, want: ByteArray, got: ByteArray) {
        assertEquals(what, want.size, got.size)
        val diffs = want.indices.map { abs((want[it].toInt() and 0xFF) - (got[it].toInt() and 0xFF)) }
        assertTrue("$what: max diff ${diffs.max()}", diffs.max() <= 1)
        assertTrue(
            "$what: ${diffs.count { it > 0 }} of ${diffs.size} differ",
            diffs.count { it > 0 } <= diffs.size / 100,
        )
    }

    /**
     * The grid shifted for the fewest tiles (`band.fewest_tiles_offset`), not (0, 0) on this frame, so cores
     * start above and left of it (negative origins): gathered with the edge repeated, blended and handed over
     * clipped to the frame.
     */
    @Test
    fun theTilesAndTheBlendAreTheRuntimes() {
        assertEquals(g.OFFSET_STEPS, EdgeBand.OFFSET_STEPS)
        val edge = EdgeBand.contour(channel, g.WORK_WIDTH, g.WORK_HEIGHT)
        assertEquals(g.OFFSET_Y to g.OFFSET_X, EdgeBand.fewestTilesOffset(edge, g.WORK_WIDTH, g.WORK_HEIGHT, grid))
        val origins = EdgeBand.selectTiles(channel, g.WORK_WIDTH, g.WORK_HEIGHT, grid)
        assertEquals(g.ORIGINS, origins.joinToString(" ") { "${it.y} ${it.x}" })
        assertTrue(origins.any { it.y < 0 } && origins.any { it.x < 0 })
        val refined = EdgeBand.refineWork(workRgb, channel, grid) { standIn(it, grid) }
        assertEquals(origins, refined.tiles)
        val want = floats(g.REFINED)
        for (i in want.indices) assertEquals("pixel $i", want[i], refined.prob[i], 1e-6f)
    }

    /**
     * The hand-over at the refined region's edge (`band.feather_weight`, band.FEATHER pixels) on the golden
     * tiles, some of which meet the frame's top, left and bottom borders (no ramp there; the first two start
     * past them): value for value.
     */
    @Test
    fun theFeatherWeightIsTheRuntimes() {
        val origins = g.ORIGINS.split(" ").map(String::toInt).chunked(2).map { (y, x) -> TileOrigin(y, x) }
        val want = floats(g.FEATHER_WEIGHT)
        val got = EdgeBand.featherWeight(origins, grid, g.WORK_WIDTH, g.WORK_HEIGHT)
        assertEquals(want.size, got.size)
        for (i in want.indices) assertEquals("pixel $i", want[i], got[i], 0f)
    }

    @Test
    fun endToEndTheKotlinBandIsTheRuntimes() {
        assertMeanClose("the band", floats(g.REFINED), endToEnd(null).prob)
    }

    /** The whole band (and the snap, if given) from the frame and the coarse mask, with the stand-in refiner. */
    private fun endToEnd(snap: Snap?): BandResult = EdgeBand.refineBand(
        frame,
        floats(g.COARSE),
        g.COARSE_SIZE,
        g.COARSE_SIZE,
        grid,
        ContractLoader.GUIDED_PROBABILITY,
        snap,
    ) { standIn(it, grid) }

    /** End to end the float order differs from numpy's: the mean, not each value, is held to 1e-3. */
    private fun assertMeanClose(what: String, want: FloatArray, got: FloatArray) {
        val meanDiff = want.indices.sumOf { abs(want[it] - got[it]).toDouble() } / want.size
        assertTrue("$what: mean abs diff $meanDiff", meanDiff < 1e-3)
    }

    /**
     * The snap (`band.refine_band` with a `Snap`), fed Python's refined working frame and tiles: the
     * photo shrunk by 2 (k > 1, its last row dropped and grown back) or at its own size (k == 1), the
     * tiles' rects there, the guided filter inside them, the working frame resized bilinearly elsewhere.
     */
    @Test
    fun theSnapIsTheRuntimes() {
        val origins = g.ORIGINS.split(" ").map(String::toInt).chunked(2).map { (y, x) -> TileOrigin(y, x) }
        val band = BandResult(floats(g.REFINED), g.WORK_WIDTH, g.WORK_HEIGHT, origins)
        // (snap, Python's output, the size it ran at: 60x45 shrunk by 2, its last row dropped; the frame itself)
        val cases = listOf(
            Triple(g.SNAP_SHRUNK, g.SNAPPED_SHRUNK, 30 to 22),
            Triple(g.SNAP_FULL, g.SNAPPED_FULL, 60 to 45),
        )
        for ((snap, want, at) in cases) {
            val r = EdgeBand.snapBand(frame, band, grid, snap)
            assertEquals(g.FRAME_WIDTH to g.FRAME_HEIGHT, r.width to r.height)
            assertEquals(at, r.snapWidth to r.snapHeight)
            assertEquals(g.WORK_WIDTH to g.WORK_HEIGHT, r.workWidth to r.workHeight)
            val py = floats(want)
            for (i in py.indices) assertEquals("$snap pixel $i", py[i], r.prob[i], 1e-6f)
        }
    }

    @Test
    fun endToEndTheKotlinSnapIsTheRuntimes() {
        for ((snap, want) in listOf(g.SNAP_SHRUNK to g.SNAPPED_SHRUNK, g.SNAP_FULL to g.SNAPPED_FULL)) {
            val r = endToEnd(snap)
            val py = floats(want)
            assertEquals(py.size, r.prob.size)
            assertMeanClose("$snap", py, r.prob)
        }
    }

    companion object {
        /** tests/demos/band_golden.py's stand_in: the 4th channel and red, each averaged over 2x2. */
        fun standIn(tile: ByteArray, grid: TileGrid): FloatArray {
            val t = grid.tile
            val s = grid.outTile
            fun at(y: Int, x: Int, c: Int) = (tile[(y * t + x) * 4 + c].toInt() and 0xFF).toFloat()
            fun pool(y: Int, x: Int, c: Int) = (
                (at(2 * y, 2 * x, c) + at(2 * y, 2 * x + 1, c)) +
                    (at(2 * y + 1, 2 * x, c) + at(2 * y + 1, 2 * x + 1, c))
                ) *
                (1f / 1020f)
            return FloatArray(s * s) {
                val p = pool(it / s, it % s, 3)
                p * p * 0.9f + pool(it / s, it % s, 0) * 0.1f
            }
        }

        fun bytes(hex: String): ByteArray = ByteArray(hex.length / 2) {
            hex.substring(2 * it, 2 * it + 2).toInt(16).toByte()
        }

        fun floats(hex: String): FloatArray =
            FloatArray(hex.length / 8) { Float.fromBits(hex.substring(8 * it, 8 * it + 8).toLong(16).toInt()) }
    }
}
