"""Flatbuffer surgery on the quantized .tflite: short tensor names, no unused min/max, uint8 I/O for
int8, the contract as a metadata entry, and each distinct numeric vector written once."""
from __future__ import annotations

from typing import Any

import numpy as np

from portrait_mobile.contract import CONTRACT_KEY, ModelContract
from portrait_mobile.errors import ExportError
from portrait_mobile.tflite_graph import TFLITE_FILE_IDENTIFIER, flatbuffer_str

INPUT_NAME, OUTPUT_NAME = "image", "mask"
U8_SCALE = 1.0 / 255.0


def finalize(model_bytes: bytes, contract: ModelContract, uint8_io: bool) -> bytes:
    """Rename tensors, drop quantization min/max, (int8) add uint8 I/O, embed the contract (whose
    input and output names the I/O tensors take)."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    m = fbu.read_model_from_bytearray(bytearray(model_bytes))
    if len(m.subgraphs) != 1:
        raise ExportError(f"tflite: expected one subgraph, got {len(m.subgraphs)}")
    sg = m.subgraphs[0]
    if len(sg.inputs) != 1 or len(sg.outputs) != 1:
        raise ExportError("tflite: expected one input and one output tensor")

    if uint8_io:
        _add_uint8_io(m, sg, schema)

    # Short names: the PyTorch module scopes litert-torch writes are ~450 bytes per tensor.
    for i, t in enumerate(sg.tensors):
        t.name = f"t{i}"
    sg.tensors[sg.inputs[0]].name = contract.input_name
    sg.tensors[sg.outputs[0]].name = contract.output_name
    for t in sg.tensors:
        q = t.quantization
        if q is None:
            continue
        q.min = None
        q.max = None
        if q.scale is None or len(q.scale) == 0:
            t.quantization = None  # an empty table on a float tensor
    for sd in m.signatureDefs or []:
        sd.inputs[0].name = contract.input_name
        sd.inputs[0].tensorIndex = sg.inputs[0]
        sd.outputs[0].name = contract.output_name
        sd.outputs[0].tensorIndex = sg.outputs[0]
    m.description = f"{contract.model_name} {contract.precision} (portrait-mobile)"

    # The contract as a metadata entry (replacing an older one).
    meta = [md for md in (m.metadata or []) if flatbuffer_str(md.name) != CONTRACT_KEY]
    buf = schema.BufferT()
    buf.data = np.frombuffer(contract.to_json().encode("utf-8"), np.uint8)
    m.buffers.append(buf)
    md = schema.MetadataT()
    md.name = CONTRACT_KEY
    md.buffer = len(m.buffers) - 1
    meta.append(md)
    m.metadata = meta
    return pack_shared(m)


def pack_shared(model: Any) -> bytes:
    """A schema `ModelT` as .tflite bytes, every distinct numeric vector stored once.

    Equal vectors are frequent: each per-channel tensor carries an int64 zero point per channel, all
    zero (a quarter of an int8 model's bytes), and a conv whose weights two ops share still gets an
    int32 bias per use. A flatbuffer may point any number of tables at one vector, so readers see
    the same model (tested bit-exact on LiteRT and its ARM kernels)."""
    import flatbuffers

    class SharingBuilder(flatbuffers.Builder):
        def __init__(self, size: int) -> None:
            super().__init__(size)
            self.written: dict[tuple[str, tuple[int, ...], bytes], int] = {}

        def CreateNumpyVector(self, x: np.ndarray) -> int:  # noqa: N802 (flatbuffers' name)
            key = (x.dtype.str, x.shape, x.tobytes())
            if key not in self.written:
                self.written[key] = super().CreateNumpyVector(x)
            return self.written[key]

    b = SharingBuilder(1024)
    b.Finish(model.Pack(b), file_identifier=TFLITE_FILE_IDENTIFIER)
    return bytes(b.Output())


def _opcode_index(m: Any, schema: Any, builtin: int) -> int:
    for i, c in enumerate(m.operatorCodes):
        if max(c.builtinCode, c.deprecatedBuiltinCode) == builtin:
            c.version = max(c.version, 2)
            return i
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, 127)
    code.version = 2
    m.operatorCodes.append(code)
    return len(m.operatorCodes) - 1


def _add_uint8_io(m: Any, sg: Any, schema: Any) -> None:
    """uint8 graph input/output around the int8 graph, each through one QUANTIZE (requantize) op."""
    T = schema.TensorType
    quant_op = _opcode_index(m, schema, schema.BuiltinOperator.QUANTIZE)

    def new_tensor(like: Any, scale: float, zero_point: int) -> int:
        t = schema.TensorT()
        t.shape = list(like.shape)
        t.shapeSignature = None if like.shapeSignature is None else list(like.shapeSignature)
        t.type = T.UINT8
        t.buffer = 0
        q = schema.QuantizationParametersT()
        q.scale = [float(scale)]
        q.zeroPoint = [int(zero_point)]
        q.quantizedDimension = 0
        t.quantization = q
        sg.tensors.append(t)
        return len(sg.tensors) - 1

    def op(i: int, o: int) -> Any:
        x = schema.OperatorT()
        x.opcodeIndex = quant_op
        x.inputs, x.outputs = [i], [o]
        x.builtinOptionsType = schema.BuiltinOptions.QuantizeOptions
        x.builtinOptions = schema.QuantizeOptionsT()
        return x

    old_in, old_out = sg.inputs[0], sg.outputs[0]
    tin, tout = sg.tensors[old_in], sg.tensors[old_out]
    for t, what in ((tin, "input"), (tout, "output")):
        if t.type != T.INT8 or t.quantization is None or t.quantization.scale is None:
            raise ExportError(f"tflite int8: graph {what} is not an int8 tensor (type {t.type})")
    s_in, z_in = float(tin.quantization.scale[0]), int(tin.quantization.zeroPoint[0])
    if abs(s_in - U8_SCALE) > 1e-5 * U8_SCALE or z_in != -128:
        raise ExportError(f"tflite int8: input quantization is scale {s_in:.8g} zero point {z_in}, "
                          f"expected 1/255 and -128")
    new_in = new_tensor(tin, s_in, z_in + 128)  # the same real values: pixel / 255
    new_out = new_tensor(tout, U8_SCALE, 0)
    sg.operators.insert(0, op(new_in, old_in))
    sg.operators.append(op(old_out, new_out))
    sg.inputs, sg.outputs = [new_in], [new_out]
