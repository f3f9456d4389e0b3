// A stand-in for TensorFlow Lite 1.x's Java API (org.tensorflow.lite, the LiteRT 1.4 "interpreter"
// flavor): the classes and methods the app calls, with their signatures, and no native code. Only
// compiled (tests/demo_jvm.py), never run.
@file:Suppress("unused", "UNUSED_PARAMETER")

package org.tensorflow.lite

import java.nio.ByteBuffer

interface Delegate : AutoCloseable {
    fun getNativeHandle(): Long

    override fun close() {}
}

enum class DataType { FLOAT32, INT32, UINT8, INT64, STRING, BOOL, INT16, INT8 }

class Tensor private constructor() {
    class QuantizationParams(val scale: Float, val zeroPoint: Int)

    fun shape(): IntArray = throw UnsupportedOperationException("stand-in")

    fun dataType(): DataType = throw UnsupportedOperationException("stand-in")

    fun numBytes(): Int = throw UnsupportedOperationException("stand-in")

    fun quantizationParams(): QuantizationParams = throw UnsupportedOperationException("stand-in")
}

class Interpreter(byteBuffer: ByteBuffer, options: Options?) : AutoCloseable {
    class Options {
        fun setNumThreads(numThreads: Int): Options = this

        fun setUseXNNPACK(useXNNPACK: Boolean): Options = this

        fun addDelegate(delegate: Delegate): Options = this
    }

    fun getInputTensor(inputIndex: Int): Tensor = throw UnsupportedOperationException("stand-in")

    fun getOutputTensor(outputIndex: Int): Tensor = throw UnsupportedOperationException("stand-in")

    fun run(input: Any, output: Any) {}

    override fun close() {}
}
