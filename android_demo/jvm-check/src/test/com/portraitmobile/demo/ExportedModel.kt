package com.portraitmobile.demo

import android.content.FolderContext
import com.portraitmobile.demo.contract.ContractLoader
import com.portraitmobile.demo.contract.ModelAsset
import java.io.File

/**
 * The assets folder of a real export (`models/<name>.tflite` + its contract, and the packaged edge
 * refiner's `.tflite` + contract beside it), which tests/demos/test_demo_apps.py makes with a tiny
 * `portrait-export` run and `copy_to_demos`, and passes as -Dportrait.assets.
 */
object ExportedModel {
    val folder: File by lazy {
        // Required, not assumed: these tests run only from the pytest that makes the export.
        File(checkNotNull(System.getProperty("portrait.assets")) { "-Dportrait.assets names no exported model folder" })
    }

    val context get() = FolderContext(folder)

    private val discovery by lazy {
        ContractLoader.discover(context.assets).also { check(it.problems.isEmpty()) { it.problems.joinToString() } }
    }

    val asset: ModelAsset by lazy { discovery.models.first() }

    /** The edge refiner, found by its contract's role. */
    val refiner: ModelAsset by lazy { discovery.refiners.single() }
}
