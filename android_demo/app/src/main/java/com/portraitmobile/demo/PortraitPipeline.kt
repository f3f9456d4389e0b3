package com.portraitmobile.demo

import android.graphics.Bitmap
import android.os.SystemClock
import com.portraitmobile.demo.contract.ModelAsset
import com.portraitmobile.demo.contract.ModelContract
import com.portraitmobile.demo.effects.Effect
import com.portraitmobile.demo.effects.EffectRenderer
import com.portraitmobile.demo.engine.EngineException
import com.portraitmobile.demo.engine.EngineOptions
import com.portraitmobile.demo.engine.InferenceEngine
import com.portraitmobile.demo.segmentation.EdgeRefiner
import com.portraitmobile.demo.segmentation.GuidedFilter
import com.portraitmobile.demo.segmentation.Mask
import com.portraitmobile.demo.segmentation.MaskCleanup
import com.portraitmobile.demo.segmentation.MaskSmoother
import com.portraitmobile.demo.segmentation.Quality
import com.portraitmobile.demo.segmentation.RegionCleanup
import com.portraitmobile.demo.segmentation.RgbImage
import com.portraitmobile.demo.segmentation.Segmenter
import java.util.Locale

/** What the user picked in the settings panel. */
data class DemoSettings(
    val model: ModelAsset? = null,
    /** The edge refiner of quality accurate; null when assets/models has none (accurate is not offered). */
    val refiner: ModelAsset? = null,
    val quality: Quality = Quality.FAST,
    /** What is cleaned out of the coarse mask before any level: the Python runtime's default cleanup. */
    val cleanup: RegionCleanup = RegionCleanup(),
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
    /** Which quality level ran, on what (and, without a refiner, why accurate is not offered). */
    val quality: String = "",
    /** The level's own time after the coarse model: the guided filter, or the band with its refiner runs. */
    val refineMs: Float = 0f,
)

/** [mask]: the level's mask [image] was drawn with (its own array), or null when no mask was made. */
class FrameResult(val image: Bitmap?, val stats: FrameStats, val mask: Mask? = null)

/**
 * Camera frame -> segmentation -> temporal smoothing -> cleanup -> quality level -> effect, on the
 * camera analysis thread. As the Python runtime's VideoSegmenter, the coarse mask is smoothed over
 * frames, then cleaned ([MaskCleanup]: small detached regions out, small enclosed holes filled but
 * for accurate) and the quality level finishes it: fast keeps it, balanced runs the guided filter at
 * the frame's size, accurate the edge refiner on its contour's tiles, snapped to the frame's edges
 * there ([EdgeRefiner]).
 *
 * The engines (the model's, and the refiner's on the same accelerator) are (re)built on that same
 * thread by [createEngine] when the model, refiner or backend changes: the GPU delegate must run on
 * the thread that created it. No exception from the engines or the effects leaves [process] (it
 * would kill the analysis thread and the app): it becomes the frame's error, and the next frame
 * that works clears it. A level that cannot run says so; the app never falls back to another.
 */
class PortraitPipeline(private val createEngine: (ModelAsset, EngineOptions) -> InferenceEngine) : AutoCloseable {
    private val segmenters = EngineSlot(createEngine, ::Segmenter)
    private var lastFrontCamera: Boolean? = null
    private val refiners = EngineSlot(createEngine, ::EdgeRefiner)
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
            ?: return FrameResult(null, FrameStats(engine = settings.engine.backend.label, error = segmenters.failure))
        return try {
            val coarse = seg.segment(frame)
            smoother.alpha = 1f - settings.smoothing
            // The smoother's own state: finish only reads it (the cleanup makes the array the level works on).
            val smoothed = Mask(smoother.smooth(coarse.probs), coarse.width, coarse.height)
            val level = finish(frame, smoothed, settings)
            val t0 = SystemClock.elapsedRealtimeNanos()
            val image = renderer.render(frame, level.mask, settings.effect)
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
                    quality = level.readout,
                    refineMs = level.ms,
                ),
                level.mask,
            )
        } catch (e: Exception) {
            // Exception, not RuntimeException: LiteRT's LiteRtException is a checked exception.
            FrameResult(
                null,
                FrameStats(
                    engine = seg.engineDescription,
                    error = e.message ?: e.toString(),
                    quality = "quality ${settings.quality.label}",
                ),
            )
        }
    }

    /** A quality level's mask (the renderer draws it over the frame, resizing it bilinearly). */
    private class Finished(val mask: Mask, val readout: String, val ms: Float)

    /**
     * The level [settings] asks for, on the smoothed coarse mask cleaned first, as the runtime's Segmenter.finish:
     * every level starts from the mask without its small detached regions and, but for accurate (which leaves
     * them to its refiner: `RegionCleanup.for_level`), its small enclosed holes.
     */
    private fun finish(frame: Bitmap, smoothed: Mask, settings: DemoSettings): Finished {
        val haveRefiner = settings.refiner != null
        val cleanup = settings.cleanup.forLevel(settings.quality)
        val cleaned = MaskCleanup.clean(smoothed.probs, smoothed.width, smoothed.height, cleanup)
        val coarse = Mask(cleaned, smoothed.width, smoothed.height)
        val t0 = SystemClock.elapsedRealtimeNanos()
        return when (settings.quality) {
            Quality.FAST -> Finished(
                coarse,
                Quality.readout(Quality.FAST, "coarse model only, ${coarse.width}x${coarse.height}", haveRefiner),
                0f,
            )

            Quality.BALANCED -> {
                val image = rgbOf(frame)
                val probs = GuidedFilter.refineEdges(image, coarse.probs, coarse.width, coarse.height)
                val ms = (SystemClock.elapsedRealtimeNanos() - t0) / 1e6f
                val detail = "guided filter at ${image.width}x${image.height}"
                Finished(
                    Mask(probs, image.width, image.height),
                    Quality.readout(Quality.BALANCED, detail, haveRefiner),
                    ms,
                )
            }

            Quality.ACCURATE -> {
                val asset = settings.refiner ?: throw EngineException(Quality.NO_REFINER)
                val edge = refinerFor(asset, settings.engine)
                val mask = edge.refine(rgbOf(frame), coarse)
                val s = edge.lastStats
                val snapped = if (s.snapWidth > 0) ", snapped at ${s.snapWidth}x${s.snapHeight}" else ""
                val detail = "${asset.fileName} (${edge.channel}) at ${s.width}x${s.height}, ${s.tiles} tiles " +
                    "(refiner ${"%.1f".format(Locale.US, s.runMs)} ms, ${edge.engineDescription})$snapped"
                Finished(mask, Quality.readout(Quality.ACCURATE, detail, true), s.totalMs)
            }
        }
    }

    private fun rgbOf(frame: Bitmap): RgbImage {
        val pixels = IntArray(frame.width * frame.height)
        frame.getPixels(pixels, 0, frame.width, 0, 0, frame.width, frame.height)
        return RgbImage.fromArgb(pixels, frame.width, frame.height)
    }

    /** The refiner for (asset, backend), built once; its failure is remembered, not retried each frame. */
    private fun refinerFor(asset: ModelAsset, options: EngineOptions): EdgeRefiner = refiners.get(asset, options)
        ?: throw EngineException("accurate: ${refiners.failure?.let { "${asset.fileName} on $it" } ?: "no refiner"}")

    /** A new (model, backend) pair restarts the smoothing: the old masks are another model's. */
    private fun segmenterFor(model: ModelAsset, options: EngineOptions): Segmenter? =
        segmenters.get(model, options, onChange = smoother::reset)

    override fun close() {
        segmenters.close()
        refiners.close()
    }
}

/**
 * The [T] (a [Segmenter], an [EdgeRefiner]) around an engine for one (asset, options) pair: built
 * once, closed and rebuilt when the pair changes. A failure to build is remembered for that pair, so a
 * failing backend is not retried every frame.
 */
private class EngineSlot<T : AutoCloseable>(
    private val createEngine: (ModelAsset, EngineOptions) -> InferenceEngine,
    private val wrap: (InferenceEngine, ModelContract) -> T,
) : AutoCloseable {
    private var value: T? = null
    private var asset: ModelAsset? = null
    private var options: EngineOptions? = null

    /** Why the current pair failed to build ("<backend>: <message>"), or null. */
    var failure: String? = null
        private set

    /** The [T] for (asset, options), or null when it failed ([failure]); [onChange] runs when the pair changes. */
    fun get(asset: ModelAsset, options: EngineOptions, onChange: () -> Unit = {}): T? {
        if (asset == this.asset && options == this.options) return value
        close()
        onChange()
        this.asset = asset
        this.options = options
        var engine: InferenceEngine? = null
        try {
            engine = createEngine(asset, options)
            value = wrap(engine, asset.contract)
        } catch (e: Exception) {
            engine?.close() // the wrapper around it failed
            failure = "${options.backend.label}: ${e.message ?: e.toString()}"
        }
        return value
    }

    override fun close() {
        value?.close()
        value = null
        asset = null
        options = null
        failure = null
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
