"""portrait_mobile.tflite_graph: the one .tflite graph reader (tensors, ops, constants, errors)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from portrait_mobile.errors import ModelLoadError  # noqa: E402
from portrait_mobile.tflite_graph import read_tflite  # noqa: E402
from support.tflite_graphs import mixed_ops_model  # noqa: E402


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
