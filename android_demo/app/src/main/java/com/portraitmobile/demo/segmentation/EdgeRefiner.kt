package com.portraitmobile.demo.segmentation

import android.os.SystemClock
import com.portraitmobile.demo.contract.ModelContract
import com.portraitmobile.demo.contract.TileGrid
import com.portraitmobile.demo.engine.EngineException
import com.portraitmobile.demo.engine.InferenceEngine
import com.portraitmobile.demo.engine.TensorData

/**
 * uint8 T x T x 4 tiles ([EdgeBand.gatherTile]) -> the tensor an edge refiner of [contract] takes, as
 * runtime/refiner.py's encode_tiles: x = value / 255 in the contract's layout, then for an integer
 * input q = round(x / scale + zero_point) (half to even) clamped to its type. One lookup table a value.
 */
class TileEncoder(private val contract: ModelContract) {
    private val tile = contract.inputWidth
    private val channels = contract.inputChannels
    private val planeSize = tile * tile
    private val nchw = contract.inputLayout == "NCHW"

    private val floatLut = FloatArray(256) { it * (1f / 255f) }
    private val byteLut: ByteArray? = contract.inputQuant?.takeIf { contract.inputIsQuantized }?.let { q ->
        ByteArray(256) { v ->
            Math.rint((floatLut[v] / q.scale + q.zeroPoint).toDouble()).toInt().coerceIn(q.min, q.max).toByte()
        }
    }

    init {
        require(contract.inputHeight == tile) { "${contract.modelName}: a tile is square" }
    }

    fun newTensor(): TensorData = if (byteLut != null) {
        TensorData.Bytes(ByteArray(planeSize * channels))
    } else {
        TensorData.Floats(FloatArray(planeSize * channels))
    }

    fun encode(tileU8: ByteArray, out: TensorData) {
        require(tileU8.size == planeSize * channels) { "expected ${tile}x${tile}x$channels values, got ${tileU8.size}" }
        when (out) {
            is TensorData.Floats -> each(tileU8) { i, v -> out.values[i] = floatLut[v] }

            is TensorData.Bytes -> {
                val lut = checkNotNull(byteLut) { "${contract.modelName} takes ${contract.inputDtype}, not bytes" }
                each(tileU8) { i, v -> out.values[i] = lut[v] }
            }
        }
    }

    /** Each value of an NHWC tile with its index in the tensor's layout. */
    private inline fun each(tileU8: ByteArray, put: (Int, Int) -> Unit) {
        for (p in 0 until planeSize) {
            for (c in 0 until channels) {
                put(if (nchw) c * planeSize + p else p * channels + c, tileU8[p * channels + c].toInt() and 0xFF)
            }
        }
    }
}

/**
 * What the last [EdgeRefiner.refine] did: its tiles, the working frame, the refiner's and the whole
 * step's time, and the size the tiles were snapped at (0 x 0: not snapped, no tile).
 */
data class RefineStats(
    val tiles: Int,
    val width: Int,
    val height: Int,
    val runMs: Float,
    val totalMs: Float,
    val snapWidth: Int = 0,
    val snapHeight: Int = 0,
)

/**
 * A loaded edge refiner (its contract's role is "edge-refiner"), run by [EdgeBand] on the tiles the
 * coarse contour crosses, one tile per run (the exported refiner's static batch of one). Its tile
 * geometry and 4th channel come from its contract. Not thread-safe: use it on the analysis thread.
 */
class EdgeRefiner(private val engine: InferenceEngine, val contract: ModelContract) : AutoCloseable {
    init {
        require(contract.isEdgeRefiner) {
            "${contract.modelName}: its contract says ${contract.role}, not an edge refiner"
        }
    }

    val grid: TileGrid = requireNotNull(contract.tiles) { "${contract.modelName} is not an edge refiner" }

    /** What its 4th input channel is (`coarse_probability` or `guided_probability`). */
    val channel: String = contract.extraChannels.single()

    private val encoder = TileEncoder(contract)
    private val decoder = OutputDecoder(contract, clip = false)
    private val input = encoder.newTensor()

    val engineDescription: String get() = engine.description

    var lastStats = RefineStats(0, 0, 0, 0f, 0f)
        private set

    /**
     * Quality accurate on one frame, as the runtime's `TileModel.refine`: the frame and its coarse [mask]
     * through the band, the refined tiles snapped to the frame's own edges ([EdgeBand.ACCURATE_SNAP]).
     * The mask is at the frame's size (at the working frame when the contour crossed no tile).
     */
    fun refine(frame: RgbImage, mask: Mask): Mask {
        val t0 = SystemClock.elapsedRealtimeNanos()
        var runNs = 0L
        val band = EdgeBand.refineBand(
            frame,
            mask.probs,
            mask.width,
            mask.height,
            grid,
            channel,
            EdgeBand.ACCURATE_SNAP,
        ) { tile ->
            val r0 = SystemClock.elapsedRealtimeNanos()
            runTile(tile).also { runNs += SystemClock.elapsedRealtimeNanos() - r0 }
        }
        val totalMs = (SystemClock.elapsedRealtimeNanos() - t0) / 1e6f
        lastStats = RefineStats(
            band.tiles.size,
            band.workWidth,
            band.workHeight,
            runNs / 1e6f,
            totalMs,
            band.snapWidth,
            band.snapHeight,
        )
        return Mask(band.prob, band.width, band.height)
    }

    /** One tile through the refiner: its dequantized output, out_tile x out_tile. */
    fun runTile(tile: ByteArray): FloatArray {
        encoder.encode(tile, input)
        val out = FloatArray(decoder.width * decoder.height)
        decoder.decode(engine.run(input), out)
        if (out.any { !it.isFinite() }) throw EngineException("${contract.modelName} returned non-finite values")
        return out
    }

    override fun close() = engine.close()
}
