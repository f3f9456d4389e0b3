"""A .tflite's main subgraph as plain Python, read from its flatbuffer: ops in execution order, tensors
with dtype, shape, constness and quantization, and short human names for both.

The delegate check (:mod:`portrait_bench.compat`), the per-op profile and the reports read models here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_ACT = {0: "", 1: "relu", 2: "relu_n1_1", 3: "relu6", 4: "tanh", 5: "sign_bit"}
_STRIPPED_RE = re.compile(r"^t\d+$")  # exports that rename tensors to t<index>


class GraphError(ValueError):
    """The model is missing or not a readable .tflite flatbuffer."""


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
        raise GraphError(f"model not found: {p}")
    try:
        model = flatbuffer_utils.read_model(str(p))
    except Exception as e:  # flatbuffers raises assorted errors on garbage
        raise GraphError(f"{p} is not a readable .tflite flatbuffer: {e}") from None
    if not model.subgraphs:
        raise GraphError(f"{p} has no subgraph")
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


def short_layer_name(tensor_name: str) -> str:
    """'...Wrapper/portrait_mobile.model.PortraitNet_wrapped/portrait_mobile.model.Encoder_encoder/
    torch.nn.modules.container.Sequential_1/...Conv2d_conv;...' -> 'encoder.1.0.pw.conv'."""
    candidates = [c for c in tensor_name.split(";") if c] or [tensor_name]
    best: list[str] = []
    for cand in candidates:  # fused ops carry several names; keep the most specific one
        parts = []
        for seg in cand.split("/"):
            cls_attr = seg.rsplit(".", 1)[-1]
            if "_" not in cls_attr:
                continue
            cls, attr = cls_attr.split("_", 1)
            if cls.endswith("Wrapper") or attr == "wrapped":
                continue
            parts.append(attr)
        if len(parts) > len(best):
            best = parts
    if best:
        return ".".join(best)
    first = candidates[0]
    return "output" if "Wrapper" in first else first.rsplit("/", 1)[-1][-48:]


def layer_label(tensor_name: str) -> str:
    """:func:`short_layer_name`, or '' when the export stripped tensor names to t<index>."""
    name = short_layer_name(tensor_name)
    return "" if _STRIPPED_RE.match(name) else name
