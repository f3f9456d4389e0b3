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
}
