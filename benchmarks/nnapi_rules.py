"""The NNAPI delegate's rules: which ops, types and parameters it takes at a given Android API level.

The op list and the rules each op needs are data (benchmarks/profiles/delegate_ops.json, "nnapi");
the rules themselves are here, each named as the table names it.
"""
from __future__ import annotations

from typing import Any

from portrait_bench.compat_types import CheckOptions, CompatError, DelegateRules, OpVerdict, verdict_of
from portrait_mobile.tflite_graph import Op, TFLiteGraph


def _dtype_class(d: str) -> str:
    if d in ("float32", "float16"):
        return "float"
    if d in ("int8", "uint8"):
        return "quant8"
    return d


def _nnapi_types(spec: str, dtype: str, api: int) -> str | None:
    """None if ``dtype`` is allowed by a spec like 'float|quant8@29|int32@30' at ``api``."""
    cls = _dtype_class(dtype)
    for alt in spec.split("|"):
        name, _, at = alt.partition("@")
        need = int(at) if at else 0
        ok = (name == cls) or (name == "float32" and dtype == "float32")
        if name == "float" and dtype not in ("float32", "float16"):
            ok = False
        if ok:
            if api < need:
                return f"{dtype} input needs API {need} (stated {api})"
            return None
    return f"{dtype} input not supported (allowed: {spec})"


def _rule(rule: str, op: Op, g: TFLiteGraph, api: int) -> str | None:
    o = op.option_values
    t0 = g.t(op.inputs[0]) if op.inputs else None
    out = g.t(op.outputs[0]) if op.outputs else None
    if rule == "conv_bias_required":
        if len(op.inputs) < 3 or op.inputs[2] < 0:
            return "Conv2D with omitted bias is not supported"
    elif rule == "dilation_api29":
        if (o.get("dilationHFactor", 1) != 1 or o.get("dilationWFactor", 1) != 1) and api < 29:
            return "dilated convolution needs API 29"
    elif rule == "per_channel_api29":
        f = g.t(op.inputs[1]) if len(op.inputs) > 1 else None
        if f is not None and len(f.scales) > 1 and api < 29:
            return "per-channel quantization needs API 29"
    elif rule == "transpose_conv_const":
        if len(op.inputs) < 2 or not all(g.t(i) is not None and g.t(i).is_const for i in op.inputs[:2]):
            return "output shape and weights must be constant"
    elif rule == "fc_keep_num_dims_api30":
        if o.get("keepNumDims") and api < 30:
            return "keep_num_dims needs API 30"
    elif rule == "rank_le_4":
        if t0 is not None and t0.rank > 4:
            return "input rank > 4"
    elif rule == "avgpool_quant_window":
        if t0 is not None and t0.dtype in ("int8", "uint8") and o.get("filterWidth", 1) * o.get("filterHeight", 1) > 256:
            return "quantized pooling window > 256 overflows the reference path"
    elif rule == "const_input_1":
        if len(op.inputs) >= 2 and op.inputs[1] >= 0:
            t1 = g.t(op.inputs[1])
            if t1 is not None and not t1.is_const:
                return "second input (shape/size/permutation) must be constant"
    elif rule == "resize_nnapi":
        if t0 is not None and t0.rank != 4:
            return "input must have rank 4"
        if len(op.inputs) < 2:
            return "expected a size input"
        t1 = g.t(op.inputs[1])
        if t1 is not None and not t1.is_const:
            return "size input must be constant"
        if api <= 29 and (o.get("alignCorners") or o.get("halfPixelCenters")):
            return "align_corners / half_pixel_centers need API 30"
        if api < 29:
            if out is not None and out.rank == 4 and out.shape[1] != out.shape[2]:
                return "before API 29 the output must be square"
            if t0 is not None and t0.dtype != "float32":
                return "before API 29 only float input"
    elif rule == "no_fused_activation":
        if int(o.get("fusedActivationFunction", 0) or 0) != 0:
            return "fused activation not supported"
    elif rule == "concat_same_quant_before_29":
        if t0 is not None and t0.dtype == "uint8" and api < 29:
            qs = {(g.t(i).scale, g.t(i).zero_point) for i in op.inputs if g.t(i) is not None}
            if len(qs) > 1:
                return "before API 29 quantized inputs must share scale and zero point"
    elif rule == "pad_nnapi":
        if t0 is not None and 0 in t0.shape:
            return "empty input"
        if len(op.inputs) < 2:
            return "expected a paddings input"
        if len(op.inputs) == 3 and api < 29:
            return "a padding value (PadV2) needs API 29"
        if api < 29 and t0 is not None and t0.dtype != "float32":
            return "before API 29 only float32 input"
    elif rule == "nonscalar_output":
        if out is not None and out.rank == 0:
            return "scalar output not supported"
    elif rule == "quantize_output":
        if t0 is not None and not (t0.dtype == "float32" or t0.dtype in ("int8", "uint8")):
            return f"{t0.dtype} input not supported"
        if out is not None:
            if out.dtype == "int8" and api < 30:
                return "int8 output needs API 30"
            if out.dtype not in ("int8", "uint8"):
                return f"{out.dtype} output not supported"
    elif rule == "dequantize_input":
        if t0 is not None:
            if t0.dtype == "float16" and api >= 30 and not t0.is_const:
                return None
            if op.version > 2:
                return "op version > 2"
            allowed = ("uint8",) if api < 29 else ("uint8", "int8")
            if t0.dtype not in allowed:
                return f"{t0.dtype} input not supported at API {api}"
            if api == 29 and t0.dtype == "int8" and (t0.zero_point or 0) != 0:
                return "int8 at API 29 must be symmetric (zero point 0)"
    else:  # pragma: no cover - a typo in the table
        raise CompatError(f"unknown NNAPI rule {rule!r}")
    return None


def check_op(op: Op, g: TFLiteGraph, table: dict[str, Any], opts: CheckOptions) -> OpVerdict:
    entry, api = table["ops"].get(op.builtin), opts.android_api_level
    if op.builtin == "CUSTOM":
        return OpVerdict("unsupported", f"custom op {op.custom_code} has no NNAPI mapping")
    if g.is_const_dequantize(op):
        return OpVerdict("ok", "constant weights dequantized at delegation time")
    if entry is None:
        return OpVerdict("unsupported", "op not handled by the NNAPI delegate")
    if api < entry.get("min_api", 27):
        return OpVerdict("unsupported", f"needs API {entry['min_api']} (stated {api})")
    mv = entry.get("max_version")
    if mv is not None and op.version > mv:
        return OpVerdict("unsupported", f"op version {op.version} > {mv}")
    dyn = [g.t(i) for i in (*op.inputs, *op.outputs) if i >= 0 and g.t(i) is not None]
    if any(-1 in t.shape_signature for t in dyn):
        return OpVerdict("unsupported", "dynamic tensor shape")
    t0 = next((g.t(i) for i in op.inputs if i >= 0 and g.t(i) is not None and not g.t(i).is_const), None)
    if entry.get("types") and t0 is not None:
        r = _nnapi_types(entry["types"], t0.dtype, api)
        if r:
            return OpVerdict("unsupported", r)
    if t0 is not None and t0.dtype == "int8" and api < 29:
        return OpVerdict("unsupported", "signed int8 tensors need API 29")
    return verdict_of(_rule(rule, op, g, api) for rule in entry.get("rules", []))


def settings(opts: CheckOptions, maxp: int | None) -> str:
    return f"NNAPI delegate, Android API level {opts.android_api_level}, max {maxp} delegated partitions"


RULES = DelegateRules("nnapi", check_op, settings)
