package com.portraitmobile.demo.contract

/** An edge refiner's contract as `portrait-export --refiner --target tflite` writes it (refine-t40g, int8: its
 * output at half the working resolution). */
object RefinerContract {
    val json = """
        {
          "author": "portrait-mobile", "color_order": "RGB", "extra_channels": ["guided_probability"],
          "input_dtype": "int8", "input_height": 40, "input_layout": "NHWC", "input_name": "tiles",
          "input_quant": {"dtype": "int8", "scale": 0.003921568859368563, "zero_point": -128},
          "input_width": 40, "mean": [0.0, 0.0, 0.0], "model_card": "", "model_card_version": "",
          "model_name": "refine-t40g", "output_dtype": "int8", "output_height": 20, "output_layout": "NHWC",
          "output_meaning": "refined person probability in [0, 1] of the tile",
          "output_name": "mask", "output_quant": {"dtype": "int8", "scale": 0.00390625, "zero_point": -128},
          "output_width": 20, "precision": "int8", "resize": "contour-tiles", "role": "edge-refiner",
          "schema": "portrait-mobile-contract/1", "std": [1.0, 1.0, 1.0], "target": "tflite",
          "tiles": {"core": 40, "margin": 0, "out_stride": 2, "work_long_side": 512}, "version": "0.1.0"
        }
    """.trimIndent()

    /** The shipped sub-pixel refiner's (refine-t40gs): the same tile, its output at the working resolution. */
    val subPixelJson = json
        .replace("\"refine-t40g\"", "\"refine-t40gs\"")
        .replace("\"output_height\": 20", "\"output_height\": 40")
        .replace("\"output_width\": 20", "\"output_width\": 40")
        .replace("\"out_stride\": 2", "\"out_stride\": 1")
}
