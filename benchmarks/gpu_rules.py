"""The GPU delegate's rules (OpenCL/OpenGL): which ops, tensor types and parameters its parsers take.

The op list and the rules each op needs are data (benchmarks/profiles/delegate_ops.json, "gpu");
the rules themselves are here, each named as the table names it.
"""
from __future__ import annotations

from typing import Any

from portrait_bench.compat_types import CheckOptions, CompatError, DelegateRules, OpVerdict, verdict_of
from portrait_mobile.tflite_graph import Op, TFLiteGraph


def _rule(rule: str, op: Op, g: TFLiteGraph) -> str | None:
    o = op.option_values
    runtime_inputs = [g.t(i) for i in op.inputs if i >= 0 and g.t(i) is not None and not g.t(i).is_const]
    if rule == "gpu_fused_activation":
        if int(o.get("fusedActivationFunction", 0) or 0) == 5:
            return "fused SIGN_BIT activation not supported"
    elif rule == "gpu_runtime_inputs_le_2":
        if len(runtime_inputs) > 2:
            return "more than 2 runtime inputs"
    elif rule == "gpu_depth_multiplier":
        t0 = g.t(op.inputs[0])
        if o.get("depthMultiplier", 1) != 1 and t0 is not None and t0.rank == 4 and t0.shape[3] != 1:
            return "depth_multiplier != 1 with more than one input channel"
    elif rule == "gpu_fc":
        if int(o.get("weightsFormat", 0) or 0) != 0:
            return "non-default FullyConnected weights format"
        if len(runtime_inputs) > 2:
            return "more than 2 runtime inputs"
        if o.get("keepNumDims"):
            t0, out = g.t(op.inputs[0]), g.t(op.outputs[0])
            if t0 is not None and out is not None and t0.rank != out.rank:
                return "keep_num_dims with different input/output ranks"
    elif rule == "gpu_pad":
        if op.builtin == "MIRROR_PAD" and int(o.get("mode", 0) or 0) != 0:
            return "only REFLECT mirror padding"
        if len(runtime_inputs) != 1:
            return "expected exactly one runtime input"
        p = g.t(op.inputs[1]) if len(op.inputs) > 1 else None
        if p is None or p.rank != 2 or p.shape[0] not in (3, 4) or p.shape[1] != 2:
            return "paddings must be a 4x2 or 3x2 tensor"
    elif rule == "gpu_const_axes":
        a = g.t(op.inputs[1]) if len(op.inputs) > 1 else None
        if a is None or not a.is_const or a.dtype != "int32":
            return "axes must be a constant int32 tensor"
    else:  # pragma: no cover
        raise CompatError(f"unknown GPU rule {rule!r}")
    return None


def check_op(op: Op, g: TFLiteGraph, table: dict[str, Any], opts: CheckOptions) -> OpVerdict:
    allow_quant_ops = opts.allow_quant_ops
    if op.builtin == "CUSTOM":
        if op.custom_code in table.get("custom_ops", {}):
            return OpVerdict("ok", table["custom_ops"][op.custom_code])
        return OpVerdict("unsupported", f"custom op {op.custom_code} has no GPU parser")
    if g.is_const_dequantize(op):
        return OpVerdict("ok", "constant weights dequantized at delegation time")
    entry = table["ops"].get(op.builtin)
    if entry is None:
        return OpVerdict("unsupported", "no GPU delegate parser for this op")
    if entry.get("quant_op") and not allow_quant_ops:
        return OpVerdict("unsupported", "quantized ops disabled")
    mv = entry.get("max_version")
    if mv is not None and op.version > mv:
        return OpVerdict("unsupported", f"op version {op.version} > {mv}")
    allowed = {"float32", "float16"} | ({"int8", "uint8"} if allow_quant_ops else set())
    for i in (*op.inputs, *op.outputs):
        t = g.t(i) if i >= 0 else None
        if t is not None and not t.is_const and t.dtype not in allowed:
            return OpVerdict("unsupported", f"{t.dtype} runtime tensor (GPU takes {'/'.join(sorted(allowed))})")
    return verdict_of(_rule(rule, op, g) for rule in entry.get("rules", []))


def settings(opts: CheckOptions, maxp: int | None) -> str:
    return f"GPU delegate, quantized ops {'allowed' if opts.allow_quant_ops else 'off'}, max {maxp} delegated partition(s)"


RULES = DelegateRules("gpu", check_op, settings)
