package com.portraitmobile.demo.segmentation

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotSame
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

/**
 * The Kotlin cleanup of the coarse mask reproduces the Python runtime's (`postprocess.clean_regions`) bit for
 * bit on the hand-made masks of tests/demos/cleanup_golden.py, whose results [CleanupGolden] holds: the pixels
 * it sets to 0 and to 1, every other one unchanged.
 */
class MaskCleanupTest {
    private val g = CleanupGolden

    private fun mask(hex: String): FloatArray = BandParityTest.bytes(hex).let { b ->
        FloatArray(b.size) { (b[it].toInt() and 0xFF) / 255f }
    }

    private fun indices(list: String): List<Int> =
        if (list.isEmpty()) emptyList() else list.split(" ").map(String::toInt)

    /** The case through [MaskCleanup.clean]: exactly the runtime's output. Returns (zeroed, filled) counts. */
    private fun check(case: CleanupGolden.Case): Pair<Int, Int> {
        val prob = mask(case.mask)
        val before = prob.copyOf()
        val got = MaskCleanup.clean(prob, g.WIDTH, g.HEIGHT, case.cleanup, halo = case.halo)
        assertArrayEquals("${case.name}: the input is not changed", before, prob, 0f)
        assertNotSame(prob, got)
        val want = prob.copyOf()
        val zeroed = indices(case.zeroed)
        val filled = indices(case.filled)
        for (i in zeroed) want[i] = 0f
        for (i in filled) want[i] = 1f
        val wrong = want.indices.filter { want[it].toRawBits() != got[it].toRawBits() }
        assertTrue(
            "${case.name}: ${wrong.size} pixels differ from clean_regions', first " +
                wrong.take(5).joinToString { "$it (want ${want[it]}, got ${got[it]})" },
            wrong.isEmpty(),
        )
        return zeroed.size to filled.size
    }

    @Test
    fun theDefaultsAreTheRuntimes() {
        assertEquals(g.DEFAULT, RegionCleanup())
        assertEquals(g.DEFAULT, RegionCleanup().forLevel(Quality.FAST))
        assertEquals(g.DEFAULT, RegionCleanup().forLevel(Quality.BALANCED))
        assertEquals(g.ACCURATE, RegionCleanup().forLevel(Quality.ACCURATE))
        for (triple in g.HALOS.split("; ")) {
            val (h, w, halo) = triple.split(" ").map(String::toInt)
            assertEquals("${h}x$w", halo, MaskCleanup.defaultHalo(w, h))
        }
    }

    @Test
    fun everyCaseIsTheRuntimes() {
        assertTrue(g.CASES.size >= 13)
        for (case in g.CASES) check(case)
    }

    @Test
    fun aSmallDetachedBlobGoesWithItsSoftEdgeAndMinRegionZeroKeepsIt() {
        val (zeroed, filled) = check(g.BLOB)
        val blob = mask(g.BLOB.mask).withIndex().count { (i, v) -> v >= 0.5f && i % g.WIDTH > 45 }
        assertTrue("the blob ($blob px at 0.5) and its soft edge: $zeroed", zeroed > blob && filled == 0)
        assertEquals(0 to 0, check(g.BLOB_KEPT))
    }

    @Test
    fun aBlobNearThePersonTakesOnlyTheEdgeNearerItAndAWiderHaloTakesMore() {
        val (near, _) = check(g.NEAR_BLOB)
        val (wide, _) = check(g.WIDE_HALO)
        assertTrue("halo 2: $near, halo 4: $wide", wide > near)
        // The person's own soft edge, at least as near the person as the blob, stays.
        val zeroed = indices(g.WIDE_HALO.zeroed).toSet()
        assertTrue(zeroed.none { it % g.WIDTH < 38 })
    }

    @Test
    fun aSecondPersonAboveTheFractionIsKept() {
        assertEquals(0 to 0, check(g.SECOND_PERSON))
    }

    @Test
    fun aOnePixelHoleIsFilledWithItsRingButNotAtQualityAccurate() {
        val (zeroed, filled) = check(g.HOLE)
        assertTrue("the hole, its ring of 4 at 0.6 and the textured pixels around: $filled", zeroed == 0 && filled > 5)
        assertTrue((24 * g.WIDTH + 22) in indices(g.HOLE.filled))
        assertEquals(0 to 0, check(g.HOLE_ACCURATE))
        assertEquals(g.ACCURATE, g.HOLE_ACCURATE.cleanup)
    }

    @Test
    fun aHoleOnTheSideAndAGapAboveTheFractionAreKept() {
        assertEquals(0 to 0, check(g.SIDE_NOTCH))
        assertEquals(0 to 0, check(g.GAP))
    }

    @Test
    fun aDiagonalCrackIsFilledButForItsEndOnTheOutside() {
        val (_, filled) = check(g.CRACK)
        val prob = mask(g.CRACK.mask)
        // Up and left from (28, 24) to the first crack pixel whose left neighbour is outside the person.
        val diagonal = (0 until 20).map { (28 - it) * g.WIDTH + 24 - it }
        val crack = diagonal.take(diagonal.indexOfFirst { prob[it - 1] < 0.5f } + 1)
        assertTrue(crack.size > 10 && crack.all { prob[it] == 0f })
        val done = indices(g.CRACK.filled).toSet()
        assertTrue("filled $filled", crack.dropLast(1).all { it in done } && crack.last() !in done)
    }

    @Test
    fun aBlobAndAHoleTogetherTheHoleMeasuredAgainstThePersonLeft() {
        val (zeroed, filled) = check(g.BOTH)
        assertTrue(zeroed > 0 && filled > 0)
        // A 2-pixel hole under max_hole x the person with the blob, not without it: kept.
        assertEquals(zeroed to 0, check(g.AFTER_REMOVAL))
    }

    @Test
    fun exactlyTheThresholdIsPerson() {
        val prob = BandParityTest.floats(g.AT_THRESHOLD_MASK)
        val got = MaskCleanup.clean(prob, g.AT_THRESHOLD_WIDTH, g.AT_THRESHOLD_HEIGHT)
        val want = BandParityTest.floats(g.AT_THRESHOLD_OUT)
        assertTrue(prob.any { it == 0.5f } && want.none { it == 0.5f })
        for (i in want.indices) assertEquals("pixel $i", want[i].toRawBits(), got[i].toRawBits())
    }

    @Test
    fun aCleanMaskAnEmptyOneAndAFullOneAreReturnedAsTheyAre() {
        assertEquals(0 to 0, check(g.CLEAN))
        for (v in listOf(0f, 1f)) {
            val flat = FloatArray(12) { v }
            assertArrayEquals(flat, MaskCleanup.clean(flat, 4, 3), 0f)
        }
        val prob = mask(g.BLOB.mask)
        assertArrayEquals(prob, MaskCleanup.clean(prob, g.WIDTH, g.HEIGHT, RegionCleanup.NONE), 0f)
    }

    @Test
    fun theChamferDistanceIsOpenCvsPortableOneValueForValue() {
        val fg = BandParityTest.bytes(g.DISTANCE_FG).map { it.toInt() != 0 }.toBooleanArray()
        val want = BandParityTest.floats(g.DISTANCE)
        val got = MaskCleanup.chamferDistance(fg, g.WIDTH, g.HEIGHT)
        for (i in want.indices) assertEquals("pixel $i", want[i].toRawBits(), got[i].toRawBits())
        val none = MaskCleanup.chamferDistance(BooleanArray(6), 3, 2)
        val far = BandParityTest.floats(g.NO_ZERO_DISTANCE).single()
        assertTrue(none.all { it == far })
    }

    @Test
    fun fractionsOutsideZeroToOneAreRefused() {
        for ((f, h) in listOf(-0.1 to 0.0, 1.5 to 0.0, 0.1 to Double.NaN)) {
            assertThrows(IllegalArgumentException::class.java) { RegionCleanup(f, h) }
        }
        assertThrows(IllegalArgumentException::class.java) { MaskCleanup.clean(FloatArray(5), 2, 3) }
    }
}
