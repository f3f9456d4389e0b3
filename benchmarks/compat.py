"""NNAPI / GPU delegate / Core ML compatibility of a .tflite, op by op, from its flatbuffer.

Every op is listed with its type, version and parameters, and checked against the data table
benchmarks/profiles/delegate_ops.json (transcribed from the delegates' own sources, see its
``source`` fields) plus the parameter rules implemented below. The report gives, per delegate, which
ops it takes, why it refuses the others, the number of delegate partitions and the share of ops that
would run on the delegate. A model that would fall back to the CPU for any op fails the check.

Partitions are counted as maximal runs of supported ops in execution (topological) order. TFLite's
partitioner can sometimes merge runs that are not adjacent in that order, so the count is an upper
bound; a model with every op supported is always one partition.

Nothing here runs a delegate: on this x86 host there is no NNAPI driver, GPU delegate or Core ML.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .datafile import load_json_file

import numpy as np

TABLE_FILE = Path(__file__).resolve().parent / "profiles" / "delegate_ops.json"
DELEGATES = ("nnapi", "gpu", "coreml")
_ACT = {0: "", 1: "relu", 2: "relu_n1_1", 3: "relu6", 4: "tanh", 5: "sign_bit"}


class CompatError(ValueError):
    """The model cannot be read or the request is invalid."""


# ------------------------------------------------------------------ reading the graph

@dataclass
class TensorInfo:
    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    is_const: bool
    scales: int = 0
    zero_point: int | None = None
    scale: float | None = None

    @property
    def rank(self) -> int:
        return len(self.shape)


@dataclass
class OpInfo:
    index: int
    op: str  # BuiltinOperator name, or CUSTOM
    version: int
    custom_code: str | None
    inputs: list[int]
    outputs: list[int]
    options: dict[str, Any]
    output_name: str = ""

    @property
    def label(self) -> str:
        return f"CUSTOM({self.custom_code})" if self.op == "CUSTOM" else self.op


@dataclass
class Graph:
    path: str
    ops: list[OpInfo]
    tensors: list[TensorInfo]
    inputs: list[int]
    outputs: list[int]

    def t(self, i: int) -> TensorInfo | None:
        return self.tensors[i] if 0 <= i < len(self.tensors) else None


def _enum_names(cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


def read_graph(path: str | Path) -> Graph:
    """The main subgraph of a .tflite: ops in execution order, tensors with dtype, shape, constness."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    p = Path(path)
    if not p.is_file():
        raise CompatError(f"model not found: {p}")
    try:
        model = flatbuffer_utils.read_model(str(p))
    except Exception as e:  # flatbuffers raises assorted errors on garbage
        raise CompatError(f"{p} is not a readable .tflite flatbuffer: {e}") from None
    if not model.subgraphs:
        raise CompatError(f"{p} has no subgraph")
    op_names = _enum_names(schema.BuiltinOperator)
    type_names = {k: v.lower() for k, v in _enum_names(schema.TensorType).items()}
    sg = model.subgraphs[0]

    def is_const(buf_idx: int) -> bool:
        if buf_idx <= 0 or buf_idx >= len(model.buffers):
            return False
        b = model.buffers[buf_idx]
        data = getattr(b, "data", None)
        return (data is not None and len(data) > 0) or getattr(b, "offset", 0) > 1

    tensors = []
    for i, t in enumerate(sg.tensors):
        q = t.quantization
        scales = 0 if q is None or q.scale is None else int(np.size(q.scale))
        zp = None if q is None or q.zeroPoint is None or np.size(q.zeroPoint) == 0 else int(np.ravel(q.zeroPoint)[0])
        sc = None if not scales else float(np.ravel(q.scale)[0])
        name = t.name.decode("utf-8", "replace") if isinstance(t.name, bytes) else str(t.name or "")
        shape = tuple(int(s) for s in (t.shape if t.shape is not None else []))
        sig = tuple(int(s) for s in (t.shapeSignature if t.shapeSignature is not None else shape))
        tensors.append(TensorInfo(i, name, type_names.get(t.type, str(t.type)), shape, sig, is_const(t.buffer), scales, zp, sc))

    ops = []
    for i, o in enumerate(sg.operators):
        oc = model.operatorCodes[o.opcodeIndex]
        code = max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))
        name = op_names.get(code, f"BUILTIN_{code}")
        custom = oc.customCode.decode() if isinstance(oc.customCode, bytes) else oc.customCode
        opts = {}
        if o.builtinOptions is not None:
            opts = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in vars(o.builtinOptions).items()}
        outs = [int(x) for x in (o.outputs if o.outputs is not None else [])]
        out_name = tensors[outs[0]].name if outs and 0 <= outs[0] < len(tensors) else ""
        ops.append(
            OpInfo(
                index=i,
                op=name,
                version=int(oc.version or 1),
                custom_code=custom,
                inputs=[int(x) for x in (o.inputs if o.inputs is not None else [])],
                outputs=outs,
                options=opts,
                output_name=out_name,
            )
        )
    # Constant weights stored as float16 and dequantized in the graph (DEQUANTIZE of a constant): the
    # NNAPI and GPU delegates fold these at delegation time, so their outputs count as constants.
    for op in ops:
        if op.op == "DEQUANTIZE" and op.inputs and op.outputs and tensors[op.inputs[0]].is_const:
            for o_idx in op.outputs:
                tensors[o_idx].is_const = True
    return Graph(str(p), ops, tensors, [int(x) for x in sg.inputs], [int(x) for x in sg.outputs])


def is_const_dequantize(op: OpInfo, g: Graph) -> bool:
    """DEQUANTIZE of a constant (float16 or int8 weights): folded by the delegates, not run."""
    t0 = g.t(op.inputs[0]) if op.op == "DEQUANTIZE" and op.inputs else None
    return t0 is not None and t0.is_const


def op_params(op: OpInfo, g: Graph) -> str:
    """A short human description of the op's parameters."""
    o = op.options
    parts: list[str] = []
    if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"):
        f = g.t(op.inputs[1]) if len(op.inputs) > 1 else None
        if f is not None and f.rank == 4:
            parts.append(f"{f.shape[1]}x{f.shape[2]}")
        if "strideH" in o:
            parts.append(f"s{o['strideH']}")
        dh, dw = o.get("dilationHFactor", 1), o.get("dilationWFactor", 1)
        if dh != 1 or dw != 1:
            parts.append(f"d{dh}" if dh == dw else f"d{dh}x{dw}")
        if op.op == "DEPTHWISE_CONV_2D" and o.get("depthMultiplier", 1) != 1:
            parts.append(f"x{o['depthMultiplier']}")
    if op.op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        parts.append(f"{o.get('filterHeight')}x{o.get('filterWidth')} s{o.get('strideH')}")
    if op.op in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"):
        out = g.t(op.outputs[0]) if op.outputs else None
        if out is not None and out.rank == 4:
            parts.append(f"->{out.shape[1]}x{out.shape[2]}")
        if o.get("alignCorners"):
            parts.append("align_corners")
        if o.get("halfPixelCenters"):
            parts.append("half_pixel")
    if op.op == "CONCATENATION":
        parts.append(f"axis={o.get('axis')}")
    act = _ACT.get(int(o.get("fusedActivationFunction", 0) or 0), "")
    if act:
        parts.append(act)
    ins = [g.t(i) for i in op.inputs if i >= 0]
    dyn = [t for t in ins if t is not None and not t.is_const]
    outs = [g.t(i) for i in op.outputs]
    ti = dyn[0].dtype if dyn else (ins[0].dtype if ins and ins[0] else "?")
    to = outs[0].dtype if outs and outs[0] else "?"
    parts.append(f"{_short_dtype(ti)}->{_short_dtype(to)}")
    if len(op.inputs) > 1 and op.op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        f = g.t(op.inputs[1])
        if f is not None and f.scales > 1:
            parts.append("per-channel")
    return " ".join(p for p in parts if p)


def _short_dtype(d: str) -> str:
    return {"float32": "f32", "float16": "f16", "int8": "i8", "uint8": "u8", "int32": "i32", "int16": "i16"}.get(d, d)


# ------------------------------------------------------------------ the table

@lru_cache(maxsize=4)
def _load_table(path: str) -> dict[str, Any]:
    return load_json_file(path, "portrait-bench-delegate-ops/1", "delegate op table", CompatError)


def load_table(path: str | Path | None = None) -> dict[str, Any]:
    return _load_table(str(path or TABLE_FILE))


# ------------------------------------------------------------------ verdicts

@dataclass
class OpVerdict:
    status: str  # ok | unsupported | uncertain | n/a
    reason: str = ""

    @property
    def delegated(self) -> bool:
        return self.status in ("ok", "n/a")


@dataclass
class DelegateReport:
    delegate: str
    settings: str
    source: str
    verdicts: list[OpVerdict]
    partitions: int
    max_partitions: int | None
    delegated_ops: int
    total_ops: int
    passed: bool
    warnings: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def coverage_pct(self) -> float:
        return 100.0 * self.delegated_ops / self.total_ops if self.total_ops else 100.0

    @property
    def fallback_ops(self) -> list[int]:
        return [i for i, v in enumerate(self.verdicts) if not v.delegated]

    def summary(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        if self.passed and self.warnings:
            status = "PASS with warnings"
        s = (
            f"{self.delegate}: {status} - {self.delegated_ops}/{self.total_ops} ops on the delegate "
            f"({self.coverage_pct:.0f}%), {self.partitions} partition{'s' if self.partitions != 1 else ''}"
        )
        if self.max_partitions is not None and self.partitions > self.max_partitions:
            s += f" (delegate keeps the {self.max_partitions} largest)"
        if self.warnings:
            s += f", {self.warnings} uncertain op{'s' if self.warnings != 1 else ''}"
        return s

    def to_dict(self) -> dict[str, Any]:
        return {
            "delegate": self.delegate,
            "settings": self.settings,
            "source": self.source,
            "passed": self.passed,
            "coverage_pct": round(self.coverage_pct, 2),
            "delegated_ops": self.delegated_ops,
            "total_ops": self.total_ops,
            "partitions": self.partitions,
            "max_partitions": self.max_partitions,
            "warnings": self.warnings,
            "fallback_ops": self.fallback_ops,
            "notes": self.notes,
            "ops": [{"status": v.status, "reason": v.reason} for v in self.verdicts],
        }


@dataclass
class CompatReport:
    model: str
    graph: Graph
    delegates: dict[str, DelegateReport]

    @property
    def passed(self) -> bool:
        return all(d.passed for d in self.delegates.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "passed": self.passed,
            "ops": [
                {
                    "index": op.index,
                    "op": op.label,
                    "version": op.version,
                    "params": op_params(op, self.graph),
                    "layer": op.output_name,
                }
                for op in self.graph.ops
            ],
            "delegates": {k: v.to_dict() for k, v in self.delegates.items()},
        }


def _runs(flags: list[bool]) -> list[list[int]]:
    runs: list[list[int]] = []
    cur: list[int] = []
    for i, f in enumerate(flags):
        if f:
            cur.append(i)
        elif cur:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return runs


def count_partitions(flags: list[bool]) -> int:
    """Maximal runs of supported ops in execution order."""
    return len(_runs(flags))


# ---- NNAPI

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


def _nnapi_rule(rule: str, op: OpInfo, g: Graph, api: int) -> str | None:
    o = op.options
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
        if f is not None and f.scales > 1 and api < 29:
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


def _check_nnapi_op(op: OpInfo, g: Graph, entry: dict[str, Any] | None, api: int) -> OpVerdict:
    if op.op == "CUSTOM":
        return OpVerdict("unsupported", f"custom op {op.custom_code} has no NNAPI mapping")
    if is_const_dequantize(op, g):
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
    for rule in entry.get("rules", []):
        r = _nnapi_rule(rule, op, g, api)
        if r:
            return OpVerdict("unsupported", r)
    return OpVerdict("ok")


# ---- GPU

def _gpu_rule(rule: str, op: OpInfo, g: Graph) -> str | None:
    o = op.options
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
        if op.op == "MIRROR_PAD" and int(o.get("mode", 0) or 0) != 0:
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


def _check_gpu_op(op: OpInfo, g: Graph, table: dict[str, Any], allow_quant_ops: bool) -> OpVerdict:
    if op.op == "CUSTOM":
        if op.custom_code in table.get("custom_ops", {}):
            return OpVerdict("ok", table["custom_ops"][op.custom_code])
        return OpVerdict("unsupported", f"custom op {op.custom_code} has no GPU parser")
    if is_const_dequantize(op, g):
        return OpVerdict("ok", "constant weights dequantized at delegation time")
    entry = table["ops"].get(op.op)
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
    for rule in entry.get("rules", []):
        r = _gpu_rule(rule, op, g)
        if r:
            return OpVerdict("unsupported", r)
    return OpVerdict("ok")


# ---- Core ML / ANE

def _check_coreml_op(op: OpInfo, g: Graph, table: dict[str, Any]) -> OpVerdict:
    key = "CUSTOM" if op.op == "CUSTOM" else op.op
    entry = table["ops"].get(key)
    if entry is None:
        return OpVerdict("uncertain", "not in the table: unknown on the ANE")
    status = {"ok": "ok", "unsupported": "unsupported", "uncertain": "uncertain", "not_applicable": "n/a"}[entry["status"]]
    if status != "ok":
        return OpVerdict(status, entry.get("note", ""))
    o = op.options
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


def _delegated_by_partitions(flags: list[bool], max_parts: int | None) -> tuple[int, int]:
    runs = _runs(flags)
    if max_parts is None or len(runs) <= max_parts:
        return len(runs), sum(len(r) for r in runs)
    kept = sorted(runs, key=len, reverse=True)[:max_parts]
    return len(runs), sum(len(r) for r in kept)


def check_graph(
    g: Graph,
    delegates: tuple[str, ...] = DELEGATES,
    android_api_level: int = 30,
    allow_quant_ops: bool = True,
    gpu_max_partitions: int | None = None,
    nnapi_max_partitions: int | None = None,
    table: dict[str, Any] | None = None,
) -> CompatReport:
    table = table or load_table()
    reports: dict[str, DelegateReport] = {}
    n = len(g.ops)
    for d in delegates:
        if d not in DELEGATES:
            raise CompatError(f"unknown delegate {d!r}; known: {DELEGATES}")
        t = table[d]
        if d == "nnapi":
            verdicts = [_check_nnapi_op(op, g, t["ops"].get(op.op), android_api_level) for op in g.ops]
            maxp = nnapi_max_partitions if nnapi_max_partitions is not None else t.get("default_max_delegated_partitions")
            settings = f"NNAPI delegate, Android API level {android_api_level}, max {maxp} delegated partitions"
        elif d == "gpu":
            verdicts = [_check_gpu_op(op, g, t, allow_quant_ops) for op in g.ops]
            maxp = gpu_max_partitions if gpu_max_partitions is not None else t.get("default_max_delegated_partitions")
            settings = f"GPU delegate, quantized ops {'allowed' if allow_quant_ops else 'off'}, max {maxp} delegated partition(s)"
        else:
            verdicts = [_check_coreml_op(op, g, t) for op in g.ops]
            maxp = None
            settings = "Core ML, compute units = all (Neural Engine residency, heuristic)"
        flags = [v.delegated for v in verdicts]
        parts, delegated = _delegated_by_partitions(flags, maxp)
        unsupported = sum(v.status == "unsupported" for v in verdicts)
        uncertain = sum(v.status == "uncertain" for v in verdicts)
        notes = []
        if d == "coreml":
            # uncertain ops are counted off the ANE for coverage, but only 'unsupported' fails the check
            passed = unsupported == 0
            notes.append("heuristic: ops not reported problematic are assumed to run on the ANE")
        else:
            passed = delegated == n and unsupported == 0
        if parts > 1:
            notes.append("partitions: maximal runs of supported ops in execution order (an upper bound)")
        reports[d] = DelegateReport(
            delegate=d,
            settings=settings,
            source=t.get("source", ""),
            verdicts=verdicts,
            partitions=parts,
            max_partitions=maxp,
            delegated_ops=delegated,
            total_ops=n,
            passed=passed,
            warnings=uncertain,
            notes=notes,
        )
    return CompatReport(model=g.path, graph=g, delegates=reports)


def check_model(path: str | Path, delegates: tuple[str, ...] = DELEGATES, **kw: Any) -> CompatReport:
    """Read a .tflite and check it against the delegate tables (see :func:`check_graph`)."""
    return check_graph(read_graph(path), delegates=delegates, **kw)

