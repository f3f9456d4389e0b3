package com.portraitmobile.demo.engine

import com.portraitmobile.demo.contract.ModelContract
import com.portraitmobile.demo.contract.TensorQuant
import java.nio.ByteBuffer
import java.nio.ByteOrder
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class TensorCheckTest {
    private val quant = TensorQuant("uint8", 1f / 255f, 0)
    private val contract = ModelContract(
        modelName = "test", version = "0", inputHeight = 64, inputWidth = 96,
        inputLayout = "NHWC", inputDtype = "uint8", colorOrder = "RGB",
        mean = listOf(0f, 0f, 0f), std = listOf(1f, 1f, 1f), resize = "squash", inputName = "image",
        outputName = "mask", outputLayout = "NHWC", outputHeight = 0, outputWidth = 0, outputDtype = "uint8",
        outputMeaning = "", inputQuant = quant, outputQuant = quant,
        precision = "int8", target = "tflite", metrics = emptyMap(),
    )
    private val input = TensorInfo("uint8", intArrayOf(1, 64, 96, 3), quant)
    private val output = TensorInfo("uint8", intArrayOf(1, 64, 96, 1), quant)

    private fun refused(input: TensorInfo, output: TensorInfo, vararg words: String) {
        try {
            TensorCheck.check(input, output, contract)
            fail("accepted $input -> $output")
        } catch (e: EngineException) {
            for (w in words) assertTrue("'$w' not in: ${e.message}", e.message!!.contains(w))
        }
    }

    @Test
    fun theExportersTensorsPass() {
        TensorCheck.check(input, output, contract)
        TensorCheck.check(input, TensorInfo("uint8", intArrayOf(1, 1, 64, 96), quant), contract) // NCHW mask
    }

    @Test
    fun aFloatModelWithAUint8ContractIsRefusedNamingBoth() {
        refused(TensorInfo("float32", input.shape), output, "float32", "uint8")
        refused(input, TensorInfo("float32", output.shape), "float32", "uint8")
    }

    @Test
    fun anotherSizeOrLayoutIsRefused() {
        refused(TensorInfo("uint8", intArrayOf(1, 96, 64, 3), quant), output, "[1, 96, 64, 3]", "[1, 64, 96, 3]")
        refused(TensorInfo("uint8", intArrayOf(1, 3, 64, 96), quant), output, "input shape")
        refused(input, TensorInfo("uint8", intArrayOf(1, 32, 48, 1), quant), "1536", "96x64")
    }

    @Test
    fun anotherQuantizationIsRefused() {
        refused(TensorInfo("uint8", input.shape, TensorQuant("uint8", 1f / 255f, 128)), output, "zero point 128")
        refused(input, TensorInfo("uint8", output.shape, TensorQuant("uint8", 1f / 256f, 0)), "output quantization")
    }

    @Test
    fun anOutputOfTheRightCountButAnotherShapeIsRefused() {
        // 6144 values as 32 rows of 192 would draw a scrambled mask.
        refused(input, TensorInfo("uint8", intArrayOf(1, 32, 192, 1), quant), "[1, 32, 192, 1]", "96x64")
        refused(input, TensorInfo("uint8", intArrayOf(1, 96, 64, 1), quant), "[1, 96, 64, 1]", "96x64")
        // Negative dimensions whose product is the mask's, and dimensions whose Int product overflows to it.
        refused(input, TensorInfo("uint8", intArrayOf(1, -64, -96, 1), quant), "[1, -64, -96, 1]")
        refused(input, TensorInfo("uint8", intArrayOf(1, 2048, 2097155, 1), quant), "[1, 2048, 2097155, 1]")
        refused(TensorInfo("uint8", intArrayOf(1, 64, 96, 3, 1), quant), output, "input shape")
    }

    /** A .tflite header and a Model table whose subgraphs vector says it has [n] entries (and has none). */
    private fun modelWithSubgraphCount(n: Int): ByteArray =
        ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN).apply {
            putInt(0, 20) // the root table
            put(4, "TFL3".toByteArray())
            putShort(8, 10).putShort(10, 8).putShort(16, 4) // vtable: field 2 (subgraphs) at table + 4
            putInt(20, 12) // the table's vtable, 12 bytes before it
            putInt(24, 4) // subgraphs: the vector 4 bytes on
            putInt(28, n)
        }.array()

    @Test
    fun aTfliteWhoseVectorLengthsOverrunTheFileIsRefusedNotAllocated() {
        for (n in listOf(Int.MAX_VALUE - 8, 0x10000000, 2, -1, Int.MIN_VALUE)) {
            try {
                TfliteTensors.read(modelWithSubgraphCount(n))
                fail("read a model with $n subgraphs")
            } catch (e: EngineException) {
                assertTrue(e.message, e.message!!.contains("malformed .tflite"))
            }
        }
        try {
            TfliteTensors.read(modelWithSubgraphCount(0))
            fail("read a model without subgraphs")
        } catch (e: EngineException) {
            assertTrue(e.message, e.message!!.contains("no subgraph"))
        }
    }
}
