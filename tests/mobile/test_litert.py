"""portrait_mobile.litert (the one interpreter set-up) and portrait_mobile.tflite_weights (the one
reader of LiteRT's private op list), on the packaged int8 model and the MediaPipe reference."""
from __future__ import annotations

import re

import numpy as np
import pytest

from portrait_mobile.errors import ModelLoadError, PortraitError
from portrait_mobile.litert import KERNELS, new_interpreter
from portrait_mobile.paths import DEFAULT_INT8, find_shared
from portrait_mobile.tflite_weights import float_weight_count, op_details, stored_constants
from support.tflite_graphs import mixed_ops_model, tampered

PACKAGED = DEFAULT_INT8


@pytest.mark.parametrize("kernels", KERNELS)
def test_interpreter_runs_with_either_kernels(kernels: str) -> None:
    it = new_interpreter(PACKAGED, threads=1, kernels=kernels)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    it.set_tensor(inp["index"], np.zeros(inp["shape"], inp["dtype"]))
    it.invoke()
    assert it.get_tensor(out["index"]).shape == tuple(out["shape"])


def test_interpreter_from_bytes() -> None:
    it = new_interpreter(PACKAGED.read_bytes())
    assert it.get_input_details()[0]["shape"].tolist() == new_interpreter(PACKAGED).get_input_details()[0]["shape"].tolist()


def test_unknown_kernels_are_refused() -> None:
    with pytest.raises(ValueError, match="kernels must be one of"):
        new_interpreter(PACKAGED, kernels="npu-magic")


def test_int8_model_stores_no_float_weights() -> None:
    it = new_interpreter(PACKAGED)
    ops = op_details(it)
    assert ops and {"op_name", "inputs", "outputs"} <= set(ops[0])
    constants = stored_constants(it, ops)
    assert constants and not constants & {int(d["index"]) for d in it.get_input_details()}
    assert float_weight_count(it) == 0


def test_float_weight_count_of_the_reference() -> None:
    try:
        mediapipe = find_shared("anchors") / "selfie_segmentation.tflite"
    except PortraitError as e:
        pytest.skip(str(e))
    assert float_weight_count(new_interpreter(mediapipe)) == 106_401  # the README's parameter count


def test_unreadable_graph_is_unknown() -> None:
    class Broken:
        def _get_ops_details(self) -> list:
            raise RuntimeError("renamed in a future LiteRT")

        def get_tensor_details(self) -> list:
            return []

    assert float_weight_count(Broken()) is None


def _flip_zero_point(m, g) -> None:
    """An int8 activation's zero point with its bytes flipped (-128 -> -262272): LiteRT segfaults on it."""
    t = next(t for t in g.tensors if t.type == 9 and t.buffer == 0 and t.quantization is not None)
    t.quantization.zeroPoint = np.array([-262272], np.int64)


def _grow_dequantize(m, g) -> None:
    """A DEQUANTIZE of fp16 weights whose output claims more elements than its input: XNNPACK fills the
    output from the input unchecked (the audit's segfault, on the reference model's larger weights)."""
    g.tensors[g.operators[0].outputs[0]].shape = np.array([6, 3, 300, 4], np.int32)


@pytest.mark.parametrize("edit, needle", [(_flip_zero_point, "zero point outside"),
                                          (_grow_dequantize, "DEQUANTIZE turns 216 elements into 21600")])
def test_inconsistent_models_never_reach_litert(tmp_path, edit, needle: str) -> None:
    src = PACKAGED if edit is _flip_zero_point else mixed_ops_model(tmp_path / "mixed.tflite")
    assert new_interpreter(src) is not None
    bad = tampered(src, tmp_path / "bad.tflite", edit)
    with pytest.raises(ModelLoadError, match=f"{re.escape(str(bad))} is a corrupt TFLite model: .*{needle}") as e:
        new_interpreter(bad, kernels="xnnpack")
    assert isinstance(e.value, ValueError)  # what callers catch of LiteRT's own refusals
    with pytest.raises(ModelLoadError, match=f"the .tflite bytes is a corrupt TFLite model: .*{needle}"):
        new_interpreter(bad.read_bytes(), kernels="builtin")
