package com.portraitmobile.demo.segmentation

import org.junit.Assert.assertArrayEquals
import org.junit.Test

class MaskSmootherTest {
    @Test
    fun firstFrameIsKeptThenBlended() {
        val smoother = MaskSmoother(alpha = 0.25f)
        assertArrayEquals(floatArrayOf(0f, 1f), smoother.smooth(floatArrayOf(0f, 1f)), 0f)
        assertArrayEquals(floatArrayOf(0.25f, 0.75f), smoother.smooth(floatArrayOf(1f, 0f)), 1e-6f)
    }

    @Test
    fun alphaOneFollowsEveryFrame() {
        val smoother = MaskSmoother(alpha = 1f)
        smoother.smooth(floatArrayOf(0f))
        assertArrayEquals(floatArrayOf(1f), smoother.smooth(floatArrayOf(1f)), 0f)
    }

    @Test
    fun aNewMaskSizeStartsAfresh() {
        val smoother = MaskSmoother(alpha = 0.1f)
        smoother.smooth(floatArrayOf(0f))
        assertArrayEquals(floatArrayOf(1f, 1f), smoother.smooth(floatArrayOf(1f, 1f)), 0f)
    }
}
