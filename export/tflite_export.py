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

Steps, one module each: `tflite_convert` (litert-torch fp32), `tflite_quantize` (ai-edge-quantizer),
`tflite_rewrite` (flatbuffer surgery), `tflite_inspect` (what the file holds), then the gate.

Size: the quantized flatbuffer is rewritten (`tflite_rewrite.finalize`): PyTorch scope tensor names
(about a quarter of the int8 file) become t<index>, the per-channel min/max arrays the quantizer
leaves next to the scales (the runtime never reads them) are dropped, and the contract is added as a
metadata entry.
"""
from __future__ import annotations

import time

from portrait_mobile.atomic import atomic_path
from portrait_mobile.contract import ModelContract, TensorQuant
from portrait_mobile.errors import ExportError

from . import calibration_stats, gate
from . import parity as parity_mod
from .context import ExportContext, ExportResult, path_size, weights_sha256
from .metadata import description, tool_versions, write_sidecar
from .native_output import quiet
from .tflite_convert import convert_fp32
from .tflite_inspect import check_int8, inspect_tflite
from .tflite_quantize import INT8_GRANULARITY, int8_ranges, quantize_fp16, quantize_int8
from .tflite_rewrite import INPUT_NAME, OUTPUT_NAME, U8_SCALE, finalize


def make_contract(ctx: ExportContext, precision: str) -> ModelContract:
    if precision == "int8":
        q = TensorQuant("uint8", U8_SCALE, 0)
        return ctx.base_contract("tflite", precision, input_layout="NHWC", output_layout="NHWC",
                                 input_dtype="uint8", output_dtype="uint8", input_quant=q, output_quant=q,
                                 input_name=INPUT_NAME, output_name=OUTPUT_NAME)
    return ctx.base_contract("tflite", precision, input_layout="NHWC", output_layout="NHWC",
                             input_dtype="float32", output_dtype="float32", input_name=INPUT_NAME,
                             output_name=OUTPUT_NAME)


def export_tflite(ctx: ExportContext, precision: str = "int8") -> ExportResult:
    t0 = time.perf_counter()
    dest = ctx.artifact_path("tflite", precision)
    h, w = ctx.input_size
    contract = make_contract(ctx, precision)
    fp32 = ctx.extra.get("tflite_fp32")
    if fp32 is None:  # shared by the precisions of one export() call
        fp32 = ctx.extra["tflite_fp32"] = convert_fp32(ctx.model, (h, w))
    if precision == "fp32":
        data = fp32
    elif precision == "fp16":
        data = quantize_fp16(fp32)
    elif precision == "int8":
        qsvs, calibration = int8_ranges(ctx, fp32)
        data = quantize_int8(fp32, qsvs, tensorwise_tolerance=INT8_GRANULARITY[ctx.int8_granularity])
    else:
        raise ExportError(f"tflite: unknown precision {precision!r}")
    data = finalize(data, contract, uint8_io=precision == "int8")

    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
        if path_size(tmp) != len(data) or not data:
            raise ExportError(f"tflite: {tmp} was not written completely")
        info = inspect_tflite(tmp)
        spec_failures = []
        want_in = "uint8" if precision == "int8" else "float32"
        if info["input"]["shape"] != [1, h, w, 3] or info["input"]["dtype"] != want_in:
            spec_failures.append(f"input {info['input']['dtype']} {info['input']['shape']}, expected "
                                 f"{want_in} [1, {h}, {w}, 3] (NHWC)")
        if info["output"]["shape"] != [1, h, w, 1]:
            spec_failures.append(f"output {info['output']['shape']}, expected [1, {h}, {w}, 1] (NHWC)")
        if precision == "int8":
            spec_failures += check_int8(info)
            for key, q in (("input", contract.input_quant), ("output", contract.output_quant)):
                s, z = info[key]["quantization"]
                if abs(s - q.scale) > 1e-6 * q.scale or z != q.zero_point:
                    spec_failures.append(f"{key} quantization ({s:.8g}, {z}) differs from the contract "
                                         f"({q.scale:.8g}, {q.zero_point})")
        with quiet():
            backend = parity_mod.open_artifact(tmp, "tflite", threads=2)
        report = parity_mod.compare(ctx.reference, backend, contract, target="tflite", precision=precision,
                                    thresholds=ctx.thresholds)
        report = gate.finalize(report, target="tflite", precision=precision, thresholds=ctx.thresholds,
                               spec_checks=info, spec_failures=spec_failures)
    if precision == "int8" and ctx.extra.get("save_calibration_to") is not None:
        # Only statistics whose artifact passed its gate are worth reusing.
        saved = calibration_stats.save(calibration_stats.CalibrationStats.from_qsvs(
            qsvs, weights_sha256=weights_sha256(ctx.checkpoint), input_size=(h, w), source=calibration,
            tools=tool_versions("litert-torch", "ai-edge-quantizer")), ctx.extra["save_calibration_to"])
        calibration += f"; statistics saved to {saved}"
    if precision == "int8":
        report["calibration"] = calibration  # for the export summary
    seconds = time.perf_counter() - t0
    export_info = {"target": "tflite", "precision": precision, "size_bytes": len(data),
                   "seconds": round(seconds, 2), "description": description(contract),
                   "converter": "litert-torch (fp32, NHWC I/O via to_channel_last_io)",
                   "quantizer": {"fp32": None, "fp16": "ai-edge-quantizer float_casting (fp16 weights)",
                                 "int8": "ai-edge-quantizer static_wi8_ai8, input range pinned to [0,1]"}[precision],
                   "int8_granularity": ctx.int8_granularity if precision == "int8" else None,
                   "calibration": calibration if precision == "int8" else None,
                   "tools": tool_versions("torch", "litert-torch", "ai-edge-litert", "ai-edge-quantizer")}
    json_path = write_sidecar(dest, contract, report, export_info)
    return ExportResult("tflite", precision, dest, json_path, contract, report, len(data),
                        time.perf_counter() - t0)
