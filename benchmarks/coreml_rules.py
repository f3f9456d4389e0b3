"""Core ML's rules: which ops are reported to stay on the Apple Neural Engine (a heuristic).

Per op the table (benchmarks/profiles/delegate_ops.json, "coreml") says ok / unsupported / uncertain;
the parameter rules that move an op off the ANE are here. Uncertain ops count off the ANE for
coverage, but only unsupported ones fail the check.
"""
from __future__ import annotations

from typing import Any

from portrait_bench.compat_types import CheckOptions, CompatError, DelegateRules, OpVerdict
from portrait_mobile.tflite_graph import Op, TFLiteGraph


def check_op(op: Op, g: TFLiteGraph, table: dict[str, Any], opts: CheckOptions) -> OpVerdict:
    key = op.builtin
    entry = table["ops"].get(key)
    if entry is None:
        return OpVerdict("uncertain", "not in the table: unknown on the ANE")
    status = {"ok": "ok", "unsupported": "unsupported", "uncertain": "uncertain", "not_applicable": "n/a"}[entry["status"]]
    if status != "ok":
        return OpVerdict(status, entry.get("note", ""))
    o = op.option_values
    for rule in entry.get("rules", []):
        if rule == "ane_dilation":
            if o.get("dilationHFactor", 1) != 1 or o.get("dilationWFactor", 1) != 1:
                return OpVerdict("uncertain", "dilated convolution: reported not to run on the ANE (unconfirmed)")
        elif rule == "ane_broadcast":
            shapes = {g.t(i).shape for i in op.inputs if i >= 0 and g.t(i) is not None and not g.t(i).is_const}
            if len(shapes) > 1:
                return OpVerdict("uncertain", "broadcasting elementwise op: broadcastable layers fall off the ANE")
        elif rule == "ane_concat_rank4":
            t0 = g.t(op.inputs[0])
            if t0 is not None and t0.rank != 4:
                return OpVerdict("uncertain", "non-4D concat becomes ConcatND")
        else:  # pragma: no cover
            raise CompatError(f"unknown Core ML rule {rule!r}")
    return OpVerdict("ok", entry.get("note", ""))


def settings(opts: CheckOptions, maxp: int | None) -> str:
    return "Core ML, compute units = all (Neural Engine residency, heuristic)"


RULES = DelegateRules("coreml", check_op, settings,
                      heuristic_note="heuristic: ops not reported problematic are assumed to run on the ANE")
