package com.portraitmobile.demo.probe

import com.portraitmobile.demo.contract.ModelAsset
import com.portraitmobile.demo.engine.EngineException
import com.portraitmobile.demo.engine.TensorCheck
import com.portraitmobile.demo.engine.TensorInfo
import com.portraitmobile.demo.engine.TfliteTensors
import java.io.File

/** A model's tensors as its .tflite declares them, and the app's verdict on them: "ok" or "refused: <why>". */
data class TensorVerdict(val input: TensorInfo, val output: TensorInfo, val verdict: String)

/** Reads [asset]'s .tflite under [assets] and runs the app's [TensorCheck] against its contract, as the app does. */
fun checkTensors(assets: File, asset: ModelAsset): TensorVerdict {
    val (input, output) = TfliteTensors.read(File(assets, asset.modelPath).readBytes())
    val verdict = try {
        TensorCheck.check(input, output, asset.contract)
        "ok"
    } catch (e: EngineException) {
        "refused: ${e.message}"
    }
    return TensorVerdict(input, output, verdict)
}
