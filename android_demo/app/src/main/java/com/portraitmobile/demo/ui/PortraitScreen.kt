package com.portraitmobile.demo.ui

import androidx.compose.foundation.Image
import androidx.compose.foundation.background
import androidx.compose.foundation.horizontalScroll
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.navigationBarsPadding
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.statusBarsPadding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.shape.RoundedCornerShape
import androidx.compose.material3.FilterChip
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Slider
import androidx.compose.material3.Surface
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableFloatStateOf
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.layout.ContentScale
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.font.FontFamily
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import com.portraitmobile.demo.DemoSettings
import com.portraitmobile.demo.FrameStats
import com.portraitmobile.demo.PortraitViewModel
import com.portraitmobile.demo.R
import com.portraitmobile.demo.contract.ModelAsset
import com.portraitmobile.demo.effects.Effect
import com.portraitmobile.demo.engine.Backend
import com.portraitmobile.demo.engine.Engines
import com.portraitmobile.demo.segmentation.Quality
import java.util.Locale
import kotlin.math.roundToInt

@Composable
fun PortraitScreen(viewModel: PortraitViewModel) {
    val settings by viewModel.settings.collectAsStateWithLifecycle()
    val frame by viewModel.frame.collectAsStateWithLifecycle()
    var showSettings by rememberSaveable { mutableStateOf(true) }

    Box(modifier = Modifier.fillMaxSize().background(Color.Black)) {
        CameraPreview(
            frontCamera = settings.frontCamera,
            analyzerFor = viewModel::analyzerFor,
            executor = viewModel.analysisExecutor,
            onError = viewModel::onCameraError,
            modifier = Modifier.fillMaxSize(),
        )
        // The composited effect, drawn over the live preview with the same crop.
        frame.image?.let { bitmap ->
            Image(
                bitmap = bitmap.asImageBitmap(),
                contentDescription = settings.effect.label,
                contentScale = ContentScale.Crop,
                modifier = Modifier.fillMaxSize(),
            )
        }
        StatsOverlay(
            stats = frame.stats,
            settings = settings,
            modifier = Modifier.align(Alignment.TopStart).statusBarsPadding().padding(12.dp),
        )
        if (viewModel.models.isEmpty() || viewModel.loadProblems.isNotEmpty()) {
            // Models that failed to load are named even when others work.
            val lines = viewModel.loadProblems + if (viewModel.models.isEmpty()) {
                listOf(stringResource(R.string.no_models))
            } else {
                emptyList()
            }
            Text(
                text = lines.joinToString("\n"),
                color = Color.White,
                modifier = Modifier
                    .align(Alignment.Center)
                    .padding(24.dp)
                    .background(Color.Black.copy(alpha = 0.7f), RoundedCornerShape(8.dp))
                    .padding(16.dp),
            )
        }
        Column(modifier = Modifier.align(Alignment.BottomCenter).fillMaxWidth()) {
            TextButton(onClick = { showSettings = !showSettings }, modifier = Modifier.align(Alignment.End)) {
                Text(if (showSettings) "Hide settings" else "Settings")
            }
            if (showSettings) {
                SettingsPanel(
                    settings = settings,
                    models = viewModel.models,
                    refiners = viewModel.refiners,
                    qualities = viewModel.qualities,
                    backends = viewModel.backends,
                    onChange = viewModel::update,
                )
            }
        }
    }
}

@Composable
private fun StatsOverlay(stats: FrameStats, settings: DemoSettings, modifier: Modifier = Modifier) {
    Column(
        modifier = modifier
            .background(Color.Black.copy(alpha = 0.55f), RoundedCornerShape(8.dp))
            .padding(horizontal = 10.dp, vertical = 6.dp),
    ) {
        val style = MaterialTheme.typography.bodySmall.copy(fontFamily = FontFamily.Monospace, color = Color.White)
        Text(String.format(Locale.US, "%5.1f FPS", stats.fps), style = MaterialTheme.typography.titleMedium)
        Text(String.format(Locale.US, "inference %6.1f ms", stats.inferenceMs), style = style)
        Text(
            String.format(Locale.US, "pre %.1f ms · effect %.1f ms", stats.preprocessMs, stats.renderMs),
            style = style,
        )
        Text("${Engines.RUNTIME} · ${stats.engine}", style = style)
        settings.model?.let { Text(it.contract.summary, style = style) }
        // Which quality level runs, on what; without a refiner, why accurate is not offered.
        if (stats.quality.isNotEmpty()) Text(stats.quality, style = style)
        if (settings.quality != Quality.FAST) {
            Text(String.format(Locale.US, "%s %.1f ms", settings.quality.label, stats.refineMs), style = style)
        }
        stats.error?.let { Text(it, style = style.copy(color = Color(0xFFFF8A80))) }
    }
}

@Composable
private fun SettingsPanel(
    settings: DemoSettings,
    models: List<ModelAsset>,
    refiners: List<ModelAsset>,
    qualities: List<Quality>,
    backends: List<Backend>,
    onChange: ((DemoSettings) -> DemoSettings) -> Unit,
) {
    Surface(
        color = Color.Black.copy(alpha = 0.65f),
        contentColor = Color.White,
        shape = RoundedCornerShape(topStart = 16.dp, topEnd = 16.dp),
        modifier = Modifier.fillMaxWidth(),
    ) {
        Column(
            modifier = Modifier.navigationBarsPadding().padding(12.dp),
            verticalArrangement = Arrangement.spacedBy(4.dp),
        ) {
            if (models.size > 1) {
                ChipRow("Model", models, settings.model, { it.fileName }) { m -> onChange { it.copy(model = m) } }
            }
            ChipRow("Quality", qualities, settings.quality, { it.label }) { q -> onChange { it.copy(quality = q) } }
            Quality.whyNotAccurate(refiners.isNotEmpty())?.let { Text(it, style = MaterialTheme.typography.bodySmall) }
            if (refiners.size > 1 && settings.quality == Quality.ACCURATE) {
                ChipRow("Edge refiner", refiners, settings.refiner, { it.fileName }) { r ->
                    onChange { it.copy(refiner = r) }
                }
            }
            ChipRow("Accelerator", backends, settings.engine.backend, { it.label }) { b ->
                onChange { it.copy(engine = it.engine.copy(backend = b)) }
            }
            if (settings.engine.backend == Backend.CPU) {
                ThreadsSlider(settings.engine.numThreads) { n ->
                    onChange { it.copy(engine = it.engine.copy(numThreads = n)) }
                }
            }
            ChipRow("Effect", Effect.entries, settings.effect, { it.label }) { e -> onChange { it.copy(effect = e) } }
            Text(
                "Temporal smoothing ${(settings.smoothing * 100).roundToInt()}%",
                style = MaterialTheme.typography.labelMedium,
            )
            Slider(
                value = settings.smoothing,
                onValueChange = { v -> onChange { it.copy(smoothing = v) } },
                valueRange = 0f..0.95f,
            )
            Row(verticalAlignment = Alignment.CenterVertically, horizontalArrangement = Arrangement.spacedBy(12.dp)) {
                Text("Front camera", style = MaterialTheme.typography.labelMedium)
                Switch(checked = settings.frontCamera, onCheckedChange = { f -> onChange { it.copy(frontCamera = f) } })
            }
        }
    }
}

/** The thread count applies when the slider is released: each change rebuilds the engine. */
@Composable
private fun ThreadsSlider(threads: Int, onCommit: (Int) -> Unit) {
    var value by remember(threads) { mutableFloatStateOf(threads.toFloat()) }
    Text("CPU threads ${value.roundToInt()}", style = MaterialTheme.typography.labelMedium)
    Slider(
        value = value,
        onValueChange = { value = it },
        onValueChangeFinished = { onCommit(value.roundToInt()) },
        valueRange = 1f..MAX_THREADS.toFloat(),
        steps = MAX_THREADS - 2,
    )
}

@Composable
private fun <T> ChipRow(title: String, items: List<T>, selected: T?, label: (T) -> String, onSelect: (T) -> Unit) {
    Text(title, style = MaterialTheme.typography.labelMedium)
    Row(
        modifier = Modifier.horizontalScroll(rememberScrollState()),
        horizontalArrangement = Arrangement.spacedBy(8.dp),
    ) {
        items.forEach { item ->
            FilterChip(selected = item == selected, onClick = { onSelect(item) }, label = { Text(label(item)) })
        }
    }
}

private const val MAX_THREADS = 8
