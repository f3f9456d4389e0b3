"""TFLite float ops as small torch modules, NCHW, and the builders that make them from a parsed op.

Activations are NCHW inside torch; the .tflite describes them NHWC, so shapes and constants are turned
at build time. TFLite's SAME padding can be asymmetric (the extra pixel goes after), which torch's
`padding=` cannot express: the pads are computed from the graph's static shapes and applied with F.pad.
Only the ops MediaPipe Selfie Segmentation (general and landscape) uses are here; anything else raises
UnsupportedOpError naming the op. A malformed op (options of the wrong kind, a stride of 0, a window or
size that does not fit its tensors) is a ModelLoadError naming the file and the op, at build, not a
traceback or a huge allocation at the first forward.
"""
from __future__ import annotations

import struct
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..contract import MAX_INPUT_SIDE
from ..errors import ModelLoadError
from ..tflite_graph import Op, TFLiteGraph


class UnsupportedOpError(ModelLoadError):
    """The .tflite uses an op (or an option of one) this interpreter does not implement."""


Constants = dict[int, np.ndarray]
Pads = tuple[int, int, int, int]  # F.pad order: left, right, top, bottom

_PADDING_SAME, _PADDING_VALID = 0, 1  # schema Padding enum
# Largest activation side (and RESIZE_BILINEAR target) the port builds: the runtime's largest model input.
# Every size torch allocates at run time derives from these static shapes, so a tampered 32768 x 65536
# would otherwise ask for tens of gigabytes per image only at the first forward.
MAX_SIDE = MAX_INPUT_SIDE


def _bad(graph: TFLiteGraph, op: Op, what: str) -> ModelLoadError:
    """A malformed (not merely unsupported) op: the file, the op's index and name, and what is wrong."""
    return ModelLoadError(f"{graph.path}: op {op.index} {op.name}: {what}")


def _options(graph: TFLiteGraph, op: Op, kind: str, required: bool = True) -> Any:
    """The op's builtin options, which must be the schema's `kind` (e.g. "Conv2DOptions")."""
    o = op.options
    if o is None and not required:
        return None
    if type(o).__name__ != kind + "T":
        raise _bad(graph, op, f"options are {type(o).__name__.removesuffix('T') if o is not None else 'missing'}, "
                              f"expected {kind}")
    return o


def _activation(graph: TFLiteGraph, op: Op, consts: Constants, i: int = 0) -> tuple[int, ...]:
    """The NHWC shape of input i, which must be fed at run time (-1, omitted, or a constant is refused)."""
    idx = op.inputs[i] if i < len(op.inputs) else -1
    if idx < 0 or idx in consts:
        raise _bad(graph, op, f"input {i} must be an activation tensor, got "
                              f"{'none' if idx < 0 else 'a constant'}")
    return graph.tensors[idx].shape


def _act(code: int, op: Op, graph: TFLiteGraph) -> Callable[[torch.Tensor], torch.Tensor] | None:
    # schema ActivationFunctionType: NONE, RELU, RELU_N1_TO_1, RELU6, TANH
    acts: dict[int, Callable[[torch.Tensor], torch.Tensor] | None] = {
        0: None, 1: torch.relu, 2: lambda t: t.clamp(-1.0, 1.0), 3: lambda t: t.clamp(0.0, 6.0), 4: torch.tanh}
    if code not in acts:
        raise UnsupportedOpError(f"{graph.path}: op {op.index} {op.name}: fused activation {code} not supported")
    return acts[code]


def _same_or_valid(size: int, k: int, stride: int, dilation: int, padding: int) -> tuple[int, int]:
    """TFLite's padding before/after along one axis for a forward conv or pool."""
    if padding == _PADDING_VALID:
        return 0, 0
    eff = (k - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


def _pads(graph: TFLiteGraph, op: Op, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int,
          padding: int) -> Pads:
    if padding not in (_PADDING_SAME, _PADDING_VALID):
        raise UnsupportedOpError(f"{graph.path}: op {op.index} {op.name}: padding {padding} not supported")
    _, h, w, _ = graph.tensors[op.inputs[0]].shape
    pads: list[int] = []
    for axis, size, k, s, d in (("height", h, kh, sh, dh), ("width", w, kw, sw, dw)):
        if min(k, s, d) < 1:  # TFLite divides by the stride; a zero kernel or dilation has no window
            raise _bad(graph, op, f"{axis}: kernel {k}, stride {s}, dilation {d} (each must be >= 1)")
        before, after = _same_or_valid(size, k, s, d, padding)
        extent = (k - 1) * d + 1
        # A window past the input reads only padding: a VALID one has no output, and the SAME pad that
        # a huge one needs (dilation 2**30) would be terabytes of zeros from F.pad. So: pad <= input side.
        if (padding == _PADDING_VALID and extent > size) or max(before, after) > size:
            raise _bad(graph, op, f"{axis}: a {k}-tap window dilated {d} (extent {extent}) does not fit "
                                  f"an input of {size}")
        pads += [before, after]
    top, bottom, left, right = pads
    return left, right, top, bottom


def _const(consts: Constants, graph: TFLiteGraph, op: Op, i: int, what: str) -> np.ndarray:
    idx = op.inputs[i] if i < len(op.inputs) else -1
    if idx < 0 or idx not in consts:
        raise UnsupportedOpError(f"{graph.path}: op {op.index} {op.name}: {what} (input {i}) must be a constant")
    return consts[idx]


def _f32(a: np.ndarray) -> torch.Tensor:
    # A copy: the graph's constants are read-only views of the file's bytes, which torch must not share.
    return torch.from_numpy(np.array(a, np.float32))


class Conv(nn.Module):
    """CONV_2D and DEPTHWISE_CONV_2D: explicit (maybe asymmetric) pad, then an unpadded conv."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, stride: tuple[int, int],
                 dilation: tuple[int, int], pads: Pads, groups: int,
                 act: Callable[[torch.Tensor], torch.Tensor] | None) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.register_buffer("bias", bias)
        self.stride, self.dilation, self.groups, self.act = stride, dilation, groups, act
        left, right, top, bottom = pads
        # Symmetric pads go to the conv itself (no padded copy of a large activation); only TFLite's
        # asymmetric SAME pads (stride 2: the extra pixel after) need F.pad.
        self.padding = (top, left) if (left, top) == (right, bottom) else (0, 0)
        self.pads = pads if any(pads) and self.padding == (0, 0) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pads is not None:
            x = F.pad(x, self.pads)
        y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return y if self.act is None else self.act(y)


class TransposeConvBias(nn.Module):
    """MediaPipe's custom Convolution2DTransposeBias: a transposed conv plus bias, cropped to TFLite's size."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, stride: tuple[int, int],
                 crop: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.register_buffer("bias", bias)
        self.stride = stride
        self.crop = crop  # top, left, out_h, out_w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv_transpose2d(x, self.weight, self.bias, self.stride)
        top, left, h, w = self.crop
        return y[:, :, top:top + h, left:left + w]


class Unary(nn.Module):
    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor],
                 fn_: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        super().__init__()
        self.fn, self.fn_ = fn, fn_
        # Set by the graph when this op is the input's last reader: on CPU a fresh output of a
        # 32 x 16 x 128 x 128 activation costs more (page faults) than the op itself.
        self.may_overwrite = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.may_overwrite and self.fn_ is not None and not torch.is_grad_enabled():
            return self.fn_(x)
        return self.fn(x)


class Binary(nn.Module):
    """ADD / MUL with numpy-style broadcasting; a constant operand is stored as a buffer in NCHW form."""

    def __init__(self, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 consts: list[torch.Tensor | None], act: Callable[[torch.Tensor], torch.Tensor] | None) -> None:
        super().__init__()
        self.fn, self.act = fn, act
        self.const_slots = [c is not None for c in consts]
        self.may_overwrite = False  # see Unary; here it concerns the first activation operand
        for i, c in enumerate(consts):
            self.register_buffer(f"c{i}", c)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        it = iter(xs)
        a, b = (getattr(self, f"c{i}") if is_c else next(it) for i, is_c in enumerate(self.const_slots))
        if (self.may_overwrite and not torch.is_grad_enabled() and not self.const_slots[0]
                and a.shape == torch.broadcast_shapes(a.shape, b.shape)):
            y = a.add_(b) if self.fn is torch.add else a.mul_(b)
        else:
            y = self.fn(a, b)
        return y if self.act is None else self.act(y)


class AvgPool(nn.Module):
    """AVERAGE_POOL_2D; SAME padding averages over the real pixels only, as TFLite does."""

    def __init__(self, kernel: tuple[int, int], stride: tuple[int, int], pads: Pads,
                 act: Callable[[torch.Tensor], torch.Tensor] | None) -> None:
        super().__init__()
        self.kernel, self.stride, self.act = kernel, stride, act
        self.pads = pads if any(pads) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pads is None:
            y = F.avg_pool2d(x, self.kernel, self.stride)
        else:
            ones = torch.ones_like(x[:1, :1])
            y = (F.avg_pool2d(F.pad(x, self.pads), self.kernel, self.stride)
                 / F.avg_pool2d(F.pad(ones, self.pads), self.kernel, self.stride))
        return y if self.act is None else self.act(y)


class Mean(nn.Module):
    def __init__(self, dims: tuple[int, ...], keepdim: bool) -> None:
        super().__init__()
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=self.dims, keepdim=self.keepdim)


class ResizeBilinear(nn.Module):
    def __init__(self, size: tuple[int, int], align_corners: bool) -> None:
        super().__init__()
        self.size, self.align_corners = size, align_corners

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=self.size, mode="bilinear", align_corners=self.align_corners)


# --- builders: (graph, op, constants) -> module; inputs that are constants are not fed at run time -----------

_NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}


def _conv(graph: TFLiteGraph, op: Op, consts: Constants) -> nn.Module:
    depthwise = op.name == "DEPTHWISE_CONV_2D"
    o = _options(graph, op, "DepthwiseConv2DOptions" if depthwise else "Conv2DOptions")
    cin = int(_activation(graph, op, consts)[3])
    w = _const(consts, graph, op, 1, "filter")  # CONV_2D: O,KH,KW,I; DEPTHWISE: 1,KH,KW,C*mult
    bias = _f32(_const(consts, graph, op, 2, "bias")) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    # Depthwise: output channel k reads input channel k // multiplier, torch's grouped conv with
    # groups = C_in. CONV_2D: TFLite's grouped conv has filter I = C_in / groups.
    if w.ndim != 4 or 0 in w.shape or (depthwise and (w.shape[0] != 1 or w.shape[3] % cin)) \
            or (not depthwise and (cin % w.shape[3] or w.shape[0] % (cin // w.shape[3]))):
        raise _bad(graph, op, f"filter of shape {list(w.shape)} does not fit {cin} input channels")
    cout = w.shape[3] if depthwise else w.shape[0]
    if bias is not None and tuple(bias.shape) != (cout,):
        raise _bad(graph, op, f"bias of shape {list(bias.shape)} for {cout} output channels")
    kh, kw = int(w.shape[1]), int(w.shape[2])
    stride, dil = (int(o.strideH), int(o.strideW)), (int(o.dilationHFactor), int(o.dilationWFactor))
    pads = _pads(graph, op, kh, kw, *stride, *dil, int(o.padding))
    act = _act(int(o.fusedActivationFunction), op, graph)
    if depthwise:
        return Conv(_f32(w).permute(3, 0, 1, 2).contiguous(), bias, stride, dil, pads, cin, act)
    return Conv(_f32(w).permute(0, 3, 1, 2).contiguous(), bias, stride, dil, pads, cin // int(w.shape[3]), act)


def _transpose_conv_bias(graph: TFLiteGraph, op: Op, consts: Constants) -> nn.Module:
    raw = op.custom_options or b""
    if len(raw) < 12:
        raise UnsupportedOpError(f"{graph.path}: op {op.index} {op.name}: custom options of {len(raw)} bytes, "
                                 "expected TfLiteTransposeConvParams (padding, stride_w, stride_h)")
    padding, sw, sh = struct.unpack_from("<iii", raw)
    _, ih, iw, cin = _activation(graph, op, consts)
    w = _const(consts, graph, op, 1, "filter")  # O,KH,KW,I
    bias = _f32(_const(consts, graph, op, 2, "bias"))
    if w.ndim != 4 or 0 in w.shape or w.shape[3] != cin or tuple(bias.shape) != (w.shape[0],):
        raise _bad(graph, op, f"filter {list(w.shape)} and bias {list(bias.shape)} do not fit "
                              f"{cin} input channels")
    kh, kw = int(w.shape[1]), int(w.shape[2])
    _, oh, ow, _ = graph.tensors[op.outputs[0]].shape
    # TfLitePadding (C API): 1 SAME -> out = in*stride, 2 VALID -> out = (in-1)*stride + k.
    if padding not in (1, 2):
        raise UnsupportedOpError(f"{graph.path}: op {op.index} {op.name}: padding {padding} not supported")
    # torch makes the full (in-1)*stride + k before the crop to the declared output (at most MAX_SIDE):
    # a stride that does not fit that output would be a huge allocation at the first forward.
    if min(sh, sw) < 1 or (ih - 1) * sh > oh or (iw - 1) * sw > ow:
        raise _bad(graph, op, f"stride {sh}x{sw} from {ih}x{iw} does not make the declared {oh}x{ow}")
    # As for TRANSPOSE_CONV: the pad is the forward-conv pad from the output back to the input; torch's
    # full transposed output is (in-1)*stride + k, which is cropped by that pad from the top/left.
    top = max((ih - 1) * sh + kh - oh, 0) // 2 if padding == 1 else 0
    left = max((iw - 1) * sw + kw - ow, 0) // 2 if padding == 1 else 0
    weight = _f32(w).permute(3, 0, 1, 2).contiguous()  # torch conv_transpose2d: I,O,KH,KW
    return TransposeConvBias(weight, bias, (sh, sw), (top, left, int(oh), int(ow)))


def _nchw_const(a: np.ndarray, graph: TFLiteGraph, op: Op) -> torch.Tensor:
    t = _f32(a)
    if t.ndim == 4:
        return t.permute(0, 3, 1, 2).contiguous()
    if t.ndim == 1:  # broadcasts against NHWC's last axis, i.e. channels
        return t.reshape(1, -1, 1, 1)
    if t.ndim == 0:
        return t
    raise UnsupportedOpError(f"{graph.path}: op {op.index} {op.name}: constant operand of rank {t.ndim}")


def _binary(graph: TFLiteGraph, op: Op, consts: Constants) -> nn.Module:
    fn = torch.add if op.name == "ADD" else torch.mul
    o = _options(graph, op, "AddOptions" if op.name == "ADD" else "MulOptions", required=False)
    code = int(o.fusedActivationFunction) if o is not None else 0
    if len(op.inputs) != 2 or min(op.inputs) < 0 or all(i in consts for i in op.inputs):
        raise _bad(graph, op, f"takes two operands, at least one an activation; got inputs {list(op.inputs)}")
    cs = [_nchw_const(consts[i], graph, op) if i in consts else None for i in op.inputs]
    return Binary(fn, cs, _act(code, op, graph))


def _avg_pool(graph: TFLiteGraph, op: Op, consts: Constants) -> nn.Module:
    o = _options(graph, op, "Pool2DOptions")
    _activation(graph, op, consts)
    k, s = (int(o.filterHeight), int(o.filterWidth)), (int(o.strideH), int(o.strideW))
    pads = _pads(graph, op, *k, *s, 1, 1, int(o.padding))
    return AvgPool(k, s, pads, _act(int(o.fusedActivationFunction), op, graph))


def _mean(graph: TFLiteGraph, op: Op, consts: Constants) -> nn.Module:
    rank = len(_activation(graph, op, consts))
    axes = np.asarray(_const(consts, graph, op, 1, "axes")).reshape(-1)
    if axes.dtype.kind not in "iu" or not all(-rank <= int(a) < rank for a in axes):
        raise _bad(graph, op, f"axes {axes.tolist()} of a rank-{rank} tensor")
    dims = tuple(sorted({_NHWC_TO_NCHW_AXIS[int(a) % rank] for a in axes}))  # an axis twice is one axis
    o = _options(graph, op, "ReducerOptions", required=False)
    keep = bool(o.keepDims) if o is not None else False
    if not keep:
        raise UnsupportedOpError(f"{graph.path}: op {op.index} MEAN without keep_dims (changes the rank)")
    return Mean(dims, keep)


def _resize(graph: TFLiteGraph, op: Op, consts: Constants) -> nn.Module:
    _activation(graph, op, consts)
    size = np.asarray(_const(consts, graph, op, 1, "size")).reshape(-1)
    if size.shape != (2,) or size.dtype.kind not in "iu" or not all(1 <= int(v) <= MAX_SIDE for v in size):
        raise _bad(graph, op, f"size {size.tolist()}, expected height and width in 1..{MAX_SIDE}")
    o = _options(graph, op, "ResizeBilinearOptions")
    align, half = bool(o.alignCorners), bool(o.halfPixelCenters)
    # torch's align_corners=False is TF's half-pixel-centres rule; TF's legacy rule (neither) has no twin.
    if not align and not half:
        raise UnsupportedOpError(f"{graph.path}: op {op.index} RESIZE_BILINEAR with align_corners=False and "
                                 "half_pixel_centers=False (legacy TF sampling) not supported")
    return ResizeBilinear((int(size[0]), int(size[1])), align)


def _unary(fn: Callable[[torch.Tensor], torch.Tensor], fn_: Callable[[torch.Tensor], torch.Tensor]
           ) -> Callable[[TFLiteGraph, Op, Constants], nn.Module]:
    def build(graph: TFLiteGraph, op: Op, consts: Constants) -> nn.Module:
        _activation(graph, op, consts)
        return Unary(fn, fn_)
    return build


BUILDERS: dict[str, Callable[[TFLiteGraph, Op, Constants], nn.Module]] = {
    "CONV_2D": _conv,
    "DEPTHWISE_CONV_2D": _conv,
    "Convolution2DTransposeBias": _transpose_conv_bias,
    "ADD": _binary,
    "MUL": _binary,
    "AVERAGE_POOL_2D": _avg_pool,
    "MEAN": _mean,
    "RESIZE_BILINEAR": _resize,
    "RELU": _unary(torch.relu, torch.relu_),
    "RELU6": _unary(lambda t: t.clamp(0.0, 6.0), lambda t: t.clamp_(0.0, 6.0)),
    "HARD_SWISH": _unary(F.hardswish, lambda t: F.hardswish(t, inplace=True)),
    "LOGISTIC": _unary(torch.sigmoid, torch.sigmoid_),
}
# DEQUANTIZE of an fp16 weight is folded into a constant at build time (see mediapipe_torch.py).
SUPPORTED_OPS = frozenset(BUILDERS) | {"DEQUANTIZE"}
