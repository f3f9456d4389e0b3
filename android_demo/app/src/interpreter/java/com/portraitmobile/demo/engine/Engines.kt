package com.portraitmobile.demo.engine

import android.content.Context
import android.content.res.AssetManager
import android.os.Build
import com.portraitmobile.demo.contract.ModelAsset
import com.portraitmobile.demo.contract.ModelContract
import com.portraitmobile.demo.contract.TensorQuant
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel
import org.tensorflow.lite.Delegate
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.Tensor
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate
import org.tensorflow.lite.nnapi.NnApiDelegate

/** The "interpreter" flavor: LiteRT 1.x and its Interpreter API with delegates. */
object Engines {
    const val RUNTIME = "LiteRT Interpreter"

    /** The accelerators this device can run: GPU when its GPU is on the delegate's list, NNAPI from 8.1. */
    fun availableBackends(context: Context): List<Backend> = buildList {
        add(Backend.CPU)
        val compatibility = CompatibilityList()
        try {
            if (compatibility.isDelegateSupportedOnThisDevice) add(Backend.GPU)
        } finally {
            compatibility.close()
        }
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.O_MR1) add(Backend.NNAPI)
    }

    fun create(context: Context, asset: ModelAsset, options: EngineOptions): InferenceEngine =
        InterpreterEngine(context.assets, asset, options)
}

/**
 * Runs the .tflite with [Interpreter]: XNNPACK on [EngineOptions.numThreads] CPU threads, the GPU
 * delegate (when the device's GPU is on the compatibility list) or the NNAPI delegate (Android 8.1+;
 * NNAPI is deprecated from Android 15, kept here to compare older devices' drivers).
 * The input and output tensors are checked against the contract when the model loads.
 */
class InterpreterEngine(assets: AssetManager, asset: ModelAsset, options: EngineOptions) : InferenceEngine {
    private val delegate: Delegate?
    private val interpreter: Interpreter
    private val inputBuffer: ByteBuffer
    private val outputBuffer: ByteBuffer
    private val floatOutput = !asset.contract.outputIsQuantized

    override val description: String

    init {
        val interpreterOptions = Interpreter.Options()
        delegate = when (options.backend) {
            Backend.CPU -> {
                interpreterOptions.setUseXNNPACK(true)
                interpreterOptions.setNumThreads(options.numThreads)
                null
            }

            Backend.GPU -> {
                val compatibility = CompatibilityList()
                try {
                    if (!compatibility.isDelegateSupportedOnThisDevice) {
                        throw EngineException("this device's GPU is not supported by the GPU delegate")
                    }
                    GpuDelegate(compatibility.bestOptionsForThisDevice)
                } finally {
                    compatibility.close()
                }
            }

            Backend.NNAPI -> {
                if (Build.VERSION.SDK_INT < Build.VERSION_CODES.O_MR1) {
                    throw EngineException("NNAPI needs Android 8.1 or newer")
                }
                NnApiDelegate()
            }

            Backend.NPU -> throw EngineException("NPU needs the compiled flavor (LiteRT CompiledModel)")
        }
        delegate?.let { interpreterOptions.addDelegate(it) }
        interpreter = try {
            Interpreter(mapAsset(assets, asset.modelPath), interpreterOptions)
        } catch (e: Exception) {
            delegate?.close()
            throw EngineException("cannot load ${asset.fileName} on ${options.backend.label}: ${e.message}", e)
        }
        try {
            checkAgainstContract(asset.contract)
        } catch (e: EngineException) {
            close()
            throw e
        }
        inputBuffer = ByteBuffer.allocateDirect(interpreter.getInputTensor(0).numBytes()).order(ByteOrder.nativeOrder())
        outputBuffer =
            ByteBuffer.allocateDirect(interpreter.getOutputTensor(0).numBytes()).order(ByteOrder.nativeOrder())
        description = if (options.backend == Backend.CPU) {
            "${options.backend.label} x${options.numThreads}"
        } else {
            options.backend.label
        }
    }

    private fun checkAgainstContract(contract: ModelContract) {
        TensorCheck.check(info(interpreter.getInputTensor(0)), info(interpreter.getOutputTensor(0)), contract)
    }

    private fun info(tensor: Tensor): TensorInfo {
        val dtype = tensor.dataType().name.lowercase() // FLOAT32, UINT8, INT8 -> the contract's names
        val q = tensor.quantizationParams()
        val quant = if (q.scale != 0f) TensorQuant(dtype, q.scale, q.zeroPoint) else null
        return TensorInfo(dtype, tensor.shape(), quant)
    }

    override fun run(input: TensorData): TensorData {
        inputBuffer.rewind()
        when (input) {
            is TensorData.Floats -> inputBuffer.asFloatBuffer().put(input.values)
            is TensorData.Bytes -> inputBuffer.put(input.values)
        }
        inputBuffer.rewind()
        outputBuffer.rewind()
        interpreter.run(inputBuffer, outputBuffer)
        outputBuffer.rewind()
        return if (floatOutput) {
            TensorData.Floats(
                FloatArray(outputBuffer.capacity() / Float.SIZE_BYTES).also {
                    outputBuffer.asFloatBuffer().get(it)
                },
            )
        } else {
            TensorData.Bytes(ByteArray(outputBuffer.capacity()).also { outputBuffer.get(it) })
        }
    }

    override fun close() {
        interpreter.close()
        delegate?.close()
    }

    private companion object {
        /** Memory-maps the model from the APK (stored uncompressed: see noCompress in build.gradle.kts). */
        fun mapAsset(assets: AssetManager, path: String): MappedByteBuffer = assets.openFd(path).use { fd ->
            FileInputStream(fd.fileDescriptor).use { stream ->
                stream.channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
            }
        }
    }
}
