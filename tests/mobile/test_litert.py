"""portrait_mobile.litert (the one interpreter set-up) and portrait_mobile.tflite_weights (the one
reader of LiteRT's private op list), on the packaged int8 model and the MediaPipe reference."""
from __future__ import annotations

import numpy as np
import pytest

from portrait_mobile.errors import PortraitError
from portrait_mobile.litert import KERNELS, new_interpreter
from portrait_mobile.paths import DEFAULT_INT8, find_shared
from portrait_mobile.tflite_weights import float_weight_count, op_details, stored_constants

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
