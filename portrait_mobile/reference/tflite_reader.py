"""Read a float .tflite flatbuffer into plain Python: tensors (shape, dtype, constant data) and operators.

Only what a graph interpreter needs. The flatbuffer schema is the one shipped inside ai-edge-litert, so
no TensorFlow is needed. Every failure to read becomes a ModelLoadError that names the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelLoadError
from ..file_input import read_input
from ..litert import flatbuffer_str

# TFLite TensorType enum values -> numpy dtypes (little-endian, as the flatbuffer stores them).
_DTYPES: dict[int, np.dtype] = {
    0: np.dtype("<f4"),   # FLOAT32
    1: np.dtype("<f2"),   # FLOAT16
    2: np.dtype("<i4"),   # INT32
    3: np.dtype("u1"),    # UINT8
    4: np.dtype("<i8"),   # INT64
    6: np.dtype("bool"),  # BOOL
    7: np.dtype("<i2"),   # INT16
    9: np.dtype("i1"),    # INT8
    10: np.dtype("<f8"),  # FLOAT64
}
_CUSTOM = 32  # BuiltinOperator.CUSTOM: the op's name is then its custom_code


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype | None  # None for a type this reader does not map (an error only if an op reads it)
    # The constant's values for weights/sizes stored in the file, None for activations.
    data: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class OpInfo:
    index: int
    name: str  # builtin name ("CONV_2D") or the custom code ("Convolution2DTransposeBias")
    inputs: tuple[int, ...]  # tensor indices; -1 is an omitted optional input
    outputs: tuple[int, ...]
    options: Any  # the schema's *OptionsT object, or None
    custom_options: bytes | None


@dataclass(frozen=True)
class TFLiteGraph:
    path: Path
    tensors: tuple[TensorInfo, ...]
    ops: tuple[OpInfo, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def op_names(self) -> list[str]:
        return [op.name for op in self.ops]


def _schema() -> Any:
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError as e:
        raise ModelLoadError("reading a .tflite needs ai-edge-litert and flatbuffers "
                             f"(pip install 'portrait-mobile[train]'): {e}") from None
    return schema_py_generated


def _builtin_names(schema: Any) -> dict[int, str]:
    ops = schema.BuiltinOperator
    return {v: k for k, v in vars(ops).items() if not k.startswith("_") and isinstance(v, int)}


def _buffer_bytes(raw: bytes, buf: Any) -> bytes | None:
    # Models over 2 GB keep buffers after the flatbuffer (offset/size); small ones inline them in `data`.
    if buf is None:
        return None
    if buf.data is not None and len(buf.data):
        return np.asarray(buf.data, np.uint8).tobytes()
    if getattr(buf, "offset", 0) > 1 and getattr(buf, "size", 0) > 0:
        return raw[buf.offset:buf.offset + buf.size]
    return None


def read_tflite(path: str | Path) -> TFLiteGraph:
    """Parse the single subgraph of a .tflite. Raises ModelLoadError naming `path` if it cannot."""
    path = Path(path)
    raw = read_input(path, ModelLoadError, "TFLite model")
    # A flatbuffer with the TFLite file identifier carries "TFL3" at bytes 4..8.
    if len(raw) < 8 or raw[4:8] != b"TFL3":
        raise ModelLoadError(f"{path} is not a TFLite model (no TFL3 identifier)")
    schema = _schema()
    try:
        model = schema.ModelT.InitFromPackedBuf(raw, 0)
    except Exception as e:  # a truncated or corrupt flatbuffer fails anywhere inside the generated code
        raise ModelLoadError(f"{path} is a corrupt TFLite model: {type(e).__name__}: {e}") from None
    if not model.subgraphs or len(model.subgraphs) != 1:
        raise ModelLoadError(f"{path}: expected exactly one subgraph, found {len(model.subgraphs or [])}")

    names = _builtin_names(schema)
    codes: list[str] = []
    for oc in model.operatorCodes or []:
        # Since schema v3a the real code lives in builtinCode; old files only fill the deprecated byte.
        code = max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))
        if code == _CUSTOM:
            custom = oc.customCode
            codes.append(flatbuffer_str(custom))
        else:
            codes.append(names.get(code, f"BUILTIN_{code}"))

    g = model.subgraphs[0]
    buffers = model.buffers or []
    tensors: list[TensorInfo] = []
    try:
        for i, t in enumerate(g.tensors or []):
            shape = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
            dtype = _DTYPES.get(int(t.type))
            data = None
            blob = _buffer_bytes(raw, buffers[t.buffer]) if 0 < t.buffer < len(buffers) else None
            if blob is not None:
                if dtype is None:
                    raise ModelLoadError(f"{path}: constant tensor {i} has unsupported type {t.type}")
                data = np.frombuffer(blob, dtype).reshape(shape).copy()
            name = flatbuffer_str(t.name)
            tensors.append(TensorInfo(i, name, shape, dtype, data))
        ops = []
        for k, op in enumerate(g.operators or []):
            custom = op.customOptions
            ops.append(OpInfo(
                index=k,
                name=codes[op.opcodeIndex],
                inputs=tuple(int(v) for v in op.inputs),
                outputs=tuple(int(v) for v in op.outputs),
                options=op.builtinOptions,
                custom_options=None if custom is None else np.asarray(custom, np.uint8).tobytes(),
            ))
    except ModelLoadError:
        raise
    except (IndexError, ValueError, TypeError) as e:
        raise ModelLoadError(f"{path} is a corrupt TFLite model: {type(e).__name__}: {e}") from None
    return TFLiteGraph(path, tuple(tensors), tuple(ops), tuple(int(v) for v in g.inputs),
                       tuple(int(v) for v in g.outputs))
