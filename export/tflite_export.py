"""TFLite (LiteRT): litert-torch converts the fp32 model; ai-edge-quantizer makes fp16 / int8.

Why this path (design.md): litert-torch's own PT2E int8 path fails on this model ("'tfl.pad' op
quantization parameters violate the same scale constraint"); converting fp32 with litert-torch and
quantizing the .tflite with ai-edge-quantizer's static int8 recipe works.

Interface, as the app sees it (all NHWC, through `litert_torch.to_channel_last_io`):
- fp32 / fp16: input `image` float32 [1,H,W,3] RGB in [0, 1]; output `mask` float32 [1,H,W,1]
  probability. fp16 stores the conv weights in fp16 (DEQUANTIZE at load), compute stays fp32.
- int8: input `image` uint8 [1,H,W,3], scale 1/255, zero point 0 -- the raw RGB pixels, no
  normalization step in the app; output `mask` uint8 [1,H,W,1], scale 1/255, zero point 0 -- the
  probability as an 8-bit alpha (prob = q / 255). Inside, every weight is int8 (biases int32) and
  every activation int8: the calibrated input range is pinned to [0, 1] so the int8 input scale is
  exactly 1/255 (zero point -128), and one QUANTIZE op at each end converts uint8 <-> int8 (a
  zero-point shift at the input, sigmoid's fixed 1/256 scale to 1/255 at the output).

An edge refiner (`convert_refiner_tflite`): input `tiles` [1,T,T,4] (R, G, B, coarse probability),
output `mask` [1,T/s,T/s,1]; fp32 / fp16 float32 in [0, 1]; int8 keeps **int8** I/O (input scale
1/255, zero point -128: the tiles' uint8 values minus 128; output the sigmoid's 1/256, -128): the two
QUANTIZE ops of a uint8 interface cost 0.025 M ARM instructions a tile, 7% of the refiner's count,
which the ARM budget cannot spare. Calibrated on contour tiles of the calibration photos
(`refiner_parity.TileReference.calibration_inputs`), or the statistics saved beside its weights.

Steps, one module each: `tflite_convert` (litert-torch fp32), `tflite_quantize` (ai-edge-quantizer),
`tflite_rewrite` (flatbuffer surgery), `tflite_inspect` (what the file holds); `exporter.export_target`
writes, checks and gates the result like every target's.

Size: the quantized flatbuffer is rewritten (`tflite_rewrite.finalize`): PyTorch scope tensor names
(about a quarter of the int8 file) become t<index>, the per-channel min/max arrays the quantizer
leaves next to the scales (the runtime never reads them) are dropped, and the contract is added as a
metadata entry.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from portrait_mobile.contract import ModelContract, TensorQuant

from portrait_mobile.errors import ExportError

from .context import INT8_GRANULARITY, ExportContext
from .exporter import Converted
from .int8_calibration import Int8Ranges
from .metadata import description
from .tflite_convert import convert_fp32
from .tflite_inspect import check_int8, inspect_tflite
from .tflite_quantize import image_inputs, quantize_fp16, quantize_int8
from .tflite_rewrite import INPUT_NAME, OUTPUT_NAME, U8_SCALE, finalize

QUANTIZER = {"fp32": None, "fp16": "ai-edge-quantizer float_casting (fp16 weights)",
             "int8": "ai-edge-quantizer static_wi8_ai8, input range pinned to [0,1]"}


def make_contract(ctx: ExportContext, precision: str) -> ModelContract:
    if precision == "int8":
        q = TensorQuant("uint8", U8_SCALE, 0)
        return ctx.base_contract("tflite", precision, input_layout="NHWC", output_layout="NHWC",
                                 input_dtype="uint8", output_dtype="uint8", input_quant=q, output_quant=q,
                                 input_name=INPUT_NAME, output_name=OUTPUT_NAME)
    return ctx.base_contract("tflite", precision, input_layout="NHWC", output_layout="NHWC",
                             input_dtype="float32", output_dtype="float32", input_name=INPUT_NAME,
                             output_name=OUTPUT_NAME)


def convert_tflite(ctx: ExportContext, precision: str = "int8") -> Converted:
    """The .tflite with its contract as metadata; `export_target` writes, checks and gates it."""
    h, w = ctx.input_size
    contract = make_contract(ctx, precision)
    fp32 = ctx.shared("tflite_fp32", lambda: convert_fp32(ctx.model, (h, w)))  # every precision starts there
    data, ranges = _quantized(ctx, fp32, precision, lambda: (image_inputs(ctx.images.calibration_images(), (h, w)),
                                                             ctx.images.calib_source))
    data = finalize(data, contract, uint8_io=precision == "int8")

    def check(path: Path, backend: Any) -> tuple[dict[str, Any], list[str]]:
        info = inspect_tflite(path)
        failures = io_failures(info, [1, h, w, 3], "uint8" if precision == "int8" else "float32", [1, h, w, 1])
        if precision == "int8":
            failures += check_int8(info)
            for key, q in (("input", contract.input_quant), ("output", contract.output_quant)):
                s, z = info[key]["quantization"]
                if abs(s - q.scale) > 1e-6 * q.scale or z != q.zero_point:
                    failures.append(f"{key} quantization ({s:.8g}, {z}) differs from the contract "
                                    f"({q.scale:.8g}, {q.zero_point})")
        return info, failures

    return _converted(ctx, contract, check, data, precision, ranges, threads=2)


def _quantized(ctx: ExportContext, fp32: bytes, precision: str,
               inputs: Callable[[], tuple[list, str]], union: bool = False) -> tuple[bytes, Int8Ranges | None]:
    """The fp32 file at `precision` (int8: calibrated on `inputs()` or the saved statistics) and its ranges."""
    if precision == "fp32":
        return fp32, None
    if precision == "fp16":
        return quantize_fp16(fp32), None
    if ctx.calibration is None:
        raise ExportError("tflite int8: the export planned no int8 calibration")
    ranges = ctx.calibration.ranges(fp32, inputs, union=union)
    return quantize_int8(fp32, ranges.qsvs, tensorwise_tolerance=INT8_GRANULARITY[ctx.options.int8_granularity]), ranges


def _converted(ctx: ExportContext, contract: ModelContract, check: Any, data: bytes, precision: str,
               ranges: Int8Ranges | None, threads: int) -> Converted:
    """The Converted of a .tflite: its facts, and the calibration's after-the-gate step."""
    facts = {"description": description(contract),
             "converter": "litert-torch (fp32, NHWC I/O via to_channel_last_io)", "quantizer": QUANTIZER[precision],
             "int8_granularity": ctx.options.int8_granularity if precision == "int8" else None,
             "calibration": ranges.described if ranges else None}
    after_gate = None
    if ranges is not None:
        def after_gate(report: dict[str, Any]) -> None:
            text = ctx.calibration.after_gate(ranges)  # --save-calibration saves them now
            report["calibration"] = text  # for the export summary
            facts["calibration"] = text
    return Converted(contract, check, tools=("torch", "litert-torch", "ai-edge-litert", "ai-edge-quantizer"),
                     data=data, threads=threads, facts=facts, after_gate=after_gate)


def convert_refiner_tflite(ctx: ExportContext, precision: str = "int8") -> Converted:
    """An edge refiner's .tflite (int8 I/O at int8) with its contract as metadata; `export_target`
    writes, checks and gates it on contour tiles (refiner_parity)."""
    grid = ctx.model.config.grid()
    t, ot = grid.tile, grid.out_tile
    fp32 = ctx.shared("tflite_fp32", lambda: convert_fp32(ctx.model, (t, t), channels=4))

    def tiles() -> tuple[list, str]:
        batches = ctx.reference.calibration_inputs(ctx.images.calibration_images())
        return batches, f"{len(batches)} contour tiles of {ctx.images.calib_source}, ranges merged"

    data, ranges = _quantized(ctx, fp32, precision, tiles, union=True)
    if precision == "int8":
        io = inspect_io(data)
        contract = ctx.base_contract("tflite", precision, input_layout="NHWC", output_layout="NHWC",
                                     input_dtype="int8", output_dtype="int8",
                                     input_quant=TensorQuant("int8", *io["input"]), output_quant=TensorQuant("int8", *io["output"]))
    else:
        contract = ctx.base_contract("tflite", precision, input_layout="NHWC", output_layout="NHWC",
                                     input_dtype="float32", output_dtype="float32")
    data = finalize(data, contract, uint8_io=False)
    io_dtype = contract.input_dtype

    def check(path: Path, backend: Any) -> tuple[dict[str, Any], list[str]]:
        info = inspect_tflite(path)
        failures = io_failures(info, [1, t, t, 4], io_dtype, [1, ot, ot, 1])
        if precision == "int8":
            failures += check_int8(info, io_dtype="int8")
            if abs(contract.input_quant.scale * 255 - 1) > 1e-6 or contract.input_quant.zero_point != -128:
                failures.append(f"input quantization {contract.input_quant} is not the tiles' uint8 values / 255")
        return info, failures

    return _converted(ctx, contract, check, data, precision, ranges, threads=1)


def io_failures(info: dict[str, Any], in_shape: list[int], in_dtype: str, out_shape: list[int]) -> list[str]:
    """What of the written file's input/output (inspect_tflite) differs from the NHWC shapes and dtype asked."""
    failures = []
    if info["input"]["shape"] != in_shape or info["input"]["dtype"] != in_dtype:
        failures.append(f"input {info['input']['dtype']} {info['input']['shape']}, expected {in_dtype} {in_shape} (NHWC)")
    if info["output"]["shape"] != out_shape:
        failures.append(f"output {info['output']['shape']}, expected {out_shape} (NHWC)")
    return failures


def inspect_io(model_bytes: bytes) -> dict[str, tuple[float, int]]:
    """(scale, zero point) of the graph's input and output, as LiteRT reads them."""
    from portrait_mobile.litert import new_interpreter

    from .native_output import quiet

    with quiet():
        it = new_interpreter(model_bytes)
    d = {"input": it.get_input_details()[0], "output": it.get_output_details()[0]}
    return {k: (float(v["quantization"][0]), int(v["quantization"][1])) for k, v in d.items()}
