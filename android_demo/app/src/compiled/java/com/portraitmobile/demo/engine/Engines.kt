package com.portraitmobile.demo.engine

import android.content.Context
import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.BuiltinNpuAcceleratorProvider
import com.google.ai.edge.litert.CompiledModel
import com.google.ai.edge.litert.Environment
import com.google.ai.edge.litert.LiteRtException
import com.google.ai.edge.litert.TensorBuffer
import com.portraitmobile.demo.contract.ModelAsset

/** The "compiled" flavor: LiteRT 2.x and its CompiledModel API. */
object Engines {
    const val RUNTIME = "LiteRT CompiledModel"

    /**
     * The accelerators this device can run: the CPU always; the GPU and the NPU only when LiteRT's
     * environment reports them available (the NPU needs the vendor's dispatch libraries, which
     * this app does not ship). NNAPI is not part of the CompiledModel API: the "interpreter"
     * flavor has it.
     */
    fun availableBackends(context: Context): List<Backend> {
        val available = try {
            Environment.create(BuiltinNpuAcceleratorProvider(context)).use { it.getAvailableAccelerators() }
        } catch (e: LiteRtException) {
            emptySet()
        }
        return buildList {
            add(Backend.CPU)
            if (Accelerator.GPU in available) add(Backend.GPU)
            if (Accelerator.NPU in available) add(Backend.NPU)
        }
    }

    fun create(context: Context, asset: ModelAsset, options: EngineOptions): InferenceEngine =
        CompiledModelEngine(context, asset, options)
}

/**
 * Runs the .tflite with [CompiledModel]: the CPU accelerator (XNNPACK, [EngineOptions.numThreads]
 * threads), the GPU accelerator (the litert-gpu artifact) or the NPU accelerator (vendor dispatch
 * libraries, where the device has them). The model file's tensors are checked against the
 * contract first; an accelerator the device lacks fails here, with the reason, instead of
 * silently running on the CPU. Every LiteRT error surfaces as an [EngineException].
 */
class CompiledModelEngine(context: Context, asset: ModelAsset, options: EngineOptions) : InferenceEngine {
    private val environment: Environment?
    private val model: CompiledModel
    private val inputBuffers: List<TensorBuffer>
    private val outputBuffers: List<TensorBuffer>
    private val floatOutput = !asset.contract.outputIsQuantized

    override val description: String

    init {
        val accelerator = when (options.backend) {
            Backend.CPU -> Accelerator.CPU
            Backend.GPU -> Accelerator.GPU
            Backend.NPU -> Accelerator.NPU
            Backend.NNAPI -> throw EngineException("NNAPI needs the interpreter flavor")
        }
        // The model file itself, before anything native is created: nothing to release if it fails.
        val modelBytes = try {
            context.assets.open(asset.modelPath).use { it.readBytes() }
        } catch (e: java.io.IOException) {
            throw EngineException("cannot read ${asset.modelPath}: ${e.message}", e)
        }
        val (inputTensor, outputTensor) = TfliteTensors.read(modelBytes)
        TensorCheck.check(inputTensor, outputTensor, asset.contract)

        val compiledOptions = CompiledModel.Options(accelerator)
        if (accelerator == Accelerator.CPU) {
            compiledOptions.cpuOptions = CompiledModel.CpuOptions(numThreads = options.numThreads)
        }
        // Closed newest first if a later step throws, so a failed load leaks nothing.
        val created = mutableListOf<AutoCloseable>()
        try {
            environment = if (accelerator == Accelerator.NPU) {
                Environment.create(BuiltinNpuAcceleratorProvider(context)).also { created += it }
            } else {
                null
            }
            environment?.let { requireNpu(it) }
            model = CompiledModel.create(context.assets, asset.modelPath, compiledOptions, environment)
                .also { created += it }
            inputBuffers = model.createInputBuffers().also { created += it }
            outputBuffers = model.createOutputBuffers().also { created += it }
        } catch (e: Exception) {
            created.asReversed().forEach { closeQuietly(it) }
            throw e as? EngineException
                ?: EngineException("cannot compile ${asset.fileName} for ${options.backend.label}: ${e.message}", e)
        }
        description = when (accelerator) {
            Accelerator.CPU -> "${options.backend.label} x${options.numThreads}"

            // With NPU alone LiteRT adds the CPU for the ops the NPU cannot take.
            Accelerator.NPU -> "${options.backend.label} (+ CPU for ops it lacks)"

            else -> options.backend.label
        }
    }

    /** LiteRT adds the CPU when the NPU is the only accelerator asked for: refuse instead of pretending. */
    private fun requireNpu(environment: Environment) {
        val available = environment.getAvailableAccelerators()
        if (Accelerator.NPU !in available) {
            throw EngineException("no NPU LiteRT can use on this device (available: ${available.joinToString()})")
        }
    }

    override fun run(input: TensorData): TensorData = try {
        when (input) {
            is TensorData.Floats -> inputBuffers[0].writeFloat(input.values)

            // uint8 inputs travel as their bit patterns, like int8.
            is TensorData.Bytes -> inputBuffers[0].writeInt8(input.values)
        }
        model.run(inputBuffers, outputBuffers)
        if (floatOutput) {
            TensorData.Floats(outputBuffers[0].readFloat())
        } else {
            TensorData.Bytes(outputBuffers[0].readInt8())
        }
    } catch (e: LiteRtException) {
        // A checked exception in LiteRT's API: wrapped, so the caller's RuntimeException handling sees it.
        throw EngineException("inference failed on $description: ${e.message}", e)
    }

    override fun close() {
        (inputBuffers + outputBuffers).forEach { closeQuietly(it) }
        closeQuietly(model)
        environment?.let { closeQuietly(it) }
    }

    private fun closeQuietly(resource: AutoCloseable) {
        try {
            resource.close()
        } catch (e: Exception) {
            // Releasing native memory; nothing more to do if LiteRT refuses.
        }
    }
}
