"""The one TFLite graph reader: a .tflite's main subgraph as plain, typed Python, without TensorFlow or torch.

Tensors with their type, shape, constant data and quantization; ops in execution order with their
builtin options. The PyTorch port of the reference model (`reference.mediapipe_torch`), the benchmarks'
delegate check and per-op reports (`portrait_bench`) and the exporter's int8 steps
(`portrait_export.tflite_quantize`) all read models here. The flatbuffer schema is the one shipped
inside ai-edge-litert (the runtime extra). Every failure to read is a ModelLoadError naming the file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelLoadError
from .file_input import read_input
from .litert import flatbuffer_str

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


def _schema() -> Any:
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError as e:
        raise ModelLoadError("reading a .tflite needs ai-edge-litert and flatbuffers "
                             f"(pip install 'portrait-mobile[runtime]'): {e}") from None
    return schema_py_generated


def _enum_names(cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


def _buffer_bytes(raw: bytes, buf: Any) -> bytes | None:
    # Models over 2 GB keep buffers after the flatbuffer (offset/size); small ones inline them in `data`.
    if buf is None:
        return None
    if buf.data is not None and len(buf.data):
        return np.asarray(buf.data, np.uint8).tobytes()
    if getattr(buf, "offset", 0) > 1 and getattr(buf, "size", 0) > 0:
        return raw[buf.offset:buf.offset + buf.size]
    return None


def _ints(v: Any) -> tuple[int, ...]:
    return tuple(int(x) for x in (v if v is not None else ()))


def read_tflite(source: str | os.PathLike | bytes) -> TFLiteGraph:
    """The main subgraph of a .tflite (a path, or the file's bytes). ModelLoadError naming the file if
    it cannot be read."""
    if isinstance(source, (bytes, bytearray)):
        raw, where, path = bytes(source), "the .tflite bytes", None
    else:
        path = Path(source)
        raw, where = read_input(path, ModelLoadError, "TFLite model"), str(path)
    # A flatbuffer with the TFLite file identifier carries "TFL3" at bytes 4..8.
    if len(raw) < 8 or raw[4:8] != b"TFL3":
        raise ModelLoadError(f"{where} is not a TFLite model (no TFL3 identifier)")
    schema = _schema()
    try:
        model = schema.ModelT.InitFromPackedBuf(raw, 0)
    except Exception as e:  # a truncated or corrupt flatbuffer fails anywhere inside the generated code
        raise ModelLoadError(f"{where} is a corrupt TFLite model: {type(e).__name__}: {e}") from None
    if not model.subgraphs:
        raise ModelLoadError(f"{where} has no subgraph")
    try:
        return _graph(model, schema, raw, path)
    except (IndexError, ValueError, TypeError, AttributeError) as e:
        raise ModelLoadError(f"{where} is a corrupt TFLite model: {type(e).__name__}: {e}") from None


def _graph(model: Any, schema: Any, raw: bytes, path: Path | None) -> TFLiteGraph:
    op_names = _enum_names(schema.BuiltinOperator)
    type_names = {k: v.lower() for k, v in _enum_names(schema.TensorType).items()}
    g = model.subgraphs[0]
    buffers = model.buffers or []
    raw_tensors = []
    for i, t in enumerate(g.tensors or []):
        shape = _ints(t.shape)
        dtype = type_names.get(int(t.type), str(t.type))
        blob = _buffer_bytes(raw, buffers[t.buffer]) if 0 < t.buffer < len(buffers) else None
        data = None
        if blob is not None and dtype in _NUMPY:
            data = np.frombuffer(blob, np.dtype(_NUMPY[dtype])).reshape(shape).copy()
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
