package com.portraitmobile.demo

import android.content.FolderContext
import com.portraitmobile.demo.contract.ContractLoader
import com.portraitmobile.demo.contract.ModelAsset
import java.io.File

/**
 * The assets folder of a real export (`models/<name>.tflite` + its contract), which
 * tests/demos/test_demo_apps.py makes with a tiny `portrait-export` run and passes as -Dportrait.assets.
 */
object ExportedModel {
    val folder: File by lazy {
        // Required, not assumed: these tests run only from the pytest that makes the export.
        File(checkNotNull(System.getProperty("portrait.assets")) { "-Dportrait.assets names no exported model folder" })
    }

    val context get() = FolderContext(folder)

    val asset: ModelAsset by lazy {
        val discovery = ContractLoader.discover(context.assets)
        check(discovery.problems.isEmpty()) { discovery.problems.joinToString() }
        discovery.models.first()
    }
}
