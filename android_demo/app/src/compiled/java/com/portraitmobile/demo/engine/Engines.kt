package com.portraitmobile.demo.engine

import android.content.Context
import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.BuiltinNpuAcceleratorProvider
import com.google.ai.edge.litert.CompiledModel
import com.google.ai.edge.litert.Environment
import com.google.ai.edge.litert.TensorBuffer
import com.portraitmobile.demo.contract.ModelAsset

/** The "compiled" flavor: LiteRT 2.x and its CompiledModel API. */
object Engines {
    const val RUNTIME = "LiteRT CompiledModel"

    /** NNAPI is not part of the CompiledModel API (the "interpreter" flavor has it); NPU replaces it. */
    val backends: List<Backend> = listOf(Backend.CPU, Backend.GPU, Backend.NPU)

    fun create(context: Context, asset: ModelAsset, options: EngineOptions): InferenceEngine =
        CompiledModelEngine(context, asset, options)
}

/**
 * Runs the .tflite with [CompiledModel]: the CPU accelerator (XNNPACK, [EngineOptions.numThreads]
 * threads), the GPU accelerator (the litert-gpu artifact) or the NPU accelerator (vendor dispatch
 * libraries, where the device has them). A backend that cannot take the model fails here, with
 * the reason, instead of silently falling back to the CPU.
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
        val compiledOptions = CompiledModel.Options(accelerator)
        if (accelerator == Accelerator.CPU) {
            compiledOptions.cpuOptions = CompiledModel.CpuOptions(numThreads = options.numThreads)
        }
        environment = if (accelerator == Accelerator.NPU) {
            Environment.create(BuiltinNpuAcceleratorProvider(context))
        } else {
            null
        }
        model = try {
            CompiledModel.create(context.assets, asset.modelPath, compiledOptions, environment)
        } catch (e: Exception) {
            environment?.close()
            throw EngineException("cannot compile ${asset.fileName} for ${options.backend.label}: ${e.message}", e)
        }
        inputBuffers = model.createInputBuffers()
        outputBuffers = model.createOutputBuffers()
        description = if (accelerator == Accelerator.CPU) {
            "${options.backend.label} x${options.numThreads}"
        } else {
            options.backend.label
        }
    }

    override fun run(input: TensorData): TensorData {
        when (input) {
            is TensorData.Floats -> inputBuffers[0].writeFloat(input.values)

            // uint8 inputs travel as their bit patterns, like int8.
            is TensorData.Bytes -> inputBuffers[0].writeInt8(input.values)
        }
        model.run(inputBuffers, outputBuffers)
        return if (floatOutput) {
            TensorData.Floats(outputBuffers[0].readFloat())
        } else {
            TensorData.Bytes(outputBuffers[0].readInt8())
        }
    }

    override fun close() {
        inputBuffers.forEach { it.close() }
        outputBuffers.forEach { it.close() }
        model.close()
        environment?.close()
    }
}
