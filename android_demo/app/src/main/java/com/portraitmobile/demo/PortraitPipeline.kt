package com.portraitmobile.demo

import android.content.Context
import android.graphics.Bitmap
import android.os.SystemClock
import com.portraitmobile.demo.contract.ModelAsset
import com.portraitmobile.demo.effects.Effect
import com.portraitmobile.demo.effects.EffectRenderer
import com.portraitmobile.demo.engine.EngineOptions
import com.portraitmobile.demo.engine.Engines
import com.portraitmobile.demo.segmentation.Mask
import com.portraitmobile.demo.segmentation.MaskSmoother
import com.portraitmobile.demo.segmentation.Segmenter

/** What the user picked in the settings panel. */
data class DemoSettings(
    val model: ModelAsset? = null,
    val engine: EngineOptions = EngineOptions(),
    val effect: Effect = Effect.BLUR,
    /** 0 = follow every frame, 0.95 = very steady (the smoother's alpha is 1 - smoothing). */
    val smoothing: Float = 0.5f,
    val frontCamera: Boolean = true,
)

/** The readout drawn over the preview. */
data class FrameStats(
    val fps: Float = 0f,
    val inferenceMs: Float = 0f,
    val preprocessMs: Float = 0f,
    val renderMs: Float = 0f,
    val engine: String = "",
    val error: String? = null,
)

class FrameResult(val image: Bitmap?, val stats: FrameStats)

/**
 * Camera frame -> segmentation -> temporal smoothing -> effect, on the camera analysis thread.
 *
 * The engine is (re)built on that same thread when the model or backend changes: the GPU delegate
 * must run on the thread that created it.
 */
class PortraitPipeline(private val context: Context) : AutoCloseable {
    private var segmenter: Segmenter? = null
    private var activeModel: ModelAsset? = null
    private var activeOptions: EngineOptions? = null
    private var buildError: String? = null
    private val smoother = MaskSmoother()
    private val renderer = EffectRenderer()
    private val fps = FpsMeter()

    fun process(frame: Bitmap, settings: DemoSettings): FrameResult {
        val model = settings.model ?: return FrameResult(null, FrameStats(error = "no model in assets/models"))
        val seg = segmenterFor(model, settings.engine)
            ?: return FrameResult(null, FrameStats(engine = settings.engine.backend.label, error = buildError))
        return try {
            val mask = seg.segment(frame)
            smoother.alpha = 1f - settings.smoothing
            val smoothed = smoother.smooth(mask.probs)
            val t0 = SystemClock.elapsedRealtimeNanos()
            val image = renderer.render(frame, Mask(smoothed, mask.width, mask.height), settings.effect)
            val renderMs = (SystemClock.elapsedRealtimeNanos() - t0) / 1e6f
            val timings = seg.lastTimings
            FrameResult(
                image,
                FrameStats(
                    fps = fps.tick(),
                    inferenceMs = timings.inferenceMs,
                    preprocessMs = timings.preprocessMs,
                    renderMs = renderMs,
                    engine = seg.engineDescription,
                ),
            )
        } catch (e: RuntimeException) {
            FrameResult(null, FrameStats(engine = seg.engineDescription, error = e.message ?: e.toString()))
        }
    }

    private fun segmenterFor(model: ModelAsset, options: EngineOptions): Segmenter? {
        if (model == activeModel && options == activeOptions) return segmenter
        segmenter?.close()
        segmenter = null
        smoother.reset()
        activeModel = model
        activeOptions = options
        buildError = null
        try {
            segmenter = Segmenter(Engines.create(context, model, options), model.contract)
        } catch (e: Exception) {
            // Remembered for this (model, backend) pair, so a failing backend is not retried every frame.
            buildError = "${options.backend.label}: ${e.message ?: e.toString()}"
        }
        return segmenter
    }

    override fun close() {
        segmenter?.close()
        segmenter = null
        activeModel = null
        activeOptions = null
    }
}

/** Frames per second, smoothed over the last second or so. */
class FpsMeter {
    private var lastNs = 0L
    private var fps = 0f

    fun tick(): Float {
        val now = SystemClock.elapsedRealtimeNanos()
        if (lastNs != 0L) {
            val instant = 1e9f / (now - lastNs).coerceAtLeast(1L)
            fps = if (fps == 0f) instant else fps + 0.1f * (instant - fps)
        }
        lastNs = now
        return fps
    }
}
