package com.portraitmobile.demo

import android.graphics.Bitmap
import android.os.SystemClock
import com.portraitmobile.demo.contract.ModelAsset
import com.portraitmobile.demo.effects.Effect
import com.portraitmobile.demo.effects.EffectRenderer
import com.portraitmobile.demo.engine.EngineOptions
import com.portraitmobile.demo.engine.InferenceEngine
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
    /** The camera asked for; frames say which lens actually took them. */
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

/** [mask]: the smoothed mask [image] was drawn with (a copy), or null when no mask was made. */
class FrameResult(val image: Bitmap?, val stats: FrameStats, val mask: Mask? = null)

/**
 * Camera frame -> segmentation -> temporal smoothing -> effect, on the camera analysis thread.
 *
 * The engine is (re)built on that same thread by [createEngine] when the model or backend changes:
 * the GPU delegate must run on the thread that created it. No exception from the engine or the
 * effects leaves [process] (it would kill the analysis thread and the app): it becomes the
 * frame's error, and the next frame that works clears it.
 */
class PortraitPipeline(private val createEngine: (ModelAsset, EngineOptions) -> InferenceEngine) : AutoCloseable {
    private var segmenter: Segmenter? = null
    private var activeModel: ModelAsset? = null
    private var activeOptions: EngineOptions? = null
    private var buildError: String? = null
    private var lastFrontCamera: Boolean? = null
    private val smoother = MaskSmoother()
    private val renderer = EffectRenderer()
    private val fps = FpsMeter()

    /** [frontCamera]: the lens that took [frame]; a switch restarts the smoothing. */
    fun process(frame: Bitmap, frontCamera: Boolean, settings: DemoSettings): FrameResult {
        if (frontCamera != lastFrontCamera) {
            // The other camera sees another scene: do not blend its first masks into the old ones.
            smoother.reset()
            lastFrontCamera = frontCamera
        }
        val model = settings.model ?: return FrameResult(null, FrameStats(error = "no model in assets/models"))
        val seg = segmenterFor(model, settings.engine)
            ?: return FrameResult(null, FrameStats(engine = settings.engine.backend.label, error = buildError))
        return try {
            val mask = seg.segment(frame)
            smoother.alpha = 1f - settings.smoothing
            val smoothed = Mask(smoother.smooth(mask.probs).copyOf(), mask.width, mask.height)
            val t0 = SystemClock.elapsedRealtimeNanos()
            val image = renderer.render(frame, smoothed, settings.effect)
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
                smoothed,
            )
        } catch (e: Exception) {
            // Exception, not RuntimeException: LiteRT's LiteRtException is a checked exception.
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
        var engine: InferenceEngine? = null
        try {
            engine = createEngine(model, options)
            segmenter = Segmenter(engine, model.contract)
        } catch (e: Exception) {
            engine?.close() // the Segmenter around it failed
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
