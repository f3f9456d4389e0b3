"""Small .tflite graphs written with the flatbuffer schema's object API (ai-edge-litert's), no converter:
`GraphBuilder` and the graphs the reference port and the graph reader are tested on."""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from portrait_mobile.tflite_graph import TFLITE_FILE_IDENTIFIER

_TYPES = {np.dtype(np.float32): 0, np.dtype(np.float16): 1, np.dtype(np.int32): 2}


class GraphBuilder:
    def __init__(self) -> None:
        from ai_edge_litert import schema_py_generated as s

        self.s = s
        self.model = s.ModelT()
        self.model.version = 3
        self.model.buffers = [s.BufferT()]  # buffer 0: the empty one every activation points to
        self.model.operatorCodes = []
        self.g = s.SubGraphT()
        self.g.tensors, self.g.operators = [], []
        self._codes: dict[tuple[int, str | None], int] = {}

    def tensor(self, shape: tuple[int, ...], data: np.ndarray | None = None, name: str = "",
               dtype: Any = np.float32) -> int:
        t = self.s.TensorT()
        t.shape = list(shape)
        t.name = name or f"t{len(self.g.tensors)}"
        t.type = _TYPES[np.dtype(dtype if data is None else data.dtype)]
        t.buffer = 0
        if data is not None:
            b = self.s.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            self.model.buffers.append(b)
            t.buffer = len(self.model.buffers) - 1
        self.g.tensors.append(t)
        return len(self.g.tensors) - 1

    def op(self, name: str, inputs: list[int], outputs: list[int], options: Any = None,
           options_type: str | None = None, custom_options: bytes | None = None) -> None:
        s = self.s
        custom = name if not hasattr(s.BuiltinOperator, name) else None
        code = 32 if custom else getattr(s.BuiltinOperator, name)
        key = (code, custom)
        if key not in self._codes:
            oc = s.OperatorCodeT()
            oc.builtinCode, oc.deprecatedBuiltinCode = code, min(code, 127)
            oc.customCode = custom
            self.model.operatorCodes.append(oc)
            self._codes[key] = len(self.model.operatorCodes) - 1
        o = s.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = self._codes[key], inputs, outputs
        if options is not None:
            o.builtinOptions = options
            o.builtinOptionsType = getattr(s.BuiltinOptions, options_type or type(options).__name__[:-1])
        if custom_options is not None:
            o.customOptions = list(custom_options)
        self.g.operators.append(o)

    def options(self, kind: str, **fields: Any) -> Any:
        opt = getattr(self.s, kind + "T")()
        for k, v in fields.items():
            setattr(opt, k, v)
        return opt

    def save(self, path: Path, inputs: list[int], outputs: list[int]) -> Path:
        self.g.inputs, self.g.outputs = inputs, outputs
        self.model.subgraphs = [self.g]
        path.write_bytes(pack_plain(self.model))
        return path


def mixed_ops_model(path: Path, seed: int = 0, transpose_conv: bool = True) -> Path:
    """Every op kind the interpreter supports, on a non-square input with asymmetric SAME pads.

    input 1x10x12x4 -> CONV_2D s2 SAME +RELU6 (fp16 weights via DEQUANTIZE) -> DEPTHWISE x2 -> HARD_SWISH
    -> squeeze-excite (AVERAGE_POOL VALID, LOGISTIC, MUL) -> 1x1 CONV -> ADD const +RELU -> MUL by a const
    of full shape (constant first) -> AVERAGE_POOL 2x3 SAME
    -> RESIZE_BILINEAR (half-pixel) -> Convolution2DTransposeBias 3x3 s2 SAME -> ADD MEAN -> RELU.
    """
    rng = np.random.default_rng(seed)
    r = lambda *shape: rng.normal(0, 0.5, shape).astype(np.float32)  # noqa: E731
    gb = GraphBuilder()
    x = gb.tensor((1, 10, 12, 4), name="input")
    w16 = gb.tensor((6, 3, 3, 4), r(6, 3, 3, 4).astype(np.float16))
    w = gb.tensor((6, 3, 3, 4))
    gb.op("DEQUANTIZE", [w16], [w])
    c1 = gb.tensor((1, 5, 6, 6))
    gb.op("CONV_2D", [x, w, gb.tensor((6,), r(6))], [c1],
          gb.options("Conv2DOptions", padding=0, strideH=2, strideW=2, fusedActivationFunction=3))
    d1 = gb.tensor((1, 5, 6, 12))
    gb.op("DEPTHWISE_CONV_2D", [c1, gb.tensor((1, 3, 3, 12), r(1, 3, 3, 12)), gb.tensor((12,), r(12))], [d1],
          gb.options("DepthwiseConv2DOptions", padding=0, strideH=1, strideW=1, depthMultiplier=2))
    h1 = gb.tensor((1, 5, 6, 12))
    gb.op("HARD_SWISH", [d1], [h1])
    p1 = gb.tensor((1, 1, 1, 12))
    gb.op("AVERAGE_POOL_2D", [h1], [p1],
          gb.options("Pool2DOptions", padding=1, strideH=5, strideW=6, filterHeight=5, filterWidth=6))
    s1 = gb.tensor((1, 1, 1, 12))
    gb.op("LOGISTIC", [p1], [s1])
    m1 = gb.tensor((1, 5, 6, 12))
    gb.op("MUL", [h1, s1], [m1], gb.options("MulOptions"))
    c2 = gb.tensor((1, 5, 6, 4))
    gb.op("CONV_2D", [m1, gb.tensor((4, 1, 1, 12), r(4, 1, 1, 12)), gb.tensor((4,), r(4))], [c2],
          gb.options("Conv2DOptions", padding=1, strideH=1, strideW=1))
    a1 = gb.tensor((1, 5, 6, 4))
    gb.op("ADD", [c2, gb.tensor((4,), r(4))], [a1], gb.options("AddOptions", fusedActivationFunction=1))
    m2 = gb.tensor((1, 5, 6, 4))
    gb.op("MUL", [gb.tensor((1, 5, 6, 4), r(1, 5, 6, 4)), a1], [m2], gb.options("MulOptions"))
    p2 = gb.tensor((1, 5, 6, 4))
    gb.op("AVERAGE_POOL_2D", [m2], [p2],
          gb.options("Pool2DOptions", padding=0, strideH=1, strideW=1, filterHeight=2, filterWidth=3))
    u1 = gb.tensor((1, 10, 12, 4))
    gb.op("RESIZE_BILINEAR", [p2, gb.tensor((2,), np.array([10, 12], np.int32))], [u1],
          gb.options("ResizeBilinearOptions", alignCorners=False, halfPixelCenters=True))
    last = u1
    if transpose_conv:
        t1 = gb.tensor((1, 20, 24, 2))
        gb.op("Convolution2DTransposeBias", [u1, gb.tensor((2, 3, 3, 4), r(2, 3, 3, 4)), gb.tensor((2,), r(2))],
              [t1], custom_options=struct.pack("<iii", 1, 2, 2))
        last = t1
    mean = gb.tensor((1, 1, 1, 2 if transpose_conv else 4))
    gb.op("MEAN", [last, gb.tensor((2,), np.array([1, 2], np.int32))], [mean],
          gb.options("ReducerOptions", keepDims=True))
    a2 = gb.tensor(gb.g.tensors[last].shape)
    gb.op("ADD", [last, mean], [a2], gb.options("AddOptions"))
    out = gb.tensor(gb.g.tensors[last].shape, name="output")
    gb.op("RELU", [a2], [out])
    return gb.save(path, [x], [out])


def one_op_model(path: Path, op_name: str) -> Path:
    """input 1x4x4x3 -> <op_name> -> output: for the unsupported-op error."""
    gb = GraphBuilder()
    x = gb.tensor((1, 4, 4, 3), name="input")
    y = gb.tensor((1, 4, 4, 3), name="output")
    gb.op(op_name, [x], [y])
    return gb.save(path, [x], [y])


def tampered(src: Path, dst: Path, edit: Any) -> Path:
    """A copy of the .tflite `src` at `dst` after `edit(model, main_subgraph)` on its object-API form (the
    schema's ModelT): a broken model made from a real one."""
    from ai_edge_litert import schema_py_generated as s

    model = s.ModelT.InitFromPackedBuf(Path(src).read_bytes(), 0)
    edit(model, model.subgraphs[0])
    dst.write_bytes(pack_plain(model))
    return dst


def pack_plain(model: Any) -> bytes:
    """A schema `ModelT` as .tflite bytes through flatbuffers' own builder, every vector written where
    it is used (what `portrait_export.tflite_rewrite.pack_shared` is measured against)."""
    import flatbuffers

    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=TFLITE_FILE_IDENTIFIER)
    return bytes(b.Output())


def repacked_plain(raw: bytes) -> bytes:
    """The .tflite bytes `raw` packed again by `pack_plain`."""
    from ai_edge_litert import schema_py_generated as s

    return pack_plain(s.ModelT.InitFromPackedBuf(raw, 0))


def run_tflite(raw: bytes, x: np.ndarray) -> np.ndarray:
    """The first output of the .tflite bytes `raw` for the first input `x`, through LiteRT."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=raw)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"]).copy()
