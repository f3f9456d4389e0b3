package com.portraitmobile.demo.segmentation

import com.portraitmobile.demo.contract.ModelContract
import com.portraitmobile.demo.engine.EngineException
import com.portraitmobile.demo.engine.TensorData
import kotlin.math.roundToInt

/**
 * Turns the pixels of a frame already resized to the model's input size into the input tensor,
 * exactly as portrait_mobile/model_io.py does: channel order, x = (p / 255 - mean) / std,
 * layout, then quantization q = round(x / scale + zero_point) clamped to the integer type.
 *
 * Every (channel, pixel value) pair is computed once into a lookup table, so encoding a frame is
 * three table reads per pixel.
 */
class InputEncoder(private val contract: ModelContract) {
    val width = contract.inputWidth
    val height = contract.inputHeight
    private val planeSize = width * height
    private val nchw = contract.inputLayout == "NCHW"

    /** Bit shift of tensor channel c in an ARGB_8888 pixel. */
    private val shifts = if (contract.colorOrder == "BGR") intArrayOf(0, 8, 16) else intArrayOf(16, 8, 0)

    private val floatLut: Array<FloatArray> = Array(3) { c ->
        FloatArray(256) { p -> (p / 255f - contract.mean[c]) / contract.std[c] }
    }

    private val byteLut: Array<ByteArray>? = contract.inputQuant?.takeIf { contract.inputIsQuantized }?.let { q ->
        Array(3) { c ->
            ByteArray(256) { p ->
                val v = (floatLut[c][p] / q.scale + q.zeroPoint).roundToInt().coerceIn(q.min, q.max)
                v.toByte()
            }
        }
    }

    /** A buffer of the right type and size for [encode]. */
    fun newTensor(): TensorData = if (byteLut != null) {
        TensorData.Bytes(ByteArray(planeSize * 3))
    } else {
        TensorData.Floats(FloatArray(planeSize * 3))
    }

    /** [pixels]: width * height ARGB_8888 ints, row-major, already at the input size. */
    fun encode(pixels: IntArray, out: TensorData) {
        require(pixels.size == planeSize) { "expected ${width}x$height pixels, got ${pixels.size}" }
        when (out) {
            is TensorData.Floats -> encodeFloats(pixels, out.values)
            is TensorData.Bytes -> encodeBytes(pixels, out.values)
        }
    }

    private fun index(i: Int, c: Int): Int = if (nchw) c * planeSize + i else i * 3 + c

    private fun encodeFloats(pixels: IntArray, out: FloatArray) {
        for (i in 0 until planeSize) {
            val px = pixels[i]
            for (c in 0 until 3) {
                out[index(i, c)] = floatLut[c][(px shr shifts[c]) and 0xFF]
            }
        }
    }

    private fun encodeBytes(pixels: IntArray, out: ByteArray) {
        val lut = checkNotNull(byteLut) { "${contract.modelName} takes ${contract.inputDtype}, not bytes" }
        for (i in 0 until planeSize) {
            val px = pixels[i]
            for (c in 0 until 3) {
                out[index(i, c)] = lut[c][(px shr shifts[c]) and 0xFF]
            }
        }
    }
}

/**
 * Reads the model's output into a person probability per mask pixel, in [0, 1]: dequantizes an
 * int8/uint8 output with the contract's output_quant (real = scale * (q - zero_point)).
 * A single-channel map is laid out the same in NHWC [1, H, W, 1] and NCHW [1, 1, H, W].
 * [clip] false: the dequantized values as they are (an edge refiner's tile, which the band clips
 * after its blend, as runtime/refiner.py does). A float output holding NaN or infinity is an
 * [EngineException], never a mask.
 */
class OutputDecoder(private val contract: ModelContract, private val clip: Boolean = true) {
    val width = contract.maskWidth
    val height = contract.maskHeight
    private val size = width * height

    /** Probability for each possible byte value of a quantized output. */
    private val byteLut: FloatArray? = contract.outputQuant?.takeIf { contract.outputIsQuantized }?.let { q ->
        FloatArray(256) { b ->
            val v = if (q.isSigned) b.toByte().toInt() else b
            val real = q.scale * (v - q.zeroPoint)
            if (clip) real.coerceIn(0f, 1f) else real
        }
    }

    fun decode(raw: TensorData, out: FloatArray) {
        require(out.size == size) { "mask buffer has ${out.size} values, expected $size" }
        when (raw) {
            is TensorData.Floats -> {
                checkSize(raw.values.size)
                // NaN passes coerceIn as NaN and is drawn as alpha 0: an empty mask with no word why.
                if (raw.values.any { !it.isFinite() }) {
                    throw EngineException("${contract.modelName} returned non-finite values (NaN or infinity)")
                }
                for (i in 0 until size) out[i] = if (clip) raw.values[i].coerceIn(0f, 1f) else raw.values[i]
            }

            is TensorData.Bytes -> {
                checkSize(raw.values.size)
                val lut =
                    checkNotNull(byteLut) { "${contract.modelName}: output is ${contract.outputDtype}, got bytes" }
                for (i in 0 until size) out[i] = lut[raw.values[i].toInt() and 0xFF]
            }
        }
    }

    private fun checkSize(n: Int) {
        if (n != size) {
            throw IllegalStateException(
                "${contract.modelName}: the model output has $n values, its contract says ${width}x$height",
            )
        }
    }
}
