package com.portraitmobile.demo

import android.app.Application
import android.graphics.Bitmap
import androidx.lifecycle.AndroidViewModel
import com.portraitmobile.demo.contract.ContractLoader
import com.portraitmobile.demo.contract.ModelAsset
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

class PortraitViewModel(application: Application) : AndroidViewModel(application) {
    /** The models shipped in assets/models, each with its contract; int8 first. */
    val models: List<ModelAsset>

    /** Why no model could be listed (a malformed contract, for instance), or null. */
    val loadError: String?

    private val _settings = MutableStateFlow(DemoSettings())
    val settings: StateFlow<DemoSettings> = _settings.asStateFlow()

    private val _frame = MutableStateFlow(FrameResult(null, FrameStats()))
    val frame: StateFlow<FrameResult> = _frame.asStateFlow()

    /** The single thread that runs camera analysis, the model and the effects. */
    val analysisExecutor: ExecutorService = Executors.newSingleThreadExecutor()

    private val pipeline = PortraitPipeline(application)

    val analyzer = FrameAnalyzer(frontCamera = { _settings.value.frontCamera }, onFrame = ::onFrame)

    init {
        var error: String? = null
        models = try {
            ContractLoader.discover(application.assets)
        } catch (e: Exception) {
            error = e.message ?: e.toString()
            emptyList()
        }
        loadError = error
        _settings.value = DemoSettings(model = models.firstOrNull())
    }

    fun update(change: (DemoSettings) -> DemoSettings) = _settings.update(change)

    /** Called on [analysisExecutor] for every camera frame the analyzer keeps. */
    private fun onFrame(frame: Bitmap) {
        _frame.value = pipeline.process(frame, _settings.value)
    }

    override fun onCleared() {
        analysisExecutor.execute { pipeline.close() }
        analysisExecutor.shutdown()
    }
}
