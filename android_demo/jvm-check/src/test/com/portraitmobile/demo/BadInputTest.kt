package com.portraitmobile.demo

import android.graphics.Bitmap
import com.portraitmobile.demo.contract.ContractLoader
import com.portraitmobile.demo.contract.ModelAsset
import com.portraitmobile.demo.contract.RefinerContract
import com.portraitmobile.demo.effects.Effect
import com.portraitmobile.demo.engine.InferenceEngine
import com.portraitmobile.demo.engine.TensorData
import com.portraitmobile.demo.segmentation.Quality
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

/** The pipeline on what a camera, a model or a file may hand it: odd frame sizes, a model that returns NaN. */
class BadInputTest {
    /** An engine whose [size] outputs are [value] of their index. */
    private class PatternEngine(private val size: Int, private val value: (Int) -> Float) : InferenceEngine {
        override val description = "constant"

        override fun run(input: TensorData): TensorData = TensorData.Floats(FloatArray(size) { value(it) })

        override fun close() {}
    }

    private val segmenter = ModelAsset(
        "models/seg.tflite",
        ContractLoader.parse(
            """
            {
              "color_order": "RGB", "input_dtype": "float32", "input_height": 40, "input_layout": "NHWC",
              "input_name": "image", "input_width": 40, "mean": [0.0, 0.0, 0.0], "model_name": "seg",
              "output_dtype": "float32", "output_height": 0, "output_layout": "NHWC", "output_name": "mask",
              "output_width": 0, "precision": "fp32", "resize": "squash", "schema": "portrait-mobile-contract/1",
              "std": [1.0, 1.0, 1.0], "target": "tflite", "version": "0"
            }
            """.trimIndent(),
        ),
    )
    private val refiner = ModelAsset(
        "models/ref.tflite",
        ContractLoader.parse(
            RefinerContract.json.replace("\"output_dtype\": \"int8\"", "\"output_dtype\": \"float32\""),
        ),
    )
    private val maskSize = segmenter.contract.maskWidth * segmenter.contract.maskHeight

    /** The pipeline with [model]'s values for the segmenter (a person on the left half) and 0.6 for the refiner. */
    private fun pipeline(model: (Int) -> Float = { if (it % 40 < 20) 1f else 0f }) = PortraitPipeline { a, _ ->
        if (a.contract.isEdgeRefiner) {
            PatternEngine(refiner.contract.maskWidth * refiner.contract.maskHeight) { 0.6f }
        } else {
            PatternEngine(maskSize, model)
        }
    }

    @Test
    fun oddFrameSizesRunEveryLevelAndEffect() {
        for ((w, h) in listOf(1 to 1, 1 to 20000, 20000 to 1, 2 to 3, 641 to 1)) {
            val frame = Bitmap.createBitmap(w, h, Bitmap.Config.ARGB_8888)
            for (quality in Quality.entries) {
                for (effect in Effect.entries) {
                    val settings =
                        DemoSettings(model = segmenter, refiner = refiner, quality = quality, effect = effect)
                    val result = pipeline().process(frame, true, settings)
                    val what = "${w}x$h $quality $effect"
                    assertNull(what, result.stats.error)
                    val mask = checkNotNull(result.mask) { what }
                    assertEquals(what, mask.width * mask.height, mask.probs.size)
                    assertTrue(what, mask.probs.all { it in 0f..1f })
                    assertEquals(what, effect != Effect.NONE, result.image != null)
                }
            }
        }
    }

    @Test
    fun aModelThatReturnsNanIsTheFramesErrorNotAnEmptyMask() {
        val frame = Bitmap.createBitmap(64, 48, Bitmap.Config.ARGB_8888)
        val result = pipeline { Float.NaN }.process(frame, true, DemoSettings(model = segmenter))
        assertNull(result.image)
        assertNull(result.mask)
        assertTrue(result.stats.error!!, result.stats.error!!.contains("non-finite"))
    }
}
