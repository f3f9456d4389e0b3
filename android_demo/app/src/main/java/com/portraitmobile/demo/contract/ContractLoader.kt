package com.portraitmobile.demo.contract

import android.content.res.AssetManager
import java.io.FileNotFoundException
import java.io.IOException
import org.json.JSONArray
import org.json.JSONException
import org.json.JSONObject
import org.json.JSONTokener

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
            // A name is joined to the folder's path below: one with a separator or ".." would leave it.
            if (!PLAIN_NAME.matches(modelName)) {
                problems += "'${shown(modelName)}' is not a plain file name (letters, digits, '.', '_', '-')"
                continue
            }
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

    /**
     * Parses the JSON that `ModelContract.to_dict()` writes, as strictly as portrait_mobile/contract.py
     * reads it: integers that are integers, finite numbers, known values, sizes within [MAX_INPUT_SIDE].
     * A contract is a file anyone may have edited, and the app allocates and codes tensors from it.
     * Unknown keys are ignored.
     */
    fun parse(text: String): ModelContract {
        val value = try {
            JSONTokener(text).nextValue()
        } catch (e: JSONException) {
            throw ContractException("the contract is not JSON: ${e.message}", e)
        } catch (e: StackOverflowError) {
            // org.json parses recursively: a file nested thousands deep is no contract, and must not end the app.
            throw ContractException("the contract is JSON nested too deeply to read")
        }
        val json = Fields(value as? JSONObject ?: throw ContractException("the contract is not a JSON object"), "")
        val schema = json.optString("schema", "")
        if (schema != SCHEMA) {
            throw ContractException("not a portrait-mobile contract (schema ${shown(schema)}, expected '$SCHEMA')")
        }
        val inputDtype = json.getString("input_dtype", DTYPES)
        val outputDtype = json.getString("output_dtype", DTYPES)
        val contract = ModelContract(
            modelName = json.getString("model_name").ifEmpty { json.fail("model_name", "is empty") },
            version = json.getString("version"),
            inputHeight = json.getInt("input_height", 1..MAX_INPUT_SIDE),
            inputWidth = json.getInt("input_width", 1..MAX_INPUT_SIDE),
            inputLayout = json.getString("input_layout", LAYOUTS),
            inputDtype = inputDtype,
            colorOrder = json.getString("color_order", COLOR_ORDERS),
            mean = json.rgb("mean", json.getJSONArray("mean"), positive = false),
            std = json.rgb("std", json.getJSONArray("std"), positive = true),
            resize = json.getString("resize"),
            inputName = json.getString("input_name"),
            outputName = json.getString("output_name"),
            outputLayout = json.getString("output_layout", LAYOUTS),
            // 0 or absent: the input's size.
            outputHeight = json.optInt("output_height", 0..MAX_INPUT_SIDE),
            outputWidth = json.optInt("output_width", 0..MAX_INPUT_SIDE),
            outputDtype = outputDtype,
            outputMeaning = json.optString("output_meaning", ""),
            inputQuant = quant(json, "input_quant", json.optJSONObject("input_quant"), inputDtype),
            outputQuant = quant(json, "output_quant", json.optJSONObject("output_quant"), outputDtype),
            precision = json.getString("precision", PRECISIONS),
            target = json.getString("target"),
            metrics = json.optJSONObject("metrics")?.let(::metrics).orEmpty(),
            // Written only when they differ from their defaults (a segmenter's contract has none).
            role = json.optString("role", ROLE_SEGMENTER),
            extraChannels = json.optJSONArray("extra_channels")?.let { json.strings("extra_channels", it) }.orEmpty(),
            tiles = json.optJSONObject("tiles")?.let(::tiles),
        )
        validate(contract)
        return contract
    }

    /**
     * A tensor's quantization: a known integer type, a finite positive scale (as the float the codec uses: a
     * scale of 0 codes every value alike, a black mask) and a zero point in that type's range. An integer
     * tensor needs one of its own type (another type's bytes would wrap).
     */
    private fun quant(json: Fields, key: String, obj: JSONObject?, tensorDtype: String): TensorQuant? {
        val q = obj?.let {
            val f = Fields(it, "$key.")
            val dtype = f.getString("dtype", QUANT_DTYPES)
            val range = if (dtype == "int8") -128..127 else 0..255
            TensorQuant(dtype, f.getDouble("scale", positive = true).toFloat(), f.getInt("zero_point", range))
        }
        if (tensorDtype in QUANT_DTYPES && q?.dtype != tensorDtype) {
            json.fail(key, "must give the scale and zero point of the $tensorDtype tensor (it is ${shown(q)})")
        }
        return q
    }

    private fun tiles(obj: JSONObject): TileGrid {
        val f = Fields(obj, "tiles.")
        return TileGrid(
            core = f.getInt("core", 1..MAX_INPUT_SIDE),
            margin = f.getInt("margin", 0..MAX_INPUT_SIDE),
            outStride = f.getInt("out_stride", 1..MAX_INPUT_SIDE),
            workLongSide = f.getInt("work_long_side", 1..MAX_WORK_SIDE),
        )
    }

    private fun metrics(obj: JSONObject): Map<String, Any> = obj.keys().asSequence().associateWith { obj.get(it) }

    /** A value as an error shows it, cut short (a tampered field may be megabytes). */
    private fun shown(v: Any?): String {
        // org.json's toString() is null for an array holding NaN (and for an object around one).
        val text = when (v) {
            is String -> "\"$v\""
            is JSONArray -> List(v.length()) { v.opt(it) }.toString()
            is JSONObject -> buildString { append(v) }.takeIf { it != "null" } ?: "an object"
            else -> v.toString()
        }
        return if (text.length <= 60) text else text.take(57) + "..."
    }

    /**
     * One JSON object's keys, read strictly, with org.json's names: its own getters would read "256" and 256.7 as
     * 256, and "NaN" as NaN. Every error names the key, after [prefix] (the enclosing object's key).
     */
    private class Fields(private val obj: JSONObject, private val prefix: String) {
        fun fail(key: String, problem: String): Nothing = throw ContractException("$prefix$key $problem")

        /** The key's value; null when it is absent or null. */
        private fun opt(key: String): Any? = obj.opt(key)?.takeIf { it != JSONObject.NULL }

        private fun get(key: String): Any = opt(key) ?: fail(key, "is missing (incomplete contract)")

        /** A string, one of [allowed] when given. */
        fun getString(key: String, allowed: List<String>? = null): String {
            val v = get(key) as? String ?: fail(key, "is ${shown(get(key))}, not a string")
            if (allowed != null && v !in allowed) fail(key, "is ${shown(v)}, not one of ${allowed.joinToString()}")
            return v
        }

        fun optString(key: String, default: String): String = if (opt(key) == null) default else getString(key)

        fun getInt(key: String, range: IntRange): Int {
            val v = get(key)
            // org.json reads 256 as an Int, 1e10 as a Double, a string as itself: only Int and Long are integers.
            if ((v is Int || v is Long) && (v as Number).toLong() in range.first..range.last) return v.toInt()
            fail(key, "is ${shown(v)}, not an integer in [${range.first}, ${range.last}]")
        }

        /** 0 when absent. */
        fun optInt(key: String, range: IntRange): Int = if (opt(key) == null) 0 else getInt(key, range)

        /** A number finite as the Float the codec computes with (and above 0 there when [positive]). */
        fun getDouble(key: String, positive: Boolean): Double = number(get(key), positive)
            ?: fail(key, "is ${shown(get(key))}, not a ${if (positive) "positive" else "finite"} 32-bit float")

        private fun number(v: Any?, positive: Boolean): Double? = (v as? Number)?.toDouble()?.takeIf {
            val x = it.toFloat()
            x.isFinite() && (!positive || x > 0f)
        }

        fun getJSONArray(key: String): JSONArray =
            get(key) as? JSONArray ?: fail(key, "is ${shown(get(key))}, not a list")

        fun optJSONArray(key: String): JSONArray? = opt(key)?.let { getJSONArray(key) }

        fun optJSONObject(key: String): JSONObject? = opt(key)?.let {
            it as? JSONObject ?: fail(key, "is ${shown(it)}, not an object")
        }

        /** [a], the value of [key]: three numbers (R, G, B), finite, and above 0 when [positive]. */
        fun rgb(key: String, a: JSONArray, positive: Boolean): List<Float> {
            val values = List(a.length()) { number(a.opt(it), positive)?.toFloat() }
            if (values.size != 3 || values.any { it == null }) {
                fail(key, "is ${shown(a)}, not three ${if (positive) "positive" else "finite"} numbers (R, G, B)")
            }
            return values.map { it!! }
        }

        /** [a], the value of [key]: strings. */
        fun strings(key: String, a: JSONArray): List<String> =
            List(a.length()) { a.opt(it) as? String ?: fail(key, "is ${shown(a)}, not a list of strings") }
    }

    private fun validate(c: ModelContract) {
        fun ensure(ok: Boolean, message: () -> String) {
            if (!ok) throw ContractException("${c.modelName}: ${message()}")
        }
        ensure(c.target == "tflite") { "this contract is for target '${c.target}', the app runs tflite models" }
        when (c.role) {
            ROLE_SEGMENTER -> {
                ensure(c.resize == "squash") { "resize '${c.resize}' is not supported (only 'squash')" }
                ensure(c.extraChannels.isEmpty() && c.tiles == null) { "a segmenter with extra_channels or tiles" }
            }

            ROLE_EDGE_REFINER -> {
                ensure(c.resize == "contour-tiles") { "an edge refiner's resize is 'contour-tiles', not '${c.resize}'" }
                val t = c.tiles ?: throw ContractException("${c.modelName}: an edge refiner's contract without tiles")
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
                // TileEncoder codes all four channels as value / 255: any other mean or std would be ignored.
                ensure(c.mean.all { it == 0f } && c.std.all { it == 1f }) {
                    "mean ${c.mean} and std ${c.std} must be 0 and 1: an edge refiner's channels are all value / 255"
                }
            }

            else -> ensure(false) { "role '${c.role}' (expected $ROLE_SEGMENTER or $ROLE_EDGE_REFINER)" }
        }
    }

    /**
     * Per side of an input or output tensor (portrait_mobile.contract.MAX_INPUT_SIDE): the app allocates its
     * buffers from these numbers, so a contract saying 100000 would ask for gigabytes.
     */
    const val MAX_INPUT_SIDE = 2048

    /** An edge refiner's working frame's long side (portrait_mobile.contract.MAX_WORK_SIDE). */
    const val MAX_WORK_SIDE = 8192

    /** portrait_mobile/names.py's rule for a name that becomes a path: starts with a letter or digit, no separator. */
    private val PLAIN_NAME = Regex("[A-Za-z0-9][A-Za-z0-9._-]*")

    private val DTYPES = listOf("float32", "uint8", "int8")
    private val QUANT_DTYPES = listOf("uint8", "int8")
    private val LAYOUTS = listOf("NHWC", "NCHW")
    private val COLOR_ORDERS = listOf("RGB", "BGR")
    private val PRECISIONS = listOf("fp32", "fp16", "int8")
}
