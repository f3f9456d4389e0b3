package com.portraitmobile.demo.contract

import android.content.res.AssetManager
import java.io.FileNotFoundException
import java.io.IOException
import org.json.JSONArray
import org.json.JSONException
import org.json.JSONObject

/**
 * Finds the exported models in the APK and reads their contracts.
 *
 * `portrait-export --demo-assets` copies each `<name>.tflite` and its contract `<name>.tflite.json`
 * (the exporter's sidecar) into `app/src/main/assets/models/` (export/demo_assets.py). The app lists
 * that folder, so a new export needs no code change. A contract's `role` says what the file is: a
 * segmentation model, or the edge refiner that quality "accurate" runs (`portrait-export --refiner`).
 */
object ContractLoader {
    /** Folder inside the assets; export/demo_assets.py's ANDROID_ASSET_SUBDIR names the same one. */
    const val MODELS_ASSET_DIR = "models"
    const val MODEL_SUFFIX = ".tflite"
    const val CONTRACT_SUFFIX = ".json"

    /** The contract schema this app understands (portrait_mobile.contract.SCHEMA). */
    const val SCHEMA = "portrait-mobile-contract/1"

    /** The contract's `role` values (portrait_mobile.formats.ROLES); absent means a segmenter. */
    const val ROLE_SEGMENTER = "segmenter"
    const val ROLE_EDGE_REFINER = "edge-refiner"

    /** What an edge refiner's 4th channel may be (portrait_mobile.contract.EXTRA_CHANNELS). */
    const val COARSE_PROBABILITY = "coarse_probability"
    const val GUIDED_PROBABILITY = "guided_probability"
    val EXTRA_CHANNELS = listOf(COARSE_PROBABILITY, GUIDED_PROBABILITY)

    /**
     * Every `.tflite` in the models folder that has a contract, int8 models first: the segmentation
     * models in [Discovery.models], the edge refiners in [Discovery.refiners]. A model whose contract
     * cannot be read is left out and named in [Discovery.problems]; the others still load.
     */
    fun discover(assets: AssetManager): Discovery = discover(assets.list(MODELS_ASSET_DIR).orEmpty().toList()) {
        assets.open("$MODELS_ASSET_DIR/$it").bufferedReader().use { reader -> reader.readText() }
    }

    /** [names]: the models folder's file names; [read]: a file's text by name. */
    fun discover(names: List<String>, read: (String) -> String): Discovery {
        val found = mutableListOf<ModelAsset>()
        val problems = mutableListOf<String>()
        for (modelName in names.sorted().filter { it.endsWith(MODEL_SUFFIX) }) {
            val contractName = contractFileName(modelName)
            if (contractName !in names) {
                problems += "$modelName: no contract $contractName next to it"
                continue
            }
            try {
                found += ModelAsset("$MODELS_ASSET_DIR/$modelName", parse(read(contractName)))
            } catch (e: ContractException) {
                problems += "$contractName: ${e.message}"
            } catch (e: IOException) {
                problems += "$contractName: ${e.message ?: e.toString()}"
            }
        }
        found.sortWith(compareBy({ it.contract.precision != "int8" }, { it.fileName }))
        val (refiners, models) = found.partition { it.contract.isEdgeRefiner }
        return Discovery(models, problems, refiners)
    }

    /** The exporter's sidecar name: `portrait-s-256_int8.tflite` -> `portrait-s-256_int8.tflite.json`. */
    fun contractFileName(modelFileName: String): String = modelFileName + CONTRACT_SUFFIX

    /** Loads one contract by the model's asset path. */
    fun load(assets: AssetManager, modelPath: String): ModelContract {
        val dir = modelPath.substringBeforeLast('/', "")
        val file = contractFileName(modelPath.substringAfterLast('/'))
        val path = if (dir.isEmpty()) file else "$dir/$file"
        val text = try {
            assets.open(path).bufferedReader().use { it.readText() }
        } catch (e: FileNotFoundException) {
            throw ContractException("no contract $path next to $modelPath", e)
        }
        return parse(text)
    }

    /** Parses the JSON that `ModelContract.to_dict()` writes. Unknown keys are ignored. */
    fun parse(text: String): ModelContract {
        val json = try {
            JSONObject(text)
        } catch (e: JSONException) {
            throw ContractException("the contract is not JSON: ${e.message}", e)
        }
        val schema = json.optString("schema")
        if (schema != SCHEMA) {
            throw ContractException("not a portrait-mobile contract (schema '$schema', expected '$SCHEMA')")
        }
        try {
            val contract = ModelContract(
                modelName = json.getString("model_name"),
                version = json.getString("version"),
                inputHeight = json.getInt("input_height"),
                inputWidth = json.getInt("input_width"),
                inputLayout = json.getString("input_layout"),
                inputDtype = json.getString("input_dtype"),
                colorOrder = json.getString("color_order"),
                mean = floats(json.getJSONArray("mean")),
                std = floats(json.getJSONArray("std")),
                resize = json.getString("resize"),
                inputName = json.getString("input_name"),
                outputName = json.getString("output_name"),
                outputLayout = json.getString("output_layout"),
                outputHeight = json.optInt("output_height", 0),
                outputWidth = json.optInt("output_width", 0),
                outputDtype = json.getString("output_dtype"),
                outputMeaning = json.optString("output_meaning"),
                inputQuant = quant(json.optJSONObject("input_quant")),
                outputQuant = quant(json.optJSONObject("output_quant")),
                precision = json.getString("precision"),
                target = json.getString("target"),
                metrics = metrics(json.optJSONObject("metrics")),
                // Written only when they differ from their defaults (a segmenter's contract has none).
                role = json.optString("role", ROLE_SEGMENTER),
                extraChannels = json.optJSONArray("extra_channels")?.let { a -> List(a.length()) { a.getString(it) } }
                    .orEmpty(),
                tiles = json.optJSONObject("tiles")?.let(::tiles),
            )
            validate(contract)
            return contract
        } catch (e: JSONException) {
            throw ContractException("incomplete contract: ${e.message}", e)
        }
    }

    private fun quant(obj: JSONObject?): TensorQuant? = obj?.let {
        TensorQuant(
            dtype = it.getString("dtype"),
            scale = it.getDouble("scale").toFloat(),
            zeroPoint = it.getInt("zero_point"),
        )
    }

    private fun tiles(obj: JSONObject): TileGrid = TileGrid(
        core = obj.getInt("core"),
        margin = obj.getInt("margin"),
        outStride = obj.getInt("out_stride"),
        workLongSide = obj.getInt("work_long_side"),
    )

    private fun floats(array: JSONArray): List<Float> = List(array.length()) { array.getDouble(it).toFloat() }

    private fun metrics(obj: JSONObject?): Map<String, Any> {
        if (obj == null) return emptyMap()
        return obj.keys().asSequence().associateWith { obj.get(it) }
    }

    private fun validate(c: ModelContract) {
        fun ensure(ok: Boolean, message: () -> String) {
            if (!ok) throw ContractException("${c.modelName}: ${message()}")
        }
        ensure(c.target == "tflite") { "this contract is for target '${c.target}', the app runs tflite models" }
        ensure(c.inputHeight > 0 && c.inputWidth > 0) { "input size ${c.inputWidth}x${c.inputHeight}" }
        ensure(c.inputLayout == "NHWC" || c.inputLayout == "NCHW") { "input layout '${c.inputLayout}'" }
        ensure(c.colorOrder == "RGB" || c.colorOrder == "BGR") { "color order '${c.colorOrder}'" }
        ensure(c.mean.size == 3 && c.std.size == 3 && c.std.none { it == 0f }) { "mean/std need 3 values" }
        ensure(c.inputDtype in SUPPORTED_DTYPES) { "input dtype '${c.inputDtype}'" }
        ensure(c.outputDtype in SUPPORTED_DTYPES) { "output dtype '${c.outputDtype}'" }
        ensure(!c.inputIsQuantized || c.inputQuant != null) { "integer input without input_quant" }
        ensure(!c.outputIsQuantized || c.outputQuant != null) { "integer output without output_quant" }
        when (c.role) {
            ROLE_SEGMENTER -> {
                ensure(c.resize == "squash") { "resize '${c.resize}' is not supported (only 'squash')" }
                ensure(c.extraChannels.isEmpty() && c.tiles == null) { "a segmenter with extra_channels or tiles" }
            }

            ROLE_EDGE_REFINER -> {
                ensure(c.resize == "contour-tiles") { "an edge refiner's resize is 'contour-tiles', not '${c.resize}'" }
                val t = c.tiles ?: throw ContractException("${c.modelName}: an edge refiner's contract without tiles")
                ensure(t.core > 0 && t.margin >= 0 && t.outStride > 0 && t.workLongSide > 0) { "tiles $t" }
                ensure(t.core % t.outStride == 0 && t.margin % t.outStride == 0) {
                    "tiles $t: core and margin must be multiples of out_stride"
                }
                ensure(c.extraChannels.size == 1 && c.extraChannels[0] in EXTRA_CHANNELS) {
                    "extra_channels ${c.extraChannels}: one of ${EXTRA_CHANNELS.joinToString()}"
                }
                ensure(c.inputHeight == t.tile && c.inputWidth == t.tile) {
                    "input ${c.inputWidth}x${c.inputHeight} is not the ${t.tile}x${t.tile} tile"
                }
                ensure(c.maskHeight == t.outTile && c.maskWidth == t.outTile) {
                    "output ${c.maskWidth}x${c.maskHeight} is not the ${t.outTile}x${t.outTile} tile"
                }
            }

            else -> ensure(false) { "role '${c.role}' (expected $ROLE_SEGMENTER or $ROLE_EDGE_REFINER)" }
        }
    }

    private val SUPPORTED_DTYPES = setOf("float32", "uint8", "int8")
}
