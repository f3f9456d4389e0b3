package com.portraitmobile.demo

import android.graphics.Bitmap
import com.google.ai.edge.litert.LiteRtException
import com.google.ai.edge.litert.Status
import com.portraitmobile.demo.effects.Effect
import com.portraitmobile.demo.engine.EngineOptions
import com.portraitmobile.demo.engine.InferenceEngine
import com.portraitmobile.demo.engine.TensorData
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNotSame
import org.junit.Assert.assertNull
import org.junit.Test

class PortraitPipelineTest {
    /** An engine whose output is a constant probability, or that throws [failure]. */
    private class FakeEngine(private val size: Int, var failure: Exception? = null, var value: Float = 1f) :
        InferenceEngine {
        override val description = "fake"

        override fun run(input: TensorData): TensorData {
            failure?.let { throw it }
            return TensorData.Floats(FloatArray(size) { value })
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
}
