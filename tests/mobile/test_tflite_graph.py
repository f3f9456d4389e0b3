"""portrait_mobile.tflite_graph: the one .tflite graph reader (tensors, ops, constants, errors)."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from portrait_mobile.errors import ModelLoadError  # noqa: E402
from portrait_mobile.paths import DEFAULT_INT8  # noqa: E402
from portrait_mobile.tflite_graph import TFLITE_FILE_IDENTIFIER, check_tflite, read_tflite  # noqa: E402
from support.tflite_graphs import mixed_ops_model, tampered  # noqa: E402


def test_reader_sees_ops_shapes_and_fp16_weights(tmp_path: Path) -> None:
    g = read_tflite(mixed_ops_model(tmp_path / "mixed.tflite"))
    assert g.op_names()[:3] == ["DEQUANTIZE", "CONV_2D", "DEPTHWISE_CONV_2D"]
    assert "Convolution2DTransposeBias" in g.op_names()
    assert g.tensors[g.inputs[0]].shape == (1, 10, 12, 4)
    w16 = g.tensors[g.ops[0].inputs[0]]
    assert w16.data is not None and w16.data.dtype == np.float16 and w16.data.shape == (6, 3, 3, 4)
    assert (w16.dtype, w16.stored, w16.is_const) == ("float16", True, True)
    w32 = g.tensors[g.ops[0].outputs[0]]  # the DEQUANTIZE of a constant is a constant, not stored
    assert (w32.dtype, w32.stored, w32.is_const, w32.data) == ("float32", False, True, None)
    assert g.is_const_dequantize(g.ops[0]) and not g.is_const_dequantize(g.ops[1])
    out = g.tensors[g.outputs[0]]
    assert out.data is None and not out.is_const and g.output_name(g.ops[-1]) == out.name
    custom = next(op for op in g.ops if op.builtin == "CUSTOM")
    assert (custom.name, custom.label) == ("Convolution2DTransposeBias", "CUSTOM(Convolution2DTransposeBias)")
    assert read_tflite(mixed_ops_model(tmp_path / "again.tflite").read_bytes()).op_names() == g.op_names()


def test_option_values_are_plain(tmp_path: Path) -> None:
    g = read_tflite(mixed_ops_model(tmp_path / "mixed.tflite"))
    conv = g.ops[1]
    assert conv.option_values["strideH"] == 2 and conv.option_values["fusedActivationFunction"] == 3
    assert g.ops[0].option_values == {}  # DEQUANTIZE has no options


@pytest.mark.parametrize("data, needle", [
    (b"", "no TFL3 identifier"),
    (b"\xff\xff\x00\x00TFL3" + bytes(range(256)) * 8, "corrupt TFLite model"),
])
def test_unreadable_models_name_the_file(tmp_path: Path, data: bytes, needle: str) -> None:
    path = tmp_path / "bad.tflite"
    path.write_bytes(data)
    with pytest.raises(ModelLoadError, match=needle) as e:
        read_tflite(path)
    assert str(path) in str(e.value)
    with pytest.raises(ModelLoadError, match="TFLite model not found"):
        read_tflite(tmp_path / "absent.tflite")


def test_another_kind_of_file_is_refused_from_its_head(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large file that is not a TFLite model is never read whole: its first 8 bytes refuse it."""
    import portrait_mobile.tflite_graph as tg

    path = tmp_path / "photo.tflite"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(4096))
    reads: list[int | None] = []
    real = tg.read_input
    monkeypatch.setattr(tg, "read_input", lambda *a, limit=None: reads.append(limit) or real(*a, limit=limit))
    with pytest.raises(ModelLoadError, match="no TFL3 identifier"):
        check_tflite(path)
    assert reads == [8]


# ------------------------------------------------------------ tampered graphs (each one a real file with
# one field broken) are refused with the file named, before LiteRT's native code or a reader trusts them.

def _first(g, pred):  # the first tensor of the object-API subgraph `g` that `pred` accepts
    return next(t for t in g.tensors if pred(t))


def _per_channel(t) -> bool:
    return t.quantization is not None and t.quantization.scale is not None and len(t.quantization.scale) > 1


def _int8_activation(t) -> bool:
    # type 9: INT8; buffer 0: not stored
    return t.type == 9 and t.buffer == 0 and t.quantization is not None and t.quantization.zeroPoint is not None


def _set(obj, field: str, i: int, value: int) -> None:  # the object API's arrays are read-only views
    a = np.array(getattr(obj, field))
    a[i] = value
    setattr(obj, field, a)


def _grow_dequantize(m, g) -> None:
    g.tensors[g.operators[0].outputs[0]].shape = np.array([6, 3, 300, 4], np.int32)


def _as_quantize(m, g) -> None:
    m.operatorCodes[g.operators[0].opcodeIndex].builtinCode = 114  # QUANTIZE, with its output grown too
    m.operatorCodes[g.operators[0].opcodeIndex].deprecatedBuiltinCode = 114
    _grow_dequantize(m, g)


INT8_TAMPERS = {
    "scales_short": (lambda m, g: setattr(_first(g, _per_channel).quantization, "scale", np.array([1.0], np.float32)),
                     r"has 1 scale\(s\) but \d+ zero point"),
    "per_channel_axis": (lambda m, g: setattr(_first(g, _per_channel).quantization, "quantizedDimension", 3),
                         "per-channel scales for shape"),
    # An int8 activation with its zero point's bytes flipped: LiteRT segfaults on it.
    "zero_point": (lambda m, g: setattr(_first(g, _int8_activation).quantization, "zeroPoint",
                                        np.array([-262272], np.int64)), r"zero point outside -128\.\.127"),
}
MIXED_TAMPERS = {
    "no_ops": (lambda m, g: setattr(g, "operators", []), "the main subgraph has no ops"),
    "op_input_oob": (lambda m, g: _set(g.operators[1], "inputs", 1, 99999), "op 1 input names tensor 99999 of"),
    "op_input_negative": (lambda m, g: _set(g.operators[1], "inputs", 0, -7), "op 1 input names tensor -7 of"),
    "op_output_oob": (lambda m, g: _set(g.operators[1], "outputs", 0, 99999), "op 1 output names tensor 99999"),
    "graph_input_oob": (lambda m, g: setattr(g, "inputs", np.array([99999], np.int32)), "a graph input names tensor"),
    "graph_output_oob": (lambda m, g: setattr(g, "outputs", np.array([-1], np.int32)), "a graph output names tensor"),
    "output_unwritten": (lambda m, g: setattr(g, "operators", g.operators[:-1]), "graph output .* is written by no op"),
    "buffer_oob": (lambda m, g: setattr(g.tensors[1], "buffer", 10**6), "tensor 1 names buffer 1000000 of"),
    "opcode_oob": (lambda m, g: setattr(g.operators[1], "opcodeIndex", 9999), "op 1 names operator code 9999"),
    "unknown_type": (lambda m, g: setattr(g.tensors[1], "type", 99), "tensor 1 has an unknown type 99"),
    "negative_dim": (lambda m, g: setattr(g.tensors[0], "shape", np.array([1, -5, 12, 4], np.int32)),
                     "negative dimension"),
    # XNNPACK fills a constant DEQUANTIZE's output from its input unchecked: a larger output reads past it.
    "dequantize_grown": (_grow_dequantize, "op 0 DEQUANTIZE turns 216 elements into 21600"),
    "quantize_grown": (_as_quantize, "op 0 QUANTIZE turns 216 elements into 21600"),
}


def tampered_model(tmp_path: Path, case: str) -> tuple[Path, str]:
    """(a copy of a real model with the `case` fault, the error message's pattern)."""
    if case in INT8_TAMPERS:
        edit, needle = INT8_TAMPERS[case]
        return tampered(DEFAULT_INT8, tmp_path / f"{case}.tflite", edit), needle
    edit, needle = MIXED_TAMPERS[case]
    return tampered(mixed_ops_model(tmp_path / "mixed.tflite"), tmp_path / f"{case}.tflite", edit), needle


@pytest.mark.parametrize("case", [*INT8_TAMPERS, *MIXED_TAMPERS])
def test_inconsistent_graphs_are_refused(tmp_path: Path, case: str) -> None:
    path, needle = tampered_model(tmp_path, case)
    with pytest.raises(ModelLoadError, match=needle) as e:
        read_tflite(path)
    assert str(e.value).startswith(f"{path} is a corrupt TFLite model: ")
    with pytest.raises(ModelLoadError, match="the .tflite bytes is a corrupt TFLite model"):
        read_tflite(path.read_bytes())


def test_the_untampered_sources_are_read(tmp_path: Path) -> None:
    assert len(read_tflite(DEFAULT_INT8).ops) > 10
    g = read_tflite(tampered(mixed_ops_model(tmp_path / "mixed.tflite"), tmp_path / "same.tflite", lambda m, g: None))
    assert g.op_names() == read_tflite(tmp_path / "mixed.tflite").op_names()


def test_tensors_sharing_a_buffer_share_one_read_only_array(tmp_path: Path) -> None:
    """A small file with many tensors naming one large buffer: each is a view of the file's bytes, so
    reading it costs about the file, not the file times the tensors (a memory bomb otherwise)."""
    import tracemalloc

    def share(m, g) -> None:
        big = g.operators[1].inputs[2]  # the first conv's float32 bias: 200 copies name its buffer, now 256 KiB
        m.buffers[g.tensors[big].buffer].data = np.zeros(1 << 18, np.uint8)
        g.tensors[big].shape = np.array([1 << 16], np.int32)
        for _ in range(200):
            t = copy.copy(g.tensors[big])
            t.name = f"copy{len(g.tensors)}"
            g.tensors.append(t)

    path = tampered(mixed_ops_model(tmp_path / "mixed.tflite"), tmp_path / "shared.tflite", share)
    tracemalloc.start()
    try:
        g = read_tflite(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    copies = [t.data for t in g.tensors if t.name.startswith("copy")]
    assert len(copies) == 200 and all(d.shape == (1 << 16,) and not d.flags.writeable for d in copies)
    assert np.shares_memory(copies[0], copies[-1])
    assert peak < 4 * path.stat().st_size, peak  # 200 copies would be 50 MiB


def _shared_shape_model(path: Path, tensors: int, dims: int) -> Path:
    """A RELU graph whose `tensors` tensors all point at one `dims`-long shape vector (legal flatbuffer,
    written with the builder API since the object API never shares)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    b = flatbuffers.Builder(1024)

    def vector(start, offsets: list[int]) -> int:
        start(b, len(offsets))
        for o in reversed(offsets):
            b.PrependUOffsetTRelative(o)
        return b.EndVector()

    shape = b.CreateNumpyVector(np.ones(dims, np.int32))
    ts = []
    for _ in range(tensors):
        s.TensorStart(b)
        s.TensorAddShape(b, shape)
        ts.append(s.TensorEnd(b))
    io0, io1 = (b.CreateNumpyVector(np.array([i], np.int32)) for i in (0, 1))
    s.OperatorStart(b)
    s.OperatorAddInputs(b, io0)
    s.OperatorAddOutputs(b, io1)
    op = s.OperatorEnd(b)
    t_vec, op_vec = vector(s.SubGraphStartTensorsVector, ts), vector(s.SubGraphStartOperatorsVector, [op])
    s.SubGraphStart(b)
    s.SubGraphAddTensors(b, t_vec)
    s.SubGraphAddOperators(b, op_vec)
    s.SubGraphAddInputs(b, io0)
    s.SubGraphAddOutputs(b, io1)
    sub = s.SubGraphEnd(b)
    s.OperatorCodeStart(b)
    s.OperatorCodeAddBuiltinCode(b, s.BuiltinOperator.RELU)
    s.OperatorCodeAddDeprecatedBuiltinCode(b, s.BuiltinOperator.RELU)
    code = s.OperatorCodeEnd(b)
    s.BufferStart(b)
    buf = s.BufferEnd(b)
    subs, codes, bufs = (vector(f, [o]) for f, o in ((s.ModelStartSubgraphsVector, sub),
                                                     (s.ModelStartOperatorCodesVector, code),
                                                     (s.ModelStartBuffersVector, buf)))
    s.ModelStart(b)
    s.ModelAddVersion(b, 3)
    s.ModelAddSubgraphs(b, subs)
    s.ModelAddOperatorCodes(b, codes)
    s.ModelAddBuffers(b, bufs)
    b.Finish(s.ModelEnd(b), file_identifier=TFLITE_FILE_IDENTIFIER)
    path.write_bytes(bytes(b.Output()))
    return path


def test_shared_vectors_that_expand_past_the_file_are_refused(tmp_path: Path) -> None:
    assert len(read_tflite(_shared_shape_model(tmp_path / "fine.tflite", 2, 4)).tensors) == 2
    bomb = _shared_shape_model(tmp_path / "bomb.tflite", 2000, 2000)  # ~50 KB naming 4M dimensions
    with pytest.raises(ModelLoadError, match="share vectors that expand far past the file's size"):
        read_tflite(bomb)
