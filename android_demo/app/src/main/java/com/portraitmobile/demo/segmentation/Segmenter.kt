package com.portraitmobile.demo.segmentation

import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.Matrix
import android.graphics.Paint
import android.os.SystemClock
import com.portraitmobile.demo.contract.ModelContract
import com.portraitmobile.demo.engine.InferenceEngine

/** A person probability map at the model's output resolution. */
class Mask(val probs: FloatArray, val width: Int, val height: Int)

/** Timings of one [Segmenter.segment] call, in milliseconds. */
data class SegmentTimings(val preprocessMs: Float, val inferenceMs: Float, val postprocessMs: Float)

/**
 * Runs the exported model on a camera frame. Every pre/post-processing fact (input size, layout,
 * colour order, normalization, quantization, output size) comes from the model's contract.
 * Not thread-safe: use one instance from the camera analysis thread.
 */
class Segmenter(private val engine: InferenceEngine, val contract: ModelContract) : AutoCloseable {
    private val encoder = InputEncoder(contract)
    private val decoder = OutputDecoder(contract)
    private val input = encoder.newTensor()
    private val pixels = IntArray(encoder.width * encoder.height)
    private val resized = Bitmap.createBitmap(encoder.width, encoder.height, Bitmap.Config.ARGB_8888)
    private val resizeCanvas = Canvas(resized)
    private val resizePaint = Paint(Paint.FILTER_BITMAP_FLAG)
    private val matrix = Matrix()

    val engineDescription: String get() = engine.description

    var lastTimings = SegmentTimings(0f, 0f, 0f)
        private set

    /** [frame]: the upright camera image, any size (ARGB_8888). */
    fun segment(frame: Bitmap): Mask {
        val t0 = SystemClock.elapsedRealtimeNanos()
        // contract.resize == "squash": the whole frame goes to the input size, aspect ratio not kept.
        matrix.setScale(encoder.width.toFloat() / frame.width, encoder.height.toFloat() / frame.height)
        resizeCanvas.drawBitmap(frame, matrix, resizePaint)
        resized.getPixels(pixels, 0, encoder.width, 0, 0, encoder.width, encoder.height)
        encoder.encode(pixels, input)
        val t1 = SystemClock.elapsedRealtimeNanos()
        val raw = engine.run(input)
        val t2 = SystemClock.elapsedRealtimeNanos()
        val probs = FloatArray(decoder.width * decoder.height)
        decoder.decode(raw, probs)
        val t3 = SystemClock.elapsedRealtimeNanos()
        lastTimings = SegmentTimings((t1 - t0) / 1e6f, (t2 - t1) / 1e6f, (t3 - t2) / 1e6f)
        return Mask(probs, decoder.width, decoder.height)
    }

    override fun close() {
        engine.close()
        resized.recycle()
    }
}
