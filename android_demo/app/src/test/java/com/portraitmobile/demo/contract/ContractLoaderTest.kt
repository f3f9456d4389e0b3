package com.portraitmobile.demo.contract

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class ContractLoaderTest {
    // As ModelContract.to_json() writes it (portrait_mobile/contract.py).
    private val json = """
        {
          "author": "portrait-mobile", "color_order": "RGB", "input_dtype": "uint8",
          "input_height": 256, "input_layout": "NHWC", "input_name": "image",
          "input_quant": {"dtype": "uint8", "scale": 0.00392156862745098, "zero_point": 0},
          "input_width": 192, "license": "Apache-2.0", "mean": [0.0, 0.0, 0.0], "metrics": {"fg_iou": 0.95},
          "model_name": "portrait-s-256", "output_dtype": "int8", "output_height": 0, "output_layout": "NHWC",
          "output_meaning": "person probability in [0, 1]; threshold 0.5 for a binary mask",
          "output_name": "mask", "output_quant": {"dtype": "int8", "scale": 0.00390625, "zero_point": -128},
          "output_width": 0, "precision": "int8", "resize": "squash",
          "schema": "portrait-mobile-contract/1", "std": [1.0, 1.0, 1.0], "target": "tflite", "version": "0.1.0"
        }
    """.trimIndent()

    @Test
    fun parsesWhatTheExporterWrites() {
        val c = ContractLoader.parse(json)
        assertEquals(256, c.inputHeight)
        assertEquals(192, c.inputWidth)
        assertEquals(192, c.maskWidth)
        assertEquals(TensorQuant("uint8", 1f / 255f, 0), c.inputQuant)
        assertEquals(-128, c.outputQuant?.zeroPoint)
        assertEquals("int8", c.precision)
    }

    @Test
    fun missingQuantIsNull() {
        val c = ContractLoader.parse(
            json.replace("\"input_dtype\": \"uint8\"", "\"input_dtype\": \"float32\"")
                .replace(Regex("\"input_quant\": \\{[^}]*\\}"), "\"input_quant\": null"),
        )
        assertNull(c.inputQuant)
    }

    @Test(expected = ContractException::class)
    fun anotherSchemaIsRefused() {
        ContractLoader.parse(json.replace("portrait-mobile-contract/1", "something-else/9"))
    }

    @Test(expected = ContractException::class)
    fun aCoreMlContractIsRefused() {
        ContractLoader.parse(json.replace("\"target\": \"tflite\"", "\"target\": \"coreml\""))
    }

    @Test
    fun contractFileNameFollowsTheExportNaming() {
        assertEquals("portrait-s-256_int8.tflite.json", ContractLoader.contractFileName("portrait-s-256_int8.tflite"))
    }

    @Test
    fun aMalformedContractHidesOnlyItsOwnModel() {
        val files = mapOf(
            "a_int8.tflite" to "",
            "a_int8.tflite.json" to json,
            "b_fp32.tflite" to "",
            "b_fp32.tflite.json" to "{ not json",
            "c_fp32.tflite" to "",
        )
        val found = ContractLoader.discover(files.keys.toList()) { files.getValue(it) }
        assertEquals(listOf("models/a_int8.tflite"), found.models.map { it.modelPath })
        assertEquals(2, found.problems.size)
        assertTrue(found.problems[0], found.problems[0].startsWith("b_fp32.tflite.json: the contract is not JSON"))
        assertTrue(found.problems[1], found.problems[1].startsWith("c_fp32.tflite: no contract"))
    }

    @Test
    fun anEdgeRefinerIsKnownByItsRoleNotItsName() {
        val refiner = RefinerContract.json
        val files = mapOf(
            // A refiner named like a model, and a model named like a refiner.
            "portrait_int8.tflite" to "",
            "portrait_int8.tflite.json" to refiner,
            "refine-t40g_int8.tflite" to "",
            "refine-t40g_int8.tflite.json" to json,
        )
        val found = ContractLoader.discover(files.keys.toList()) { files.getValue(it) }
        assertEquals(listOf("models/refine-t40g_int8.tflite"), found.models.map { it.modelPath })
        assertEquals(listOf("models/portrait_int8.tflite"), found.refiners.map { it.modelPath })
        assertEquals(emptyList<String>(), found.problems)
        val c = found.refiners.single().contract
        assertTrue(c.isEdgeRefiner)
        assertEquals(TileGrid(core = 40, margin = 0, outStride = 2, workLongSide = 512), c.tiles)
        assertEquals(listOf(ContractLoader.GUIDED_PROBABILITY), c.extraChannels)
        assertEquals(4, c.inputChannels)
        assertEquals(20, c.maskWidth)
        // A segmenter's contract has none of the refiner's fields (they are written only when set).
        val seg = ContractLoader.parse(json)
        assertEquals(ContractLoader.ROLE_SEGMENTER, seg.role)
        assertNull(seg.tiles)
        assertEquals(3, seg.inputChannels)
    }

    @Test
    fun aSubPixelRefinerWritesItsTileAtTheWorkingResolution() {
        val c = ContractLoader.parse(RefinerContract.subPixelJson)
        assertEquals(TileGrid(core = 40, margin = 0, outStride = 1, workLongSide = 512), c.tiles)
        assertEquals(40, c.maskWidth)
        // A 20x20 output does not fit a tile written at stride 1.
        val half = RefinerContract.subPixelJson.replace("\"output_width\": 40", "\"output_width\": 20")
        try {
            ContractLoader.parse(half)
            fail("accepted: $half")
        } catch (e: ContractException) {
            assertTrue(e.message!!.isNotEmpty())
        }
    }

    @Test
    fun aRefinerContractThatDoesNotHoldTogetherIsRefused() {
        val broken = listOf(
            RefinerContract.json.replace("\"role\": \"edge-refiner\"", "\"role\": \"painter\""),
            RefinerContract.json.replace("\"resize\": \"contour-tiles\"", "\"resize\": \"squash\""),
            RefinerContract.json.replace("\"guided_probability\"", "\"depth\""),
            RefinerContract.json.replace("\"core\": 40", "\"core\": 41"),
            RefinerContract.json.replace("\"output_width\": 20", "\"output_width\": 40"),
            RefinerContract.json.replace(Regex("\"tiles\": \\{[^}]*\\}, "), ""),
            // A segmenter with an extra input channel.
            json.replace(
                "\"resize\": \"squash\"",
                "\"resize\": \"squash\", \"extra_channels\": [\"coarse_probability\"]",
            ),
        )
        for (text in broken) {
            try {
                ContractLoader.parse(text)
                fail("accepted: $text")
            } catch (e: ContractException) {
                // refused, with a reason
                assertTrue(e.message!!.isNotEmpty())
            }
        }
    }

    /** Null when [text] is refused with a [ContractException] whose message names each of [words]; else why not. */
    private fun notRefused(text: String, vararg words: String): String? = try {
        ContractLoader.parse(text)
        "accepted"
    } catch (e: ContractException) {
        words.firstOrNull { it !in e.message!! }?.let { "'$it' not in: ${e.message}" }
    }

    private fun refused(text: String, vararg words: String) {
        notRefused(text, *words)?.let { fail("$it\n${text.take(2000)}") }
    }

    @Test
    fun aTamperedOrWrongFieldIsRefusedNamingIt() {
        // (what is replaced, by what, the field the error must name)
        val broken = listOf(
            // Sizes the app would allocate (100000 x 192 x 3 floats), or whose product overflows an Int.
            Triple("\"input_height\": 256", "\"input_height\": 100000", "input_height"),
            Triple("\"input_height\": 256", "\"input_height\": 65536", "input_height"),
            Triple("\"output_height\": 0", "\"output_height\": 100000", "output_height"),
            Triple("\"output_height\": 0", "\"output_height\": -1", "output_height"),
            // Not integers: org.json would truncate 256.5 and read "256" as 256.
            Triple("\"input_height\": 256", "\"input_height\": 256.5", "input_height"),
            Triple("\"input_height\": 256", "\"input_height\": \"256\"", "input_height"),
            Triple("\"input_height\": 256", "\"input_height\": true", "input_height"),
            // Not finite, or a std that flips or flattens the input.
            Triple("\"mean\": [0.0, 0.0, 0.0]", "\"mean\": [NaN, 0.0, 0.0]", "mean"),
            Triple("\"mean\": [0.0, 0.0, 0.0]", "\"mean\": [\"NaN\", 0.0, 0.0]", "mean"),
            Triple("\"std\": [1.0, 1.0, 1.0]", "\"std\": [-1.0, 1.0, 1.0]", "std"),
            Triple("\"std\": [1.0, 1.0, 1.0]", "\"std\": [1e400, 1.0, 1.0]", "std"),
            // A quantization that codes every value alike (a black mask), or whose bytes wrap.
            Triple("\"scale\": 0.00392156862745098", "\"scale\": 0", "input_quant"),
            Triple("\"scale\": 0.00392156862745098", "\"scale\": -0.1", "input_quant"),
            Triple("\"scale\": 0.00392156862745098", "\"scale\": \"NaN\"", "input_quant"),
            Triple("\"scale\": 0.00390625", "\"scale\": 0.0", "output_quant"),
            Triple("\"zero_point\": 0}", "\"zero_point\": 256}", "input_quant"),
            Triple("\"zero_point\": -128}", "\"zero_point\": -129}", "output_quant"),
            Triple("{\"dtype\": \"uint8\"", "{\"dtype\": \"int8\"", "input_quant"),
            // Values no code path knows.
            Triple("\"output_layout\": \"NHWC\"", "\"output_layout\": \"HWC\"", "output_layout"),
            Triple("\"input_layout\": \"NHWC\"", "\"input_layout\": \"nhwc\"", "input_layout"),
            Triple("\"color_order\": \"RGB\"", "\"color_order\": \"RGBA\"", "color_order"),
            Triple("\"input_dtype\": \"uint8\"", "\"input_dtype\": \"float64\"", "input_dtype"),
            Triple("\"precision\": \"int8\"", "\"precision\": \"int4\"", "precision"),
        )
        val wrong = broken.mapNotNull { (from, to, field) ->
            check(json.split(from).size == 2) { "'$from' is not once in the contract" }
            notRefused(json.replace(from, to), field)?.let { "$to: $it" }
        }
        assertEquals(emptyList<String>(), wrong)
    }

    @Test
    fun aContractNestedTooDeeplyIsRefusedNotAStackOverflow() {
        // Android's org.json overflows the stack on it; Gradle's JSON-java may refuse it itself: both name JSON.
        val deep = "[".repeat(100_000) + "]".repeat(100_000)
        refused(json.replace("\"metrics\": {\"fg_iou\": 0.95}", "\"metrics\": {\"x\": $deep}"), "JSON")
        refused("[]", "not a JSON object")
    }

    @Test
    fun anEdgeRefinersTilesAndEncodingMustBeWhatItsTilesAreCodedWith() {
        val r = RefinerContract.json
        refused(r.replace("\"work_long_side\": 512", "\"work_long_side\": 100000"), "work_long_side")
        refused(r.replace("\"core\": 40", "\"core\": 40.5"), "core")
        refused(r.replace("\"core\": 40", "\"core\": \"40\""), "core")
        // The tiles are coded as value / 255, whatever mean and std say: refused rather than silently ignored.
        refused(r.replace("\"mean\": [0.0, 0.0, 0.0]", "\"mean\": [0.5, 0.5, 0.5]"), "mean")
        refused(r.replace("\"std\": [1.0, 1.0, 1.0]", "\"std\": [2.0, 2.0, 2.0]"), "std")
    }

    @Test
    fun aListedNameThatIsNotAPlainFileNameIsNeverOpened() {
        val names = listOf(
            "../evil.tflite", "../evil.tflite.json", "/abs.tflite", "/abs.tflite.json", "sub/x.tflite",
            "sub/x.tflite.json", "..\\y.tflite", "..\\y.tflite.json", "a_int8.tflite", "a_int8.tflite.json",
        )
        val opened = mutableListOf<String>()
        val found = ContractLoader.discover(names) {
            opened += it
            json
        }
        assertEquals(listOf("a_int8.tflite.json"), opened)
        assertEquals(listOf("models/a_int8.tflite"), found.models.map { it.modelPath })
        assertEquals(4, found.problems.size)
        assertTrue(found.problems.toString(), found.problems.all { "not a plain file name" in it })
    }
}
