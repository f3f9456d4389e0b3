package com.portraitmobile.demo.probe

import com.portraitmobile.demo.contract.ContractLoader
import com.portraitmobile.demo.engine.InferenceEngine
import com.portraitmobile.demo.engine.TensorData
import com.portraitmobile.demo.segmentation.EdgeBand
import com.portraitmobile.demo.segmentation.EdgeRefiner
import com.portraitmobile.demo.segmentation.Mask
import com.portraitmobile.demo.segmentation.RgbImage
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * Runs the app's quality "accurate" on a real edge refiner's export, for tests/demos/test_demo_apps.py
 * to compare with the Python runtime (portrait_mobile/runtime/band.py, refiner.py). Arguments: the
 * assets folder (models/ with a segmenter and the refiner, known by its contract's role), the input
 * folder Python wrote (meta.txt, frame.bin RGB, coarse.bin float32, its working frame py_work_rgb.bin
 * and py_channel.bin, raw_outputs.bin: the refiner's int8 output for each of its tiles, run by LiteRT
 * in Python), the output folder. Each step reads Python's result of the step before; then quality
 * accurate end to end (the band and its snap, as EdgeRefiner.refine runs it) on the replayed outputs.
 */
fun main(args: Array<String>) {
    val (assets, inDir, outDir) = args.map(::File)
    val models = File(assets, ContractLoader.MODELS_ASSET_DIR)
    val discovery = ContractLoader.discover(models.list().orEmpty().toList()) { File(models, it).readText() }
    check(discovery.problems.isEmpty()) { discovery.problems.joinToString("\n") }
    val asset = discovery.refiners.single()
    val c = asset.contract
    val grid = checkNotNull(c.tiles)
    val (input, _, verdict) = checkTensors(assets, asset)
    File(outDir, "refiner.txt").writeText(
        listOf(
            "file" to asset.fileName,
            "role" to c.role,
            "channel" to c.extraChannels.joinToString(","),
            "tiles" to "${grid.core},${grid.margin},${grid.outStride},${grid.workLongSide}",
            "models" to discovery.models.joinToString(",") { it.fileName },
            "input" to "$input",
            "check" to verdict,
        ).joinToString("") { (k, v) -> "$k=$v\n" },
    )

    val meta = File(inDir, "meta.txt").readLines().associate {
        it.substringBefore('=') to it.substringAfter('=').toInt()
    }
    val frame =
        RgbImage(File(inDir, "frame.bin").readBytes(), meta.getValue("frame_width"), meta.getValue("frame_height"))
    val cw = meta.getValue("coarse_width")
    val ch = meta.getValue("coarse_height")
    val coarse = floats(File(inDir, "coarse.bin").readBytes())
    val ww = meta.getValue("work_width")
    val wh = meta.getValue("work_height")
    val pyWork = RgbImage(File(inDir, "py_work_rgb.bin").readBytes(), ww, wh)
    val pyWorkProb = File(inDir, "py_work_prob.bin").readBytes()
    val pyChannel = File(inDir, "py_channel.bin").readBytes()

    // 1. The working frame; 2. the 4th channel, from Python's working frame.
    val (work, workProb) = EdgeBand.toWork(frame, coarse, cw, ch, grid)
    File(outDir, "work.txt").writeText("${work.width} ${work.height}\n")
    File(outDir, "work_rgb.bin").writeBytes(work.pixels)
    File(outDir, "work_prob.bin").writeBytes(workProb)
    File(outDir, "channel.bin").writeBytes(EdgeBand.withChannel(pyWork, pyWorkProb, c.extraChannels.single()))

    // 3. Tiles, encoding, decoding and blend on Python's channel, the refiner's outputs Python's.
    val raw = File(inDir, "raw_outputs.bin").readBytes()
    val replay = Replay(raw, c.maskWidth * c.maskHeight)
    val refiner = EdgeRefiner(replay, c)
    val band = EdgeBand.refineWork(pyWork, pyChannel, grid) { refiner.runTile(it) }
    File(outDir, "origins.txt").writeText(band.tiles.joinToString("\n") { "${it.y} ${it.x}" })
    File(outDir, "encoded.bin").writeBytes(replay.inputs.fold(ByteArray(0)) { a, b -> a + b })
    File(outDir, "refined_real.bin").writeBytes(bytes(band.prob))

    // 3b. Quality accurate as the app runs it (EdgeRefiner.refine: the band from the frame, then the snap),
    // the refiner's outputs replayed again, in the same order.
    val accurate = EdgeRefiner(Replay(raw, c.maskWidth * c.maskHeight), c).refine(frame, Mask(coarse, cw, ch))
    File(outDir, "accurate.txt").writeText("${accurate.width} ${accurate.height}\n")
    File(outDir, "accurate.bin").writeBytes(bytes(accurate.probs))

    // 4. End to end from the frame and the coarse probability, with a stand-in refiner (it writes at half
    // the working resolution, whatever the packaged refiner's stride: that path is checked here).
    val half = grid.copy(outStride = 2)
    val e2e = EdgeBand.refineBand(frame, coarse, cw, ch, half, c.extraChannels.single()) { standIn(it, half.tile) }
    File(outDir, "standin_tiles.txt").writeText("${e2e.tiles.size}\n")
    File(outDir, "refined_standin.bin").writeBytes(bytes(e2e.prob))
    val snapped = EdgeBand.refineBand(frame, coarse, cw, ch, half, c.extraChannels.single(), EdgeBand.ACCURATE_SNAP) {
        standIn(it, half.tile)
    }
    File(outDir, "snapped_standin.bin").writeBytes(bytes(snapped.prob))
}

/** The refiner's outputs, as LiteRT gave them in Python for each tile in turn; the inputs it was given. */
private class Replay(private val raw: ByteArray, private val outSize: Int) : InferenceEngine {
    val inputs = mutableListOf<ByteArray>()
    override val description = "replay of LiteRT's outputs in Python"

    override fun run(input: TensorData): TensorData {
        val n = inputs.size
        inputs += (input as TensorData.Bytes).values.copyOf()
        return TensorData.Bytes(raw.copyOfRange(n * outSize, (n + 1) * outSize))
    }

    override fun close() {}
}

/** The stand-in refiner of tests/demos/band_golden.py: the 4th channel and red, averaged over 2x2. */
private fun standIn(tile: ByteArray, t: Int): FloatArray {
    val s = t / 2
    fun at(y: Int, x: Int, c: Int) = (tile[(y * t + x) * 4 + c].toInt() and 0xFF).toFloat()
    fun pool(y: Int, x: Int, c: Int) =
        ((at(2 * y, 2 * x, c) + at(2 * y, 2 * x + 1, c)) + (at(2 * y + 1, 2 * x, c) + at(2 * y + 1, 2 * x + 1, c))) *
            (1f / 1020f)
    return FloatArray(s * s) {
        val p = pool(it / s, it % s, 3)
        p * p * 0.9f + pool(it / s, it % s, 0) * 0.1f
    }
}

private fun floats(b: ByteArray): FloatArray {
    val buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
    return FloatArray(buf.remaining()).also { buf.get(it) }
}

private fun bytes(f: FloatArray): ByteArray =
    ByteBuffer.allocate(4 * f.size).order(ByteOrder.LITTLE_ENDIAN).also { b -> f.forEach { b.putFloat(it) } }.array()
