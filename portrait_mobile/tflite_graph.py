"""The one TFLite graph reader: a .tflite's main subgraph as plain, typed Python, without TensorFlow or torch.

Tensors with their type, shape, constant data and quantization; ops in execution order with their
builtin options. The PyTorch port of the reference model (`reference.mediapipe_torch`), the benchmarks'
delegate check and per-op reports (`portrait_bench`) and the exporter's int8 steps
(`portrait_export.tflite_quantize`) all read models here. The flatbuffer schema is the one shipped
inside ai-edge-litert (the runtime extra). Every failure to read is a ModelLoadError naming the file.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelLoadError
from .file_input import read_input

# TensorType names (lowercase, as `Tensor.dtype`) whose constants this reader decodes, and their numpy
# types (little-endian, as the flatbuffer stores them).
_NUMPY = {"float32": "<f4", "float16": "<f2", "int32": "<i4", "uint8": "u1", "int64": "<i8", "bool": "bool",
          "int16": "<i2", "int8": "i1", "float64": "<f8"}


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    dtype: str  # the TensorType name in lowercase: "float32", "int8", ...
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]  # -1 for a dynamic dimension
    stored: bool  # its values are in the file (weights, biases, shapes)
    # Stored, or the DEQUANTIZE of a stored constant (fp16 / int8 weights expanded at load): a constant
    # for every delegate, not an activation.
    is_const: bool
    scales: tuple[float, ...] = ()  # quantization: one scale per tensor, or one per channel
    zero_points: tuple[int, ...] = ()
    # The stored values (None for activations, and for a type numpy cannot hold).
    data: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def scale(self) -> float | None:
        return self.scales[0] if self.scales else None

    @property
    def zero_point(self) -> int | None:
        return self.zero_points[0] if self.zero_points else None


@dataclass(frozen=True)
class Op:
    index: int
    builtin: str  # BuiltinOperator name ("CONV_2D"), "CUSTOM" for a custom op
    custom_code: str | None
    version: int
    inputs: tuple[int, ...]  # tensor indices; -1 is an omitted optional input
    outputs: tuple[int, ...]
    options: Any = field(compare=False, repr=False)  # the schema's *OptionsT object, or None
    custom_options: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        """What the op computes: its builtin name, or a custom op's code ("Convolution2DTransposeBias")."""
        return self.custom_code if self.builtin == "CUSTOM" and self.custom_code else self.builtin

    @property
    def label(self) -> str:
        return f"CUSTOM({self.custom_code})" if self.builtin == "CUSTOM" else self.builtin

    @cached_property
    def option_values(self) -> dict[str, Any]:
        """The builtin options as a plain dict (lists for arrays); {} when the op has none."""
        if self.options is None:
            return {}
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in vars(self.options).items()}


@dataclass(frozen=True)
class TFLiteGraph:
    path: Path | None  # None when read from bytes
    tensors: tuple[Tensor, ...]
    ops: tuple[Op, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    subgraphs: int = 1  # how many the file has (this is the first, the main one)

    def t(self, i: int) -> Tensor | None:
        return self.tensors[i] if 0 <= i < len(self.tensors) else None

    def op_names(self) -> list[str]:
        return [op.name for op in self.ops]

    def output_name(self, op: Op) -> str:
        """The name of the op's (first) output tensor, "" when it has none."""
        t = self.t(op.outputs[0]) if op.outputs else None
        return t.name if t is not None else ""

    def is_const_dequantize(self, op: Op) -> bool:
        """A DEQUANTIZE of a constant (fp16 / int8 weights): delegates fold it at load, it never runs."""
        t = self.t(op.inputs[0]) if op.builtin == "DEQUANTIZE" and op.inputs else None
        return t is not None and t.is_const


class _Corrupt(ValueError):
    """An inconsistency _check found; _checked names the file."""


def flatbuffer_str(x: Any) -> str:
    """A string field of a flatbuffer object (the generated schema gives bytes)."""
    return x.decode() if isinstance(x, bytes) else str(x)


def _schema() -> Any:
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError as e:
        raise ModelLoadError("reading a .tflite needs ai-edge-litert and flatbuffers "
                             f"(pip install 'portrait-mobile[runtime]'): {e}") from None
    return schema_py_generated


def _enum_names(cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


def _buffer_array(raw: bytes, buf: Any) -> np.ndarray | None:
    """A buffer's bytes as a read-only uint8 view of `raw`: never copied, so tensors that share a buffer
    (or buffers that share one vector) cost nothing more than the file itself."""
    # Models over 2 GB keep buffers after the flatbuffer (offset/size); small ones inline them in `data`.
    if buf is None:
        return None
    if buf.data is not None and len(buf.data):
        return np.asarray(buf.data, np.uint8)  # the schema's object API gives a view of `raw` already
    if getattr(buf, "offset", 0) > 1 and getattr(buf, "size", 0) > 0:  # within the file: _check saw to it
        return np.frombuffer(raw, np.uint8, buf.size, buf.offset)
    return None


def _ints(v: Any) -> tuple[int, ...]:
    return tuple(int(x) for x in (v if v is not None else ()))


def read_tflite(source: str | os.PathLike | bytes) -> TFLiteGraph:
    """The main subgraph of a .tflite (a path, or the file's bytes). ModelLoadError naming the file if
    it cannot be read, or is inconsistent (see `check_tflite`)."""
    raw, where, path, schema = _checked(source)
    try:
        model = schema.ModelT.InitFromPackedBuf(raw, 0)
    except Exception as e:  # a truncated or corrupt flatbuffer fails anywhere inside the generated code
        raise ModelLoadError(f"{where} is a corrupt TFLite model: {type(e).__name__}: {e}") from None
    try:
        return _graph(model, schema, raw, path)
    except (IndexError, ValueError, TypeError, AttributeError) as e:
        raise ModelLoadError(f"{where} is a corrupt TFLite model: {type(e).__name__}: {e}") from None


def check_tflite(source: str | os.PathLike | bytes) -> None:
    """read_tflite's checks without building the graph (a few ms): what `litert.new_interpreter` runs
    before LiteRT's native code, which trusts the file's indices, shapes and quantization."""
    _checked(source)


# The TFLite flatbuffer's file identifier, at bytes 4..8.
TFLITE_FILE_IDENTIFIER = b"TFL3"


def has_tflite_identifier(head: bytes) -> bool:
    """Whether `head` (a file's first 8 bytes or more) carries TFLITE_FILE_IDENTIFIER."""
    return len(head) >= 8 and bytes(head[4:8]) == TFLITE_FILE_IDENTIFIER


def _checked(source: str | os.PathLike | bytes) -> tuple[bytes, str, Path | None, Any]:
    if isinstance(source, (bytes, bytearray)):
        raw, where, path = bytes(source), "the .tflite bytes", None
    else:
        path = Path(source)
        where = str(path)
        # The identifier first: a large file of another kind is refused without being read whole.
        head = read_input(path, ModelLoadError, "TFLite model", limit=8)
        raw = read_input(path, ModelLoadError, "TFLite model") if has_tflite_identifier(head) else head
    if not has_tflite_identifier(raw):
        raise ModelLoadError(f"{where} is not a TFLite model (no TFL3 identifier)")
    schema = _schema()
    try:
        _check(schema, raw)
    except _Corrupt as e:
        raise ModelLoadError(f"{where} is a corrupt TFLite model: {e}") from None
    except Exception as e:  # a truncated or corrupt flatbuffer fails anywhere inside the generated code
        raise ModelLoadError(f"{where} is a corrupt TFLite model: {type(e).__name__}: {e}") from None
    return raw, where, path, schema


# The zero-point range of each quantized type: LiteRT's kernels index tables with it unchecked.
_ZERO_POINTS = {"INT8": (-128, 127), "UINT8": (0, 255), "INT16": (-32768, 32767)}
# Ops whose output has its input's element count; XNNPACK folds a constant DEQUANTIZE into a buffer of
# the output's size filled from the input's, unchecked (a larger output is a read past the weights).
_SAME_SIZE = ("DEQUANTIZE", "QUANTIZE")


def _check(schema: Any, raw: bytes) -> None:
    """Refuse what LiteRT's native code trusts without checking (an index out of range, a quantization or
    a DEQUANTIZE that does not fit its tensor: a read out of bounds, a segfault) or refuses only later (no
    ops, an output nothing writes), so that this reader and the interpreter agree on what a model is.

    Walks the flatbuffer lazily, before anything is unpacked: a file may point many tensors or ops at one
    shared vector or string, which unpacking (the object API copies strings, this reader makes tuples)
    would expand far past the file's size. An honest file stores each once, at a byte or more per entry,
    so what they expand to is bounded by the file's size, and the walk stops early past it."""
    op_names, type_names = _enum_names(schema.BuiltinOperator), _enum_names(schema.TensorType)
    m = schema.Model.GetRootAs(raw, 0)
    n_buffers, n_subgraphs = m.BuffersLength(), m.SubgraphsLength()
    # Since schema v3a the real code lives in builtinCode; old files only fill the deprecated byte.
    codes = [op_names.get(max(c.BuiltinCode(), c.DeprecatedBuiltinCode()))
             for c in map(m.OperatorCodes, range(m.OperatorCodesLength()))]
    stored = []
    for b in range(n_buffers):
        buf = m.Buffers(b)
        if buf.Offset() > 1 and buf.Offset() + buf.Size() > len(raw):
            raise _Corrupt(f"buffer {b}'s data (bytes {buf.Offset()}..{buf.Offset() + buf.Size()}) lies past the "
                           "end of the file")
        stored.append(buf.DataLength() > 0 or (buf.Offset() > 1 and buf.Size() > 0))
    if not n_subgraphs:
        raise _Corrupt("it has no subgraph")
    budget = len(raw) - n_buffers - len(codes)
    for s in range(n_subgraphs):
        g = m.Subgraphs(s)
        n, n_ops, at = g.TensorsLength(), g.OperatorsLength(), f"subgraph {s}: " if s else ""
        budget -= 1 + n + n_ops

        def index(ix: Any, what: str, omitted: bool = False) -> list[int]:
            ix = _vector(ix)
            bad = ix[(ix >= n) | (ix < (-1 if omitted else 0))]
            if len(bad):
                raise _Corrupt(f"{at}{what} names tensor {bad[0]} of {n}")
            return ix.tolist()

        sizes = []  # each tensor's element count
        for i in range(n):
            t = g.Tensors(i)
            q = t.Quantization()
            scales, zps = (_vector(q.ScaleAsNumpy()), _vector(q.ZeroPointAsNumpy())) if q is not None else ((), ())
            shape = _vector(t.ShapeAsNumpy()).tolist()
            budget -= len(t.Name() or b"") + len(shape) + t.ShapeSignatureLength() + len(scales) + len(zps)
            if budget < 0:
                raise _Corrupt("its tensors and ops share vectors that expand far past the file's size")
            sizes.append(math.prod(shape))
            if not 0 <= t.Buffer() < n_buffers:
                raise _Corrupt(f"{at}tensor {i} names buffer {t.Buffer()} of {n_buffers}")
            if t.Type() not in type_names:  # LiteRT refuses these two as well
                raise _Corrupt(f"{at}tensor {i} has an unknown type {t.Type()}")
            if min(shape, default=0) < 0:
                raise _Corrupt(f"{at}tensor {i} has a negative dimension in shape {shape}")
            if len(scales) and len(zps):  # LiteRT ignores a quantization that lacks either
                axis = q.QuantizedDimension()
                if len(scales) != len(zps):
                    raise _Corrupt(f"{at}tensor {i} has {len(scales)} scale(s) but {len(zps)} zero point(s)")
                if len(scales) > 1 and not (0 <= axis < len(shape) and shape[axis] == len(scales)):
                    raise _Corrupt(f"{at}tensor {i} has {len(scales)} per-channel scales for shape {shape} "
                                   f"on axis {axis}")
                lo, hi = _ZERO_POINTS.get(type_names[t.Type()], (-np.inf, np.inf))
                if zps.min() < lo or zps.max() > hi:
                    raise _Corrupt(f"{at}tensor {i} has a zero point outside {lo}..{hi}")
        written = set(index(g.InputsAsNumpy(), "a graph input"))
        for k in range(n_ops):
            op = g.Operators(k)
            budget -= op.InputsLength() + op.OutputsLength() + op.CustomOptionsLength()
            if budget < 0:
                raise _Corrupt("its tensors and ops share vectors that expand far past the file's size")
            ins = index(op.InputsAsNumpy(), f"op {k} input", omitted=True)
            outs = index(op.OutputsAsNumpy(), f"op {k} output")
            written.update(outs)
            if not 0 <= op.OpcodeIndex() < len(codes):
                raise _Corrupt(f"{at}op {k} names operator code {op.OpcodeIndex()} of {len(codes)}")
            name = codes[op.OpcodeIndex()]
            if name in _SAME_SIZE:
                if not ins or ins[0] < 0 or not outs:
                    raise _Corrupt(f"{at}op {k} {name} needs an input and an output")
                if sizes[ins[0]] != sizes[outs[0]]:
                    raise _Corrupt(f"{at}op {k} {name} turns {sizes[ins[0]]} elements into {sizes[outs[0]]}")
        if s == 0 and not n_ops:
            raise _Corrupt("the main subgraph has no ops")
        for i in index(g.OutputsAsNumpy(), "a graph output"):
            # An output is computed, passed through from an input, or a constant (stored in a buffer).
            if i not in written and not stored[g.Tensors(i).Buffer()]:
                raise _Corrupt(f"{at}graph output {i} is written by no op")


def _vector(v: Any) -> np.ndarray:
    """A vector field of the schema's lazy API: it gives 0, not an empty array, for an absent one."""
    return v if isinstance(v, np.ndarray) else np.zeros(0, np.int64)


def _graph(model: Any, schema: Any, raw: bytes, path: Path | None) -> TFLiteGraph:
    op_names = _enum_names(schema.BuiltinOperator)
    type_names = {k: v.lower() for k, v in _enum_names(schema.TensorType).items()}
    g = model.subgraphs[0]
    buffers = model.buffers or []
    raw_tensors = []
    for i, t in enumerate(g.tensors or []):
        shape = _ints(t.shape)
        dtype = type_names.get(int(t.type), str(t.type))
        blob = _buffer_array(raw, buffers[t.buffer]) if t.buffer > 0 else None
        data = None
        if blob is not None and dtype in _NUMPY:
            data = blob.view(_NUMPY[dtype]).reshape(shape)  # a read-only view: shared, never copied
            data.flags.writeable = False
        q = t.quantization
        scales = tuple(float(s) for s in np.ravel(q.scale)) if q is not None and q.scale is not None else ()
        zps = tuple(int(z) for z in np.ravel(q.zeroPoint)) if q is not None and q.zeroPoint is not None else ()
        sig = _ints(t.shapeSignature) if t.shapeSignature is not None else shape
        raw_tensors.append(dict(index=i, name=flatbuffer_str(t.name or ""), dtype=dtype, shape=shape,
                                shape_signature=sig, stored=blob is not None, scales=scales, zero_points=zps,
                                data=data))
    ops = []
    for k, op in enumerate(g.operators or []):
        oc = model.operatorCodes[op.opcodeIndex]
        # Since schema v3a the real code lives in builtinCode; old files only fill the deprecated byte.
        code = max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))
        custom = op.customOptions
        ops.append(Op(index=k, builtin=op_names.get(code, f"BUILTIN_{code}"),
                      custom_code=flatbuffer_str(oc.customCode) if oc.customCode is not None else None,
                      version=int(oc.version or 1), inputs=_ints(op.inputs), outputs=_ints(op.outputs),
                      options=op.builtinOptions,
                      custom_options=None if custom is None else np.asarray(custom, np.uint8).tobytes()))
    # The DEQUANTIZE of a stored constant is a constant too (delegates fold it at load).
    folded = {o for op in ops if op.builtin == "DEQUANTIZE" and op.inputs and raw_tensors[op.inputs[0]]["stored"]
              for o in op.outputs}
    tensors = tuple(Tensor(is_const=d["stored"] or d["index"] in folded, **d) for d in raw_tensors)
    return TFLiteGraph(path, tensors, tuple(ops), _ints(g.inputs), _ints(g.outputs), len(model.subgraphs))
