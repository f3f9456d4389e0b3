package com.portraitmobile.demo

import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.LiteRtException
import com.google.ai.edge.litert.LiteRtStub
import com.portraitmobile.demo.engine.Backend
import com.portraitmobile.demo.engine.CompiledModelEngine
import com.portraitmobile.demo.engine.EngineException
import com.portraitmobile.demo.engine.EngineOptions
import com.portraitmobile.demo.engine.Engines
import com.portraitmobile.demo.engine.TensorData
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Before
import org.junit.Test

/** The compiled flavor's engine against the LiteRT stand-in, on a real exported int8 model. */
class CompiledModelEngineTest {
    @Before
    fun reset() = LiteRtStub.reset()

    private fun engine(backend: Backend = Backend.CPU) =
        CompiledModelEngine(ExportedModel.context, ExportedModel.asset, EngineOptions(backend, numThreads = 3))

    private fun expectEngineException(block: () -> Unit): EngineException {
        try {
            block()
        } catch (e: EngineException) {
            return e
        }
        fail("no EngineException")
        throw AssertionError()
    }

    @Test
    fun runsAndClosesEverything() {
        val c = ExportedModel.asset.contract
        LiteRtStub.output = ByteArray(c.maskWidth * c.maskHeight)
        val engine = engine()
        assertEquals("CPU (XNNPACK) x3", engine.description)
        val out = engine.run(TensorData.Bytes(ByteArray(c.inputWidth * c.inputHeight * 3)))
        assertEquals(c.maskWidth * c.maskHeight, (out as TensorData.Bytes).values.size)
        engine.close()
        assertEquals(emptyList<Any>(), LiteRtStub.openHandles)
    }

    @Test
    fun anInferenceErrorBecomesAnEngineException() {
        val engine = engine()
        LiteRtStub.failOn = "run"
        val e = expectEngineException { engine.run(TensorData.Bytes(ByteArray(1))) }
        assertTrue(e.cause is LiteRtException)
        engine.close()
    }

    @Test
    fun aFailedBufferCreationLeaksNothing() {
        LiteRtStub.available = setOf(Accelerator.CPU, Accelerator.NPU)
        for (step in listOf("createInputBuffers", "createOutputBuffers", "CompiledModel.create")) {
            LiteRtStub.failOn = step
            val e = expectEngineException { engine(Backend.NPU) }
            assertTrue(e.message!!, e.message!!.contains(step))
            assertEquals(step, emptyList<Any>(), LiteRtStub.openHandles)
        }
    }

    @Test
    fun npuIsRefusedWhereTheEnvironmentHasNone() {
        LiteRtStub.available = setOf(Accelerator.CPU, Accelerator.GPU)
        val e = expectEngineException { engine(Backend.NPU) }
        assertTrue(e.message!!, e.message!!.contains("no NPU"))
        assertEquals(emptyList<Any>(), LiteRtStub.openHandles)
    }

    @Test
    fun npuSaysTheCpuJoinsIt() {
        LiteRtStub.available = setOf(Accelerator.CPU, Accelerator.NPU)
        val engine = engine(Backend.NPU)
        assertEquals(setOf(Accelerator.NPU, Accelerator.CPU), LiteRtStub.lastAccelerators)
        assertTrue(engine.description, engine.description.contains("CPU"))
        engine.close()
    }

    @Test
    fun onlyAvailableAcceleratorsAreOffered() {
        LiteRtStub.available = setOf(Accelerator.CPU)
        assertEquals(listOf(Backend.CPU), Engines.availableBackends(ExportedModel.context))
        LiteRtStub.available = setOf(Accelerator.CPU, Accelerator.GPU, Accelerator.NPU)
        assertEquals(listOf(Backend.CPU, Backend.GPU, Backend.NPU), Engines.availableBackends(ExportedModel.context))
        LiteRtStub.failOn = "Environment.create"
        assertEquals(listOf(Backend.CPU), Engines.availableBackends(ExportedModel.context))
    }

    @Test
    fun aModelThatDoesNotMatchItsContractIsRefusedAtLoad() {
        val asset = ExportedModel.asset
        val floatContract = asset.copy(
            contract = asset.contract.copy(inputDtype = "float32", inputQuant = null),
        )
        val e = expectEngineException {
            CompiledModelEngine(ExportedModel.context, floatContract, EngineOptions(Backend.CPU))
        }
        assertTrue(e.message!!, e.message!!.contains("float32") && e.message!!.contains(asset.contract.inputDtype))
        assertEquals(emptyList<Any>(), LiteRtStub.openHandles)
    }

    @Test
    fun theRealEdgeRefinerLoadsAsA4ChannelTileModelAndAMismatchIsRefused() {
        val refiner = ExportedModel.refiner
        val c = refiner.contract
        LiteRtStub.output = ByteArray(c.maskWidth * c.maskHeight)
        val engine = CompiledModelEngine(ExportedModel.context, refiner, EngineOptions(Backend.CPU, numThreads = 1))
        val out = engine.run(TensorData.Bytes(ByteArray(c.inputWidth * c.inputHeight * c.inputChannels)))
        assertEquals(c.maskWidth * c.maskHeight, (out as TensorData.Bytes).values.size)
        engine.close()
        // The same file under a segmenter's 3-channel contract does not match it.
        val asSegmenter = refiner.copy(contract = c.copy(extraChannels = emptyList()))
        val e = expectEngineException {
            CompiledModelEngine(ExportedModel.context, asSegmenter, EngineOptions(Backend.CPU))
        }
        assertTrue(e.message!!, e.message!!.contains("input shape"))
        assertEquals(emptyList<Any>(), LiteRtStub.openHandles)
    }
}
