package com.portraitmobile.demo.contract

/** Affine quantization of an integer tensor: real = scale * (q - zeroPoint). */
data class TensorQuant(val dtype: String, val scale: Float, val zeroPoint: Int) {
    val isSigned: Boolean get() = dtype == "int8"
    val min: Int get() = if (isSigned) -128 else 0
    val max: Int get() = if (isSigned) 127 else 255
}

/**
 * An edge refiner's tile geometry (portrait_mobile/tile_grid.py, the contract's `tiles`): the photo's
 * working frame has its long side brought to [workLongSide] (never enlarged) and is cut into [core] x
 * [core] tiles; the refiner reads a tile with [margin] pixels of context on each side ([tile] square)
 * and writes it at 1/[outStride] ([outTile] square).
 */
data class TileGrid(val core: Int, val margin: Int, val outStride: Int, val workLongSide: Int) {
    val tile: Int get() = core + 2 * margin
    val outTile: Int get() = tile / outStride
}

/**
 * The model contract that `portrait-export` writes next to every artifact
 * (portrait_mobile/contract.py, `ModelContract.to_dict()`): everything the app needs to feed the
 * model and read its output. Nothing here is hard-coded in the app; it all comes from the JSON.
 */
data class ModelContract(
    val modelName: String,
    val version: String,
    val inputHeight: Int,
    val inputWidth: Int,
    /** "NHWC" or "NCHW". */
    val inputLayout: String,
    /** "float32", "uint8" or "int8". */
    val inputDtype: String,
    /** "RGB" or "BGR". */
    val colorOrder: String,
    /** Per channel, applied after scaling pixels to [0, 1]: x = (p / 255 - mean) / std. */
    val mean: List<Float>,
    val std: List<Float>,
    /** "squash": the whole frame is resized to the input size, aspect ratio not kept. */
    val resize: String,
    val inputName: String,
    val outputName: String,
    val outputLayout: String,
    val outputHeight: Int,
    val outputWidth: Int,
    val outputDtype: String,
    val outputMeaning: String,
    val inputQuant: TensorQuant?,
    val outputQuant: TensorQuant?,
    val precision: String,
    val target: String,
    val metrics: Map<String, Any>,
    /** What the model is: [ContractLoader.ROLE_SEGMENTER] or [ContractLoader.ROLE_EDGE_REFINER]. */
    val role: String = ContractLoader.ROLE_SEGMENTER,
    /** An edge refiner's 4th input channel, after R, G, B (one of [ContractLoader.EXTRA_CHANNELS]). */
    val extraChannels: List<String> = emptyList(),
    /** An edge refiner's tile geometry; null for a segmenter. */
    val tiles: TileGrid? = null,
) {
    val isEdgeRefiner: Boolean get() = role == ContractLoader.ROLE_EDGE_REFINER

    /** Channels of the input tensor: R, G, B and the extra ones. */
    val inputChannels: Int get() = 3 + extraChannels.size

    val inputIsQuantized: Boolean get() = inputDtype == "uint8" || inputDtype == "int8"
    val outputIsQuantized: Boolean get() = outputDtype == "uint8" || outputDtype == "int8"

    /** Output mask size; 0 in the contract means "same as the input". */
    val maskWidth: Int get() = if (outputWidth > 0) outputWidth else inputWidth
    val maskHeight: Int get() = if (outputHeight > 0) outputHeight else inputHeight

    /** A one-line description for the settings panel. */
    val summary: String
        get() = if (isEdgeRefiner) {
            "$modelName v$version · $precision · ${inputWidth}x${inputHeight}x$inputChannels $inputDtype tiles"
        } else {
            "$modelName v$version · $precision · ${inputWidth}x$inputHeight $inputDtype"
        }
}

/** A model found in the APK's assets, with the contract read from its JSON. */
data class ModelAsset(
    /** Path inside the assets, e.g. "models/portrait-s-256_int8.tflite". */
    val modelPath: String,
    val contract: ModelContract,
) {
    val fileName: String get() = modelPath.substringAfterLast('/')
}

/**
 * What [ContractLoader.discover] found: the segmentation models, why any other file was left out,
 * and the edge refiners of quality "accurate" (known by their contract's role, never their name).
 */
data class Discovery(
    val models: List<ModelAsset>,
    val problems: List<String>,
    val refiners: List<ModelAsset> = emptyList(),
)

class ContractException(message: String, cause: Throwable? = null) : IllegalArgumentException(message, cause)
