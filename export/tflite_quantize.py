"""ai-edge-quantizer on the fp32 .tflite: fp16 weights, or full-integer int8 with calibrated ranges.

litert-torch's own PT2E int8 path fails on this model ("'tfl.pad' op quantization parameters
violate the same scale constraint"), so the converted fp32 flatbuffer is quantized here.
"""
from __future__ import annotations

import numpy as np

from portrait_mobile.contract import ModelContract
from portrait_mobile.errors import ExportError
from portrait_mobile.tflite_graph import read_tflite
from portrait_mobile.model_io import to_model_input

from .native_output import quiet
from .tflite_convert import input_tensor_name, signature

CALIB_CHUNK = 10


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
    g = read_tflite(fp32)
    axes = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3}  # the output-channel axis of each kind's weights
    out: dict[str, str] = {}
    for op in g.ops:
        axis = axes.get(op.builtin)
        if axis is None or len(op.inputs) < 2:
            continue
        wt = g.tensors[op.inputs[1]]
        if wt.data is None or wt.dtype != "float32":
            continue
        w = wt.data
        other = tuple(i for i in range(w.ndim) if i != axis)
        ch_max = np.maximum(np.abs(w).max(axis=other, keepdims=True), 1e-12)
        err_c = w - np.round(w / (ch_max / 127)) * (ch_max / 127)
        t_max = max(float(np.abs(w).max()), 1e-12)
        err_t = w - np.round(w / (t_max / 127)) * (t_max / 127)
        rms_c, rms_t = float(np.sqrt(np.mean(err_c ** 2))), float(np.sqrt(np.mean(err_t ** 2)))
        if rms_t <= tolerance * max(rms_c, 1e-12):
            out[g.output_name(op)] = op.builtin
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


def image_inputs(calib_images: list[np.ndarray], input_size: tuple[int, int]) -> list[np.ndarray]:
    """RGB uint8 images as the fp32 .tflite of a segmenter takes them: float32 [1, H, W, 3] in [0, 1]."""
    h, w = input_size
    float_nhwc = ModelContract(model_name="calib", version="", input_height=h, input_width=w)
    return [to_model_input(img, float_nhwc) for img in calib_images]


def calibrate_int8(fp32: bytes, inputs: list[np.ndarray], progress: bool = True,
                   union: bool = False) -> dict[str, dict[str, np.ndarray]]:
    """ai-edge-quantizer's calibration result (per-tensor activation min/max) on `inputs`, each a batch
    the fp32 .tflite takes (`image_inputs`, or an edge refiner's tiles), every input channel in [0, 1].

    The quantizer keeps a moving average of each input's min/max: right for whole photos, whose ranges
    are alike, too narrow for small tiles, one edge each (an edge refiner's sharpest tiles then clip:
    its int8 outputs were pulled towards 0.5, mean abs diff 0.037). `union`: each input's range is
    measured alone and the ranges are merged (min of the minima, max of the maxima)."""
    with quiet():
        from ai_edge_quantizer import quantizer, recipe

    if not inputs:
        raise ExportError("tflite int8: no calibration inputs")
    sig_key, in_name = signature(fp32)
    batches = [{in_name: x} for x in inputs]
    q = quantizer.Quantizer(bytearray(fp32), recipe.static_wi8_ai8())
    qsvs = None
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(batches), desc="calibrating int8", unit="input", leave=False)
    try:
        step = 1 if union else CALIB_CHUNK
        for i in range(0, len(batches), step):
            chunk = batches[i:i + step]
            with quiet() as cap:
                try:
                    got = q.calibrate({sig_key: chunk}, previous_calibration_result=None if union else qsvs,
                                      num_threads=2)
                    qsvs = _union(qsvs, got) if union and qsvs is not None else got
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
    in_tensor = input_tensor_name(fp32)
    if in_tensor not in qsvs:
        raise ExportError(f"tflite int8: calibration has no range for the input tensor {in_tensor!r}")
    shape = np.shape(qsvs[in_tensor]["min"])
    qsvs[in_tensor] = {**qsvs[in_tensor], "min": np.zeros(shape, np.float32), "max": np.ones(shape, np.float32)}
    return qsvs


def _union(a: dict[str, dict[str, np.ndarray]], b: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, np.ndarray]]:
    out = dict(a)
    for k, v in b.items():
        out[k] = {**v, "min": np.minimum(a[k]["min"], v["min"]), "max": np.maximum(a[k]["max"], v["max"])} if k in a else v
    return out


def activation_tensors(fp32: bytes) -> set[str]:
    """Names of the tensors calibration gives a range to: every tensor that is not a constant."""
    return {t.name for t in read_tflite(fp32).tensors if not t.stored}


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
