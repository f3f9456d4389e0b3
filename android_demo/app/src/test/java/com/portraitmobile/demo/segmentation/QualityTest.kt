package com.portraitmobile.demo.segmentation

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

class QualityTest {
    @Test
    fun accurateIsOfferedOnlyWithARefinerAndTheReadoutSaysWhyNot() {
        assertEquals(listOf(Quality.FAST, Quality.BALANCED, Quality.ACCURATE), Quality.offered(haveRefiner = true))
        assertEquals(listOf(Quality.FAST, Quality.BALANCED), Quality.offered(haveRefiner = false))
        assertNull(Quality.whyNotAccurate(haveRefiner = true))
        val without = Quality.readout(Quality.FAST, "coarse model only", haveRefiner = false)
        assertTrue(without, without.startsWith("quality fast · coarse model only\n"))
        assertTrue(without, without.contains("portrait-export --refiner --target tflite --demo-assets"))
        assertEquals("quality accurate · r", Quality.readout(Quality.ACCURATE, "r", haveRefiner = true))
    }

    @Test
    fun theLevelsAreThePythonRuntimes() {
        // portrait_mobile/runtime/options.py QUALITIES
        assertEquals(listOf("fast", "balanced", "accurate"), Quality.entries.map { it.label })
    }
}
