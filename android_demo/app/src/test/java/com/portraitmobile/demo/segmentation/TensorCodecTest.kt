package com.portraitmobile.demo.segmentation

import com.portraitmobile.demo.contract.ModelContract
import com.portraitmobile.demo.contract.TensorQuant
import com.portraitmobile.demo.engine.EngineException
import com.portraitmobile.demo.engine.TensorData
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class TensorCodecTest {
    private fun contract(
        inputDtype: String = "float32",
        inputLayout: String = "NHWC",
        colorOrder: String = "RGB",
        mean: List<Float> = listOf(0f, 0f, 0f),
        std: List<Float> = listOf(1f, 1f, 1f),
        inputQuant: TensorQuant? = null,
        outputDtype: String = "float32",
        outputQuant: TensorQuant? = null,
    ) = ModelContract(
        modelName = "test", version = "0", inputHeight = 1, inputWidth = 2,
        inputLayout = inputLayout, inputDtype = inputDtype, colorOrder = colorOrder,
        mean = mean, std = std, resize = "squash", inputName = "image", outputName = "mask",
        outputLayout = "NHWC", outputHeight = 0, outputWidth = 0, outputDtype = outputDtype,
        outputMeaning = "", inputQuant = inputQuant, outputQuant = outputQuant,
        precision = "fp32", target = "tflite", metrics = emptyMap(),
    )

    // Two pixels: (R, G, B) = (255, 0, 51) and (0, 102, 255).
    private val pixels = intArrayOf(0xFFFF0033.toInt(), 0xFF0066FF.toInt())

    @Test
    fun floatNhwcScalesToUnitRange() {
        val encoder = InputEncoder(contract())
        val out = encoder.newTensor() as TensorData.Floats
        encoder.encode(pixels, out)
        assertArrayEquals(floatArrayOf(1f, 0f, 0.2f, 0f, 0.4f, 1f), out.values, 1e-6f)
    }

    @Test
    fun meanStdNchwAndBgrFollowTheContract() {
        val encoder = InputEncoder(
            contract(
                inputLayout = "NCHW",
                colorOrder = "BGR",
                mean = listOf(0.5f, 0.5f, 0.5f),
                std = listOf(0.5f, 0.5f, 0.5f),
            ),
        )
        val out = encoder.newTensor() as TensorData.Floats
        encoder.encode(pixels, out)
        // Channel planes B, G, R; x = (p / 255 - 0.5) / 0.5.
        assertArrayEquals(floatArrayOf(-0.6f, 1f, -1f, -0.2f, 1f, -1f), out.values, 1e-5f)
    }

    @Test
    fun uint8InputQuantizesLikeThePythonRuntime() {
        val q = TensorQuant("uint8", 1f / 255f, 0)
        val encoder = InputEncoder(contract(inputDtype = "uint8", inputQuant = q))
        val out = encoder.newTensor() as TensorData.Bytes
        encoder.encode(pixels, out)
        assertArrayEquals(intArrayOf(255, 0, 51, 0, 102, 255), out.values.map { it.toInt() and 0xFF }.toIntArray())
    }

    @Test
    fun int8InputUsesTheZeroPoint() {
        val q = TensorQuant("int8", 1f / 255f, -128)
        val encoder = InputEncoder(contract(inputDtype = "int8", inputQuant = q))
        val out = encoder.newTensor() as TensorData.Bytes
        encoder.encode(pixels, out)
        assertArrayEquals(byteArrayOf(127, -128, -77, -128, -26, 127), out.values)
    }

    @Test
    fun quantizedOutputIsDequantizedAndClipped() {
        val decoder = OutputDecoder(contract(outputDtype = "int8", outputQuant = TensorQuant("int8", 1f / 256f, -128)))
        val out = FloatArray(2)
        decoder.decode(TensorData.Bytes(byteArrayOf(-128, 127)), out)
        assertEquals(0f, out[0], 1e-6f)
        assertEquals(255f / 256f, out[1], 1e-6f)
    }

    @Test
    fun aNonFiniteFloatOutputIsAnErrorNotASilentlyEmptyMask() {
        // NaN would pass the clip as NaN and be drawn as alpha 0: no person, and no word why.
        val decoder = OutputDecoder(contract())
        for (bad in listOf(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY)) {
            try {
                decoder.decode(TensorData.Floats(floatArrayOf(0.5f, bad)), FloatArray(2))
                fail("decoded $bad")
            } catch (e: EngineException) {
                assertTrue(e.message, e.message!!.contains("test") && e.message!!.contains("non-finite"))
            }
        }
    }
}
