package com.portraitmobile.demo.engine

/** The accelerators the settings panel can offer; each runtime flavor lists the ones it has. */
enum class Backend(val label: String) {
    CPU("CPU (XNNPACK)"),
    GPU("GPU"),
    NPU("NPU"),
    NNAPI("NNAPI"),
}

data class EngineOptions(
    val backend: Backend = Backend.CPU,
    /** CPU threads for XNNPACK; ignored by the other backends. */
    val numThreads: Int = 2,
)

/** One input or output tensor's values, as the runtime reads and writes them. */
sealed interface TensorData {
    class Floats(val values: FloatArray) : TensorData

    /** int8 or uint8 values, one byte each (uint8 stored as its bit pattern). */
    class Bytes(val values: ByteArray) : TensorData
}

/** A loaded model on one backend: one input tensor in, one output tensor out. */
interface InferenceEngine : AutoCloseable {
    /** What actually runs, for the on-screen readout (e.g. "GPU" or "CPU (XNNPACK) x4"). */
    val description: String

    fun run(input: TensorData): TensorData
}

class EngineException(message: String, cause: Throwable? = null) : RuntimeException(message, cause)
