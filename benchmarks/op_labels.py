"""Short human names for a .tflite's ops and layers, for the benchmark's reports and per-op profiles.

The graph itself is read by :mod:`portrait_mobile.tflite_graph` (the project's one TFLite reader).
"""
from __future__ import annotations

import re

from portrait_mobile.tflite_graph import Op, TFLiteGraph

_ACT = {0: "", 1: "relu", 2: "relu_n1_1", 3: "relu6", 4: "tanh", 5: "sign_bit"}
_STRIPPED_RE = re.compile(r"^t\d+$")  # exports that rename tensors to t<index>


def op_params(op: Op, g: TFLiteGraph) -> str:
    """A short human description of the op's parameters."""
    o = op.option_values
    parts: list[str] = []
    if op.builtin in ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"):
        f = g.t(op.inputs[1]) if len(op.inputs) > 1 else None
        if f is not None and f.rank == 4:
            parts.append(f"{f.shape[1]}x{f.shape[2]}")
        if "strideH" in o:
            parts.append(f"s{o['strideH']}")
        dh, dw = o.get("dilationHFactor", 1), o.get("dilationWFactor", 1)
        if dh != 1 or dw != 1:
            parts.append(f"d{dh}" if dh == dw else f"d{dh}x{dw}")
        if op.builtin == "DEPTHWISE_CONV_2D" and o.get("depthMultiplier", 1) != 1:
            parts.append(f"x{o['depthMultiplier']}")
    if op.builtin in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        parts.append(f"{o.get('filterHeight')}x{o.get('filterWidth')} s{o.get('strideH')}")
    if op.builtin in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"):
        out = g.t(op.outputs[0]) if op.outputs else None
        if out is not None and out.rank == 4:
            parts.append(f"->{out.shape[1]}x{out.shape[2]}")
        if o.get("alignCorners"):
            parts.append("align_corners")
        if o.get("halfPixelCenters"):
            parts.append("half_pixel")
    if op.builtin == "CONCATENATION":
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
    if len(op.inputs) > 1 and op.builtin in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        f = g.t(op.inputs[1])
        if f is not None and len(f.scales) > 1:
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
