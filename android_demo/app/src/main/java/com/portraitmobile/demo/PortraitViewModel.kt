package com.portraitmobile.demo

import android.app.Application
import android.graphics.Bitmap
import androidx.lifecycle.AndroidViewModel
import com.portraitmobile.demo.contract.ContractLoader
import com.portraitmobile.demo.contract.Discovery
import com.portraitmobile.demo.contract.ModelAsset
import com.portraitmobile.demo.engine.Backend
import com.portraitmobile.demo.engine.Engines
import com.portraitmobile.demo.segmentation.Quality
import java.io.IOException
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

class PortraitViewModel(application: Application) : AndroidViewModel(application) {
    /** The models shipped in assets/models, each with its contract; int8 first. */
    val models: List<ModelAsset>

    /** The edge refiners in assets/models (their contract's role), int8 first: quality accurate runs one. */
    val refiners: List<ModelAsset>

    /** The quality levels offered: accurate only with a refiner ([Quality.whyNotAccurate] says why not). */
    val qualities: List<Quality>

    /** Files in assets/models that could not be used (a malformed contract, for instance), each with why. */
    val loadProblems: List<String>

    /** The accelerators this device can run in this runtime flavor; the settings offer only these. */
    val backends: List<Backend> = Engines.availableBackends(application)

    private val _settings = MutableStateFlow(DemoSettings())
    val settings: StateFlow<DemoSettings> = _settings.asStateFlow()

    private val _frame = MutableStateFlow(FrameResult(null, FrameStats()))
    val frame: StateFlow<FrameResult> = _frame.asStateFlow()

    /** The single thread that runs camera analysis, the model and the effects. */
    val analysisExecutor: ExecutorService = Executors.newSingleThreadExecutor()

    private val pipeline = PortraitPipeline { model, options -> Engines.create(application, model, options) }

    init {
        val discovery = try {
            ContractLoader.discover(application.assets)
        } catch (e: IOException) {
            Discovery(emptyList(), listOf("cannot list assets/${ContractLoader.MODELS_ASSET_DIR}: ${e.message}"))
        }
        models = discovery.models
        refiners = discovery.refiners
        qualities = Quality.offered(refiners.isNotEmpty())
        loadProblems = discovery.problems
        _settings.value = DemoSettings(model = models.firstOrNull(), refiner = refiners.firstOrNull())
    }

    /** An analyzer for a new camera binding; [frontCamera] is the lens CameraX actually bound. */
    fun analyzerFor(frontCamera: Boolean) = FrameAnalyzer(frontCamera, ::onFrame)

    /** The camera could not be bound (no camera with that lens, for instance). */
    fun onCameraError(message: String) {
        _frame.value = FrameResult(null, FrameStats(error = message))
    }

    fun update(change: (DemoSettings) -> DemoSettings) = _settings.update(change)

    /** Called on [analysisExecutor] for every camera frame the analyzer keeps. */
    private fun onFrame(frame: Bitmap, frontCamera: Boolean) {
        _frame.value = pipeline.process(frame, frontCamera, _settings.value)
    }

    override fun onCleared() {
        analysisExecutor.execute { pipeline.close() }
        analysisExecutor.shutdown()
    }
}
