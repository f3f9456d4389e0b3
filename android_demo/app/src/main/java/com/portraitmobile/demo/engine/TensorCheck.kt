package com.portraitmobile.demo.engine

import com.portraitmobile.demo.contract.ModelContract
import com.portraitmobile.demo.contract.TensorQuant
import java.nio.ByteBuffer
import java.nio.ByteOrder
import kotlin.math.abs

/** One tensor as the model file declares it: dtype ("float32", "uint8", ...), shape, quantization. */
class TensorInfo(val dtype: String, val shape: IntArray, val quant: TensorQuant? = null) {
    /** In a Long: a tampered file's dimensions could overflow an Int to any count, the mask's included. */
    val elementCount: Long get() = shape.fold(1L) { n, d -> n * d }

    override fun toString(): String = "$dtype ${shape.contentToString()}"
}

/**
 * Checks the model's input and output tensors against its contract when an engine loads it, so a
 * model that does not match (a float model with a uint8 contract, another input size) fails with
 * both values instead of running and drawing garbage. Both runtime flavors use it.
 */
object TensorCheck {
    fun check(input: TensorInfo, output: TensorInfo, contract: ModelContract) {
        // 3 channels for a segmenter's frame, 4 for an edge refiner's tile (R, G, B + its extra channel).
        val channels = contract.inputChannels
        val expected = if (contract.inputLayout == "NCHW") {
            intArrayOf(1, channels, contract.inputHeight, contract.inputWidth)
        } else {
            intArrayOf(1, contract.inputHeight, contract.inputWidth, channels)
        }
        ensure(input.shape.contentEquals(expected)) {
            "input shape ${input.shape.contentToString()} differs from the contract's ${expected.contentToString()}"
        }
        ensure(input.dtype == contract.inputDtype) {
            "input type ${input.dtype} differs from the contract's ${contract.inputDtype}"
        }
        // The mask's rows then columns, whatever its layout ([1, H, W, 1], [1, 1, H, W]): the same number of
        // values in another shape ([1, H / 2, 2 W, 1]) would be drawn scrambled.
        val mask = listOf(contract.maskHeight, contract.maskWidth)
        ensure(output.shape.all { it > 0 } && output.shape.filter { it != 1 } == mask.filter { it != 1 }) {
            "output shape ${output.shape.contentToString()} (${output.elementCount} values) is not the contract's " +
                "${contract.maskWidth}x${contract.maskHeight} mask"
        }
        ensure(output.dtype == contract.outputDtype) {
            "output type ${output.dtype} differs from the contract's ${contract.outputDtype}"
        }
        if (contract.inputIsQuantized) checkQuant("input", input.quant, contract.inputQuant)
        if (contract.outputIsQuantized) checkQuant("output", output.quant, contract.outputQuant)
    }

    /** The model's quantization must be the contract's, or the codec's lookup tables are wrong. */
    private fun checkQuant(which: String, model: TensorQuant?, contract: TensorQuant?) {
        if (model == null || contract == null) return // the model file or API did not say; the type check stands
        val sameScale = abs(model.scale - contract.scale) <= 1e-6f * maxOf(1f, abs(contract.scale))
        ensure(sameScale && model.zeroPoint == contract.zeroPoint) {
            "$which quantization scale ${model.scale} zero point ${model.zeroPoint} differs from the contract's " +
                "scale ${contract.scale} zero point ${contract.zeroPoint}"
        }
    }

    private inline fun ensure(ok: Boolean, message: () -> String) {
        if (!ok) throw EngineException(message())
    }
}

/**
 * Reads the first subgraph's first input and output tensor from a `.tflite` file (the TFLite
 * flatbuffer schema: Model.subgraphs -> SubGraph.tensors/inputs/outputs -> Tensor.shape/type/
 * quantization). The CompiledModel API cannot name a uint8 tensor type, so the compiled flavor
 * checks the model file itself.
 */
object TfliteTensors {
    /** TFLite's TensorType enum values, by index. */
    private val TYPES = mapOf(0 to "float32", 1 to "float16", 2 to "int32", 3 to "uint8", 4 to "int64", 9 to "int8")

    fun read(model: ByteArray): Pair<TensorInfo, TensorInfo> {
        val buf = ByteBuffer.wrap(model).order(ByteOrder.LITTLE_ENDIAN)
        try {
            val identifier = String(model, 4, 4, Charsets.US_ASCII)
            if (identifier != "TFL3") throw EngineException("not a .tflite file (identifier '$identifier')")
            val root = Table(buf, buf.getInt(0))
            val subgraph = root.tables(FIELD_MODEL_SUBGRAPHS).firstOrNull()
                ?: throw EngineException("the .tflite file has no subgraph")
            val tensors = subgraph.tables(FIELD_SUBGRAPH_TENSORS)
            val input = subgraph.ints(FIELD_SUBGRAPH_INPUTS).firstOrNull()
                ?: throw EngineException("the model has no input")
            val output = subgraph.ints(FIELD_SUBGRAPH_OUTPUTS).firstOrNull()
                ?: throw EngineException("the model has no output")
            return info(tensors[input]) to info(tensors[output])
        } catch (e: IndexOutOfBoundsException) {
            throw EngineException("truncated or malformed .tflite file", e)
        }
    }

    private fun info(tensor: Table): TensorInfo {
        val type = tensor.byte(FIELD_TENSOR_TYPE).toInt()
        val quant = tensor.table(FIELD_TENSOR_QUANTIZATION)?.let { q ->
            val scales = q.floats(FIELD_QUANT_SCALE)
            val zeroPoints = q.longs(FIELD_QUANT_ZERO_POINT)
            if (scales.size == 1 && zeroPoints.size == 1) {
                TensorQuant(TYPES[type] ?: "type$type", scales[0], zeroPoints[0].toInt())
            } else {
                null // per-channel or absent: not a tensor-level quantization the contract describes
            }
        }
        return TensorInfo(TYPES[type] ?: "type$type", tensor.ints(FIELD_TENSOR_SHAPE).toIntArray(), quant)
    }

    /** A flatbuffer table: a vtable of field offsets, then the fields. */
    private class Table(private val buf: ByteBuffer, private val pos: Int) {
        private val vtable = pos - buf.getInt(pos)
        private val vtableSize = buf.getShort(vtable).toInt() and 0xFFFF

        private fun field(index: Int): Int {
            val entry = 4 + 2 * index
            if (entry >= vtableSize) return 0
            val offset = buf.getShort(vtable + entry).toInt() and 0xFFFF
            return if (offset == 0) 0 else pos + offset
        }

        /** (first element, count) of a vector of [size]-byte elements, which must lie within the file. */
        private fun vector(index: Int, size: Int): Pair<Int, Int>? {
            val at = field(index)
            if (at == 0) return null
            val start = at + buf.getInt(at)
            val n = buf.getInt(start)
            // Checked before anything is allocated from it: a tampered count would ask for gigabytes.
            if (n < 0 || n > (buf.limit() - start - 4) / size) {
                throw IndexOutOfBoundsException("a vector of $n entries at byte $start overruns the file")
            }
            return start + 4 to n
        }

        fun byte(index: Int): Byte = field(index).let { if (it == 0) 0 else buf.get(it) }

        fun table(index: Int): Table? = field(index).takeIf { it != 0 }?.let { Table(buf, it + buf.getInt(it)) }

        fun tables(index: Int): List<Table> = vector(index, 4)?.let { (start, n) ->
            List(n) { i -> (start + 4 * i).let { Table(buf, it + buf.getInt(it)) } }
        }.orEmpty()

        fun ints(index: Int): List<Int> = vector(index, 4)?.let { (start, n) ->
            List(n) { buf.getInt(start + 4 * it) }
        }.orEmpty()

        fun floats(index: Int): List<Float> =
            vector(index, 4)?.let { (start, n) -> List(n) { buf.getFloat(start + 4 * it) } }.orEmpty()

        fun longs(index: Int): List<Long> =
            vector(index, 8)?.let { (start, n) -> List(n) { buf.getLong(start + 8 * it) } }.orEmpty()
    }

    // Field indices in the TFLite schema (tensorflow/compiler/mlir/lite/schema/schema.fbs).
    private const val FIELD_MODEL_SUBGRAPHS = 2
    private const val FIELD_SUBGRAPH_TENSORS = 0
    private const val FIELD_SUBGRAPH_INPUTS = 1
    private const val FIELD_SUBGRAPH_OUTPUTS = 2
    private const val FIELD_TENSOR_SHAPE = 0
    private const val FIELD_TENSOR_TYPE = 1
    private const val FIELD_TENSOR_QUANTIZATION = 4
    private const val FIELD_QUANT_SCALE = 2
    private const val FIELD_QUANT_ZERO_POINT = 3
}
