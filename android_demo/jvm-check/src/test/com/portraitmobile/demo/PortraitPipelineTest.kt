package com.portraitmobile.demo

import android.graphics.Bitmap
import com.google.ai.edge.litert.LiteRtException
import com.google.ai.edge.litert.Status
import com.portraitmobile.demo.effects.Effect
import com.portraitmobile.demo.engine.EngineException
import com.portraitmobile.demo.engine.EngineOptions
import com.portraitmobile.demo.engine.InferenceEngine
import com.portraitmobile.demo.engine.TensorData
import com.portraitmobile.demo.segmentation.Quality
import com.portraitmobile.demo.segmentation.RegionCleanup
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNotSame
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

class PortraitPipelineTest {
    /** An engine whose output is a constant probability (or [pattern]'s, by index), or that throws [failure]. */
    private class FakeEngine(private val size: Int, var failure: Exception? = null, var value: Float = 1f) :
        InferenceEngine {
        override val description = "fake"
        var pattern: ((Int) -> Float)? = null
        var runs = 0

        override fun run(input: TensorData): TensorData {
            failure?.let { throw it }
            runs++
            return TensorData.Floats(FloatArray(size) { pattern?.invoke(it) ?: value })
        }

        override fun close() {}
    }

    private val asset = ExportedModel.asset.let { a ->
        // A float output, so the fake engine's values are the probabilities.
        a.copy(contract = a.contract.copy(outputDtype = "float32", outputQuant = null))
    }
    private val engine = FakeEngine(asset.contract.maskWidth * asset.contract.maskHeight)
    private val pipeline = PortraitPipeline { _, _ -> engine }
    private val frame = Bitmap.createBitmap(64, 48, Bitmap.Config.ARGB_8888)
    private val settings = DemoSettings(model = asset, engine = EngineOptions(), smoothing = 0.5f)

    @Test
    fun aCheckedExceptionFromTheEngineIsTheFramesErrorNotACrash() {
        engine.failure = LiteRtException(Status.ErrorRuntimeFailure, "GPU lost")
        val result = pipeline.process(frame, true, settings)
        assertNull(result.image)
        assertEquals("GPU lost", result.stats.error)
        engine.failure = null
        assertNull("a good frame clears the error", pipeline.process(frame, true, settings).stats.error)
    }

    @Test
    fun eachFrameGetsItsOwnOutputBitmap() {
        val first = pipeline.process(frame, true, settings.copy(effect = Effect.BLUR)).image
        val second = pipeline.process(frame, true, settings.copy(effect = Effect.BLUR)).image
        assertNotNull(first)
        assertNotSame("the UI may still be drawing the previous bitmap", first, second)
    }

    @Test
    fun switchingTheCameraRestartsTheSmoothing() {
        // The front camera's mask settles at 1; the back camera then sees 0.
        repeat(3) { pipeline.process(frame, true, settings) }
        engine.value = 0f
        val sameCamera = PortraitPipeline { _, _ -> engine }.run {
            engine.value = 1f
            process(frame, true, settings)
            engine.value = 0f
            process(frame, true, settings).mask!!.probs[0]
        }
        assertEquals("the same camera blends", 0.5f, sameCamera, 1e-6f)
        engine.value = 0f
        val switched = pipeline.process(frame, false, settings).mask!!.probs[0]
        assertEquals("another camera starts afresh", 0f, switched, 0f)
    }

    // Quality levels. The refiner is the real export's contract, with a float output for the fake engine.
    private val refinerAsset = ExportedModel.refiner.let { a ->
        a.copy(contract = a.contract.copy(outputDtype = "float32", outputQuant = null))
    }
    private val refinerEngine = FakeEngine(refinerAsset.contract.maskWidth * refinerAsset.contract.maskHeight)
    private val withRefiner = PortraitPipeline { a, _ -> if (a.contract.isEdgeRefiner) refinerEngine else engine }
    private val camera = Bitmap.createBitmap(640, 480, Bitmap.Config.ARGB_8888)

    /** The coarse mask: the person on the left half of the model's output. */
    private fun personOnTheLeft() {
        val w = asset.contract.maskWidth
        engine.pattern = { if (it % w < w / 2) 1f else 0f }
    }

    @Test
    fun withoutARefinerAccurateIsNotOfferedAndTheReadoutSaysWhy() {
        assertEquals(listOf(Quality.FAST, Quality.BALANCED), Quality.offered(haveRefiner = false))
        val result = pipeline.process(frame, true, settings)
        assertTrue(result.stats.quality, result.stats.quality.startsWith("quality fast"))
        assertTrue(result.stats.quality, result.stats.quality.contains(Quality.NO_REFINER))
        val asked = pipeline.process(frame, true, settings.copy(quality = Quality.ACCURATE))
        assertNull(asked.image)
        assertEquals(Quality.NO_REFINER, asked.stats.error)
    }

    @Test
    fun accurateRunsTheRefinerOnTheContoursTilesAndSaysSo() {
        personOnTheLeft()
        refinerEngine.value = 0.6f
        val accurate = settings.copy(refiner = refinerAsset, quality = Quality.ACCURATE, effect = Effect.MASK)
        val result = withRefiner.process(camera, true, accurate)
        assertNull(result.stats.error, result.stats.error)
        assertNotNull(result.image)
        val mask = result.mask!!
        // The working frame: 512 on the long side; one column of 40-px tiles on the vertical contour. The mask is
        // the frame's: those tiles snapped to its edges there (1024 and below: at its own size), the rest resized.
        assertEquals(640, mask.width)
        assertEquals(480, mask.height)
        assertEquals((384 + 39) / 40, refinerEngine.runs)
        val q = result.stats.quality
        assertTrue(q, q.startsWith("quality accurate · ${refinerAsset.fileName} (guided_probability) at 512x384"))
        assertTrue(q, q.contains("${refinerEngine.runs} tiles") && !q.contains(Quality.NO_REFINER))
        assertTrue(q, q.endsWith("snapped at 640x480"))
        // The refiner's 0.6 where it ran (the tile column of the contour, x 240..279 at 512: 300..349 here), snapped
        // on a flat frame: the filter's mean steepened around 0.5 (2 x 0.6 - 0.5); the 4th channel elsewhere.
        assertEquals(0.7f, mask.probs[125 * 640 + 325], 1e-5f)
        assertEquals(1f, mask.probs[125 * 640 + 12], 0f)
        assertEquals(0f, mask.probs[125 * 640 + 625], 0f)
        // Switching back to fast shows the coarse mask again, the refiner no longer runs.
        val fast = withRefiner.process(camera, true, accurate.copy(quality = Quality.FAST))
        assertEquals(asset.contract.maskWidth, fast.mask!!.width)
        assertEquals((384 + 39) / 40, refinerEngine.runs)
        assertTrue(fast.stats.quality, fast.stats.quality.startsWith("quality fast") && "\n" !in fast.stats.quality)
    }

    @Test
    fun balancedRunsTheGuidedFilterAtTheFramesSize() {
        personOnTheLeft()
        val result = pipeline.process(frame, true, settings.copy(quality = Quality.BALANCED))
        assertNull(result.stats.error, result.stats.error)
        assertEquals(64, result.mask!!.width)
        assertEquals(48, result.mask!!.height)
        assertTrue(result.stats.quality, result.stats.quality.startsWith("quality balanced · guided filter at 64x48"))
    }

    /**
     * The person on the left half of the model's output with an 8x8 hole inside (under max_hole 0.05 x its area)
     * and, with [speck], a detached 3x3 speck at the top right (under 0.1 x it).
     */
    private fun personWithAHole(speck: Boolean = true, hole: Boolean = true) {
        val w = asset.contract.maskWidth
        val h = asset.contract.maskHeight
        engine.pattern = { i ->
            val y = i / w
            val x = i % w
            when {
                hole && y in h / 2 - 4 until h / 2 + 4 && x in w / 4 - 4 until w / 4 + 4 -> 0f
                x < w / 2 -> 1f
                speck && y in 2 until 5 && x in w - 5 until w - 2 -> 1f
                else -> 0f
            }
        }
    }

    @Test
    fun everyLevelStartsFromTheCleanedMaskAccurateKeepsItsHoles() {
        val w = asset.contract.maskWidth
        val h = asset.contract.maskHeight
        val speckAt = 3 * w + w - 4
        val holeAt = (h / 2) * w + w / 4
        val cleanup = RegionCleanup(minRegion = 0.1, maxHole = 0.05)
        personWithAHole()
        val fast = PortraitPipeline { _, _ -> engine }.process(frame, true, settings.copy(cleanup = cleanup)).mask!!
        assertEquals("the speck goes", 0f, fast.probs[speckAt], 0f)
        assertEquals("the hole is filled", 1f, fast.probs[holeAt], 0f)
        val raw = PortraitPipeline { _, _ -> engine }.process(frame, true, settings.copy(cleanup = RegionCleanup.NONE))
        assertEquals(1f, raw.mask!!.probs[speckAt], 0f)
        assertEquals(0f, raw.mask!!.probs[holeAt], 0f)
        // Balanced filters the cleaned mask: no trace of the speck.
        val balanced = settings.copy(cleanup = cleanup, quality = Quality.BALANCED)
        val b = PortraitPipeline { _, _ -> engine }.process(frame, true, balanced).mask!!
        val speckInFrame = (3.5f * b.height / h).toInt() * b.width + ((w - 3.5f) * b.width / w).toInt()
        assertEquals(0f, b.probs[speckInFrame], 0f)
        // Accurate leaves the hole to its refiner: its contour costs tiles that the mask without it does not.
        fun accurateRuns(hole: Boolean): Int {
            personWithAHole(hole = hole)
            val before = refinerEngine.runs
            val p = PortraitPipeline { a, _ -> if (a.contract.isEdgeRefiner) refinerEngine else engine }
            val accurate = settings.copy(refiner = refinerAsset, quality = Quality.ACCURATE, cleanup = cleanup)
            assertNull(p.process(camera, true, accurate).stats.error)
            return refinerEngine.runs - before
        }
        assertTrue(accurateRuns(hole = true) > accurateRuns(hole = false))
    }

    @Test
    fun aRefinerThatCannotLoadIsTheFramesErrorNotAFallback() {
        val failing = PortraitPipeline { a, _ ->
            if (a.contract.isEdgeRefiner) throw EngineException("no such accelerator") else engine
        }
        val accurate = settings.copy(refiner = refinerAsset, quality = Quality.ACCURATE)
        val result = failing.process(frame, true, accurate)
        assertNull(result.image)
        assertTrue(result.stats.error!!, result.stats.error!!.startsWith("accurate: ${refinerAsset.fileName}"))
        assertEquals("quality accurate", result.stats.quality)
        assertNull(failing.process(frame, true, accurate.copy(quality = Quality.FAST)).stats.error)
    }
}
