package com.portraitmobile.demo

import com.portraitmobile.demo.contract.ContractLoader
import com.portraitmobile.demo.engine.TensorData
import com.portraitmobile.demo.probe.checkTensors
import com.portraitmobile.demo.segmentation.InputEncoder
import com.portraitmobile.demo.segmentation.OutputDecoder
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * Runs the app's own contract loader, tensor check and codec on a real export, for
 * tests/demos/test_demo_apps.py to compare with the Python runtime. Arguments: the assets folder
 * (models/<name>.tflite + contract), pixels.bin (the input-size frame, big-endian ARGB ints),
 * raw_output.bin (the model's output tensor as LiteRT returns it), the output folder.
 */
fun main(args: Array<String>) {
    val (assets, pixelsFile, rawFile, outDir) = args.map(::File)
    val names = File(assets, ContractLoader.MODELS_ASSET_DIR).list().orEmpty().toList()
    val discovery = ContractLoader.discover(names) {
        File(File(assets, ContractLoader.MODELS_ASSET_DIR), it).readText()
    }
    check(discovery.problems.isEmpty()) { discovery.problems.joinToString("\n") }
    val asset = discovery.models.single()
    val c = asset.contract
    File(outDir, "contract.txt").writeText(
        listOf(
            "model_name" to c.modelName, "input_height" to c.inputHeight, "input_width" to c.inputWidth,
            "input_layout" to c.inputLayout, "input_dtype" to c.inputDtype, "color_order" to c.colorOrder,
            "mean" to c.mean.joinToString(","), "std" to c.std.joinToString(","), "output_dtype" to c.outputDtype,
            "mask_width" to c.maskWidth, "mask_height" to c.maskHeight,
            "input_quant" to c.inputQuant?.let { "${it.dtype},${it.scale},${it.zeroPoint}" },
            "output_quant" to c.outputQuant?.let { "${it.dtype},${it.scale},${it.zeroPoint}" },
        ).joinToString("") { (k, v) -> "$k=$v\n" },
    )
    val (input, output, verdict) = checkTensors(assets, asset)
    File(
        outDir,
        "tensors.txt",
    ).writeText("input=$input ${input.quant}\noutput=$output ${output.quant}\ncheck=$verdict\n")

    val encoder = InputEncoder(c)
    val pixelBytes = ByteBuffer.wrap(pixelsFile.readBytes()).order(ByteOrder.BIG_ENDIAN)
    val pixels = IntArray(encoder.width * encoder.height) { pixelBytes.getInt() }
    val tensor = encoder.newTensor()
    encoder.encode(pixels, tensor)
    File(outDir, "encoded.bin").writeBytes(bytesOf(tensor))

    val raw = rawFile.readBytes()
    val rawTensor = if (c.outputIsQuantized) {
        TensorData.Bytes(raw)
    } else {
        val floats = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
        TensorData.Floats(FloatArray(floats.remaining()).also { floats.get(it) })
    }
    val decoder = OutputDecoder(c)
    val probs = FloatArray(decoder.width * decoder.height)
    decoder.decode(rawTensor, probs)
    File(outDir, "probs.bin").writeBytes(bytesOf(TensorData.Floats(probs)))
}

private fun bytesOf(tensor: TensorData): ByteArray = when (tensor) {
    is TensorData.Bytes -> tensor.values

    is TensorData.Floats -> ByteBuffer.allocate(4 * tensor.values.size).order(ByteOrder.LITTLE_ENDIAN)
        .also { b -> tensor.values.forEach { b.putFloat(it) } }.array()
}
