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

Size: the quantized flatbuffer is rewritten (`finalize`): PyTorch scope tensor names (about a quarter
of the int8 file) become t<index>, the per-channel min/max arrays the quantizer leaves next to the
scales (the runtime never reads them) are dropped, and the contract is added as a metadata entry.
"""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from portrait_mobile.atomic import atomic_path
from portrait_mobile.contract import CONTRACT_KEY, ModelContract, TensorQuant
from portrait_mobile.errors import ExportError
from portrait_mobile.litert import new_interpreter
from portrait_mobile.preprocess import to_model_input
from portrait_mobile.tflite_weights import op_details

from . import calibration_stats
from . import gate
from . import parity as parity_mod
from .base import ExportContext, ExportResult, path_size, weights_sha256
from .metadata import description, tool_versions, write_sidecar
from .native_output import quiet

INPUT_NAME, OUTPUT_NAME = "image", "mask"
U8_SCALE = 1.0 / 255.0
CALIB_CHUNK = 10
# --int8-granularity -> per-tensor tolerance of `tensorwise_candidates` (None: all per-channel).
# "auto" (2.0) on portrait-s-256, PFCN test (264): 26 of 41 convs per-tensor, 165 -> 136 KB, fg IoU
# unchanged (93.44 vs 93.45); "tensor" (all per-tensor): 115 KB but fg IoU -0.2 and mask IoU 0.987.
INT8_GRANULARITY = {"channel": None, "auto": 2.0, "tensor": float("inf")}
WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


# --- conversion ------------------------------------------------------------------------------------

def convert_fp32(model: Any, input_size: tuple[int, int]) -> bytes:
    """litert-torch conversion of the (BN-folded, eval) model with NHWC input and output."""
    import torch

    with quiet():  # its import logs absl/torchao notices to stderr
        import litert_torch

    litert_torch.config.show_progress = False
    h, w = input_size
    wrapped = litert_torch.to_channel_last_io(model, args=[0], outputs=[0]).eval()
    with quiet() as cap:
        try:
            edge = litert_torch.convert(wrapped, (torch.zeros(1, h, w, 3),))
            data = edge.model_content()
        except Exception as e:
            raise ExportError(f"tflite: litert-torch conversion failed: {type(e).__name__}: {e} "
                              f"({cap.tail()})") from None
    if not data:
        raise ExportError("tflite: litert-torch returned an empty model")
    return bytes(data)


def _signature(model_bytes: bytes) -> tuple[str, str]:
    with quiet():
        sigs = new_interpreter(model_bytes).get_signature_list()
    if len(sigs) != 1:
        raise ExportError(f"tflite: expected one signature, got {sorted(sigs)}")
    key, sig = next(iter(sigs.items()))
    if len(sig["inputs"]) != 1 or len(sig["outputs"]) != 1:
        raise ExportError(f"tflite: expected one input and one output, got {sig}")
    return key, sig["inputs"][0]


def quantize_fp16(fp32: bytes) -> bytes:
    """fp16 weights (float casting, explicit DEQUANTIZE), fp32 compute."""
    with quiet():
        from ai_edge_quantizer import algorithm_manager, qtyping, quantizer

    cfg = qtyping.OpQuantizationConfig(
        weight_tensor_config=qtyping.TensorQuantizationConfig(num_bits=16, dtype=qtyping.TensorDataType.FLOAT),
        compute_precision=qtyping.ComputePrecision.FLOAT, explicit_dequantize=True)
    q = quantizer.Quantizer(bytearray(fp32))
    for op in (qtyping.TFLOperationName.CONV_2D, qtyping.TFLOperationName.DEPTHWISE_CONV_2D):
        q.update_quantization_recipe(regex=".*", operation_name=op, op_config=cfg,
                                     algorithm_key=algorithm_manager.AlgorithmName.FLOAT_CASTING)
    with quiet() as cap:
        try:
            out = q.quantize(enable_progress_report=False).quantized_model
        except Exception as e:
            raise ExportError(f"tflite fp16: ai-edge-quantizer failed: {type(e).__name__}: {e} "
                              f"({cap.tail()})") from None
    return bytes(out)


def tensorwise_candidates(fp32: bytes, tolerance: float) -> dict[str, str]:
    """Conv ops whose weights lose almost nothing with one scale instead of one per channel.

    Per-channel int8 costs 24 bytes a channel in the file (a float32 scale and an int64 zero point,
    for the weights and again for the int32 bias). For each conv, the weights' RMS quantization
    error is computed both ways; where the per-tensor error is at most `tolerance` times the
    per-channel error (the channels' ranges are alike), one scale is harmless.
    Returns {output tensor name (the quantizer's op scope): op name}.
    """
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    m = fbu.read_model_from_bytearray(bytearray(fp32))
    sg = m.subgraphs[0]
    kinds = {schema.BuiltinOperator.CONV_2D: ("CONV_2D", 0), schema.BuiltinOperator.DEPTHWISE_CONV_2D:
             ("DEPTHWISE_CONV_2D", 3)}
    out: dict[str, str] = {}
    for op in sg.operators:
        c = m.operatorCodes[op.opcodeIndex]
        kind = kinds.get(max(c.builtinCode, c.deprecatedBuiltinCode))
        if kind is None or len(op.inputs) < 2:
            continue
        wt = sg.tensors[op.inputs[1]]
        data = m.buffers[wt.buffer].data
        if data is None or wt.type != schema.TensorType.FLOAT32:
            continue
        w = np.frombuffer(bytes(data), np.float32).reshape(wt.shape)
        axis = kind[1]
        other = tuple(i for i in range(w.ndim) if i != axis)
        ch_max = np.maximum(np.abs(w).max(axis=other, keepdims=True), 1e-12)
        err_c = w - np.round(w / (ch_max / 127)) * (ch_max / 127)
        t_max = max(float(np.abs(w).max()), 1e-12)
        err_t = w - np.round(w / (t_max / 127)) * (t_max / 127)
        rms_c, rms_t = float(np.sqrt(np.mean(err_c ** 2))), float(np.sqrt(np.mean(err_t ** 2)))
        if rms_t <= tolerance * max(rms_c, 1e-12):
            out[_s(sg.tensors[op.outputs[0]].name)] = kind[0]
    return out


def int8_recipe(fp32: bytes, tensorwise_tolerance: float | None) -> tuple[list[dict], int]:
    """static_wi8_ai8, with per-tensor weights for the convs `tensorwise_candidates` picks."""
    import copy
    import re

    with quiet():
        from ai_edge_quantizer import recipe

    rec = recipe.static_wi8_ai8()
    if not tensorwise_tolerance:
        return rec, 0
    picked = tensorwise_candidates(fp32, tensorwise_tolerance)
    for name, op in picked.items():
        entry = copy.deepcopy(rec[0])
        entry["regex"] = "^" + re.escape(name) + ";$"
        entry["operation"] = op
        entry["op_config"]["weight_tensor_config"]["granularity"] = "TENSORWISE"
        rec.append(entry)
    return rec, len(picked)


def calibrate_int8(fp32: bytes, calib_images: list[np.ndarray], input_size: tuple[int, int],
                   progress: bool = True) -> dict[str, dict[str, np.ndarray]]:
    """ai-edge-quantizer's calibration result (per-tensor activation min/max) on RGB uint8 images."""
    with quiet():
        from ai_edge_quantizer import quantizer, recipe

    if not calib_images:
        raise ExportError("tflite int8: no calibration images")
    h, w = input_size
    sig_key, in_name = _signature(fp32)
    float_nhwc = ModelContract(model_name="calib", version="", input_height=h, input_width=w)
    batches = [{in_name: to_model_input(img, float_nhwc)} for img in calib_images]
    q = quantizer.Quantizer(bytearray(fp32), recipe.static_wi8_ai8())
    qsvs = None
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(batches), desc="calibrating int8", unit="img", leave=False)
    try:
        for i in range(0, len(batches), CALIB_CHUNK):
            chunk = batches[i:i + CALIB_CHUNK]
            with quiet() as cap:
                try:
                    qsvs = q.calibrate({sig_key: chunk}, previous_calibration_result=qsvs, num_threads=2)
                except Exception as e:
                    raise ExportError(f"tflite int8: calibration failed: {type(e).__name__}: {e} "
                                      f"({cap.tail()})") from None
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    # Pin the input range to exactly [0, 1]: int8 scale 1/255, zero point -128, so uint8 pixels map
    # onto it by a zero-point shift alone. (The calibrator's moving average of per-image min/max
    # would give e.g. [0.016, 0.994], a scale that no pixel format matches.)
    in_tensor = _input_tensor_name(fp32)
    if in_tensor not in qsvs:
        raise ExportError(f"tflite int8: calibration has no range for the input tensor {in_tensor!r}")
    shape = np.shape(qsvs[in_tensor]["min"])
    qsvs[in_tensor] = {**qsvs[in_tensor], "min": np.zeros(shape, np.float32), "max": np.ones(shape, np.float32)}
    return qsvs


def activation_tensors(fp32: bytes) -> set[str]:
    """Names of the tensors calibration gives a range to: every tensor that is not a constant."""
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    m = fbu.read_model_from_bytearray(bytearray(fp32))
    sg = m.subgraphs[0]
    return {_s(t.name) for t in sg.tensors
            if m.buffers[t.buffer].data is None or len(m.buffers[t.buffer].data) == 0}


def quantize_int8(fp32: bytes, qsvs: dict[str, dict[str, np.ndarray]],
                  tensorwise_tolerance: float | None = None) -> bytes:
    """Full-integer static quantization (ai-edge-quantizer `static_wi8_ai8`) with calibrated ranges."""
    with quiet():
        from ai_edge_quantizer import quantizer

    rec, _ = int8_recipe(fp32, tensorwise_tolerance)
    q = quantizer.Quantizer(bytearray(fp32), rec)
    with quiet() as cap:
        try:
            out = q.quantize(qsvs, enable_progress_report=False).quantized_model
        except Exception as e:
            raise ExportError(f"tflite int8: ai-edge-quantizer failed: {type(e).__name__}: {e} "
                              f"({cap.tail()})") from None
    return bytes(out)


def int8_ranges(ctx: ExportContext, fp32: bytes) -> tuple[dict[str, dict[str, np.ndarray]], str]:
    """(activation ranges for `quantize_int8`, what they came from): saved statistics or images."""
    stats = ctx.extra.get("int8_stats")
    if stats is not None:
        calibration_stats.check_covers(stats, activation_tensors(fp32))
        return stats.to_qsvs(), f"int8 calibration statistics saved with the weights (made on {stats.source})"
    return calibrate_int8(fp32, ctx.images.calibration_images(), ctx.input_size), ctx.images.calib_source


def _input_tensor_name(model_bytes: bytes) -> str:
    with quiet():
        return new_interpreter(model_bytes).get_input_details()[0]["name"]


# --- flatbuffer rewrite ----------------------------------------------------------------------------

def finalize(model_bytes: bytes, contract: ModelContract, uint8_io: bool) -> bytes:
    """Rename tensors, drop quantization min/max, (int8) add uint8 I/O, embed the contract."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    m = fbu.read_model_from_bytearray(bytearray(model_bytes))
    if len(m.subgraphs) != 1:
        raise ExportError(f"tflite: expected one subgraph, got {len(m.subgraphs)}")
    sg = m.subgraphs[0]
    if len(sg.inputs) != 1 or len(sg.outputs) != 1:
        raise ExportError("tflite: expected one input and one output tensor")

    if uint8_io:
        _add_uint8_io(m, sg, schema)

    # Short names: the PyTorch module scopes litert-torch writes are ~450 bytes per tensor.
    for i, t in enumerate(sg.tensors):
        t.name = f"t{i}"
    sg.tensors[sg.inputs[0]].name = INPUT_NAME
    sg.tensors[sg.outputs[0]].name = OUTPUT_NAME
    for t in sg.tensors:
        q = t.quantization
        if q is None:
            continue
        q.min = None
        q.max = None
        if q.scale is None or len(q.scale) == 0:
            t.quantization = None  # an empty table on a float tensor
    for sd in m.signatureDefs or []:
        sd.inputs[0].name = INPUT_NAME
        sd.inputs[0].tensorIndex = sg.inputs[0]
        sd.outputs[0].name = OUTPUT_NAME
        sd.outputs[0].tensorIndex = sg.outputs[0]
    m.description = f"{contract.model_name} {contract.precision} (portrait-mobile)"

    # The contract as a metadata entry (replacing an older one).
    meta = [md for md in (m.metadata or []) if _s(md.name) != CONTRACT_KEY]
    buf = schema.BufferT()
    buf.data = np.frombuffer(contract.to_json().encode("utf-8"), np.uint8)
    m.buffers.append(buf)
    md = schema.MetadataT()
    md.name = CONTRACT_KEY
    md.buffer = len(m.buffers) - 1
    meta.append(md)
    m.metadata = meta
    return bytes(fbu.convert_object_to_bytearray(m))


def _s(x: Any) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def _opcode_index(m: Any, schema: Any, builtin: int) -> int:
    for i, c in enumerate(m.operatorCodes):
        if max(c.builtinCode, c.deprecatedBuiltinCode) == builtin:
            c.version = max(c.version, 2)
            return i
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, 127)
    code.version = 2
    m.operatorCodes.append(code)
    return len(m.operatorCodes) - 1


def _add_uint8_io(m: Any, sg: Any, schema: Any) -> None:
    """uint8 graph input/output around the int8 graph, each through one QUANTIZE (requantize) op."""
    T = schema.TensorType
    quant_op = _opcode_index(m, schema, schema.BuiltinOperator.QUANTIZE)

    def new_tensor(like: Any, scale: float, zero_point: int) -> int:
        t = schema.TensorT()
        t.shape = list(like.shape)
        t.shapeSignature = None if like.shapeSignature is None else list(like.shapeSignature)
        t.type = T.UINT8
        t.buffer = 0
        q = schema.QuantizationParametersT()
        q.scale = [float(scale)]
        q.zeroPoint = [int(zero_point)]
        q.quantizedDimension = 0
        t.quantization = q
        sg.tensors.append(t)
        return len(sg.tensors) - 1

    def op(i: int, o: int) -> Any:
        x = schema.OperatorT()
        x.opcodeIndex = quant_op
        x.inputs, x.outputs = [i], [o]
        x.builtinOptionsType = schema.BuiltinOptions.QuantizeOptions
        x.builtinOptions = schema.QuantizeOptionsT()
        return x

    old_in, old_out = sg.inputs[0], sg.outputs[0]
    tin, tout = sg.tensors[old_in], sg.tensors[old_out]
    for t, what in ((tin, "input"), (tout, "output")):
        if t.type != T.INT8 or t.quantization is None or t.quantization.scale is None:
            raise ExportError(f"tflite int8: graph {what} is not an int8 tensor (type {t.type})")
    s_in, z_in = float(tin.quantization.scale[0]), int(tin.quantization.zeroPoint[0])
    if abs(s_in - U8_SCALE) > 1e-5 * U8_SCALE or z_in != -128:
        raise ExportError(f"tflite int8: input quantization is scale {s_in:.8g} zero point {z_in}, "
                          f"expected 1/255 and -128")
    new_in = new_tensor(tin, s_in, z_in + 128)  # the same real values: pixel / 255
    new_out = new_tensor(tout, U8_SCALE, 0)
    sg.operators.insert(0, op(new_in, old_in))
    sg.operators.append(op(old_out, new_out))
    sg.inputs, sg.outputs = [new_in], [new_out]


# --- inspection ------------------------------------------------------------------------------------

def inspect_tflite(path: Path) -> dict[str, Any]:
    """Tensor dtypes by role, read back through the LiteRT Interpreter: weights, biases, activations."""
    with quiet():  # LiteRT prints an INFO line when it creates the XNNPACK delegate
        it = new_interpreter(path)
    details = {d["index"]: d for d in it.get_tensor_details()}
    ops = op_details(it)
    written = {i for o in ops for i in o["outputs"]}
    weights: Counter[str] = Counter()
    biases: Counter[str] = Counter()
    weight_roles: dict[int, str] = {}
    # fp16 weights reach the conv through a DEQUANTIZE op: look through it to the stored constant.
    dequant_src = {int(o["outputs"][0]): int(o["inputs"][0]) for o in ops if o["op_name"] == "DEQUANTIZE"}

    def constant(i: int) -> int | None:
        i = dequant_src.get(i, i)
        return i if i >= 0 and i not in written else None

    for o in ops:
        if o["op_name"] in WEIGHT_OPS:
            ins = [int(i) for i in o["inputs"]]
            for pos, role in ((1, "weight"), (2, "bias")):
                c = constant(ins[pos]) if len(ins) > pos else None
                if c is not None:
                    weight_roles[c] = role
    for idx, role in weight_roles.items():
        (weights if role == "weight" else biases)[np.dtype(details[idx]["dtype"]).name] += 1
    # DEQUANTIZE outputs are fp16 weights expanded at load time, not activations.
    dequant_out = {i for o in ops if o["op_name"] == "DEQUANTIZE" for i in o["outputs"]}
    acts = Counter(np.dtype(details[i]["dtype"]).name for i in written if i not in dequant_out)
    per_channel = sum(1 for i, role in weight_roles.items()
                      if role == "weight" and len(details[i]["quantization_parameters"]["scales"]) > 1)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    return {
        "input": {"name": inp["name"], "shape": inp["shape"].tolist(), "dtype": np.dtype(inp["dtype"]).name,
                  "quantization": [float(inp["quantization"][0]), int(inp["quantization"][1])]},
        "output": {"name": out["name"], "shape": out["shape"].tolist(), "dtype": np.dtype(out["dtype"]).name,
                   "quantization": [float(out["quantization"][0]), int(out["quantization"][1])]},
        "ops": dict(Counter(o["op_name"] for o in ops)),
        "weights_dtype": dict(weights),
        "biases_dtype": dict(biases),
        "activations_dtype": dict(acts),
        "per_channel_weight_tensors": per_channel,
        "weight_tensors": len([r for r in weight_roles.values() if r == "weight"]),
    }


def check_int8(info: dict[str, Any]) -> list[str]:
    """Failures if anything but the uint8 I/O is not int8 (int32 biases allowed)."""
    fails = []
    if set(info["weights_dtype"]) != {"int8"}:
        fails.append(f"weights are {info['weights_dtype']}, expected all int8")
    if set(info["biases_dtype"]) - {"int32"}:
        fails.append(f"biases are {info['biases_dtype']}, expected int32")
    acts = dict(info["activations_dtype"])
    acts.pop("uint8", None)  # the graph output
    if set(acts) != {"int8"}:
        fails.append(f"activations are {info['activations_dtype']}, expected int8 (uint8 output)")
    if info["input"]["dtype"] != "uint8" or info["output"]["dtype"] != "uint8":
        fails.append(f"I/O is {info['input']['dtype']} -> {info['output']['dtype']}, expected uint8 -> uint8")
    return fails


# --- the target ------------------------------------------------------------------------------------

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
