"""A .tflite that LiteRT loads but cannot describe or run is a ModelLoadError naming the file at load:
a tensor name that is not UTF-8 (an uncaught UnicodeDecodeError from get_input_details) and an output
that no op writes ("Tensor data is null" only at the first run). Audit findings 5 and 6.

Through the real load path only (litert.new_interpreter): its graph check is the one home of the
refusal of an output no op writes; the backend's own handling is what names a non-UTF-8 tensor."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from portrait_mobile.errors import ModelLoadError  # noqa: E402
from portrait_mobile.runtime import Segmenter  # noqa: E402
from portrait_mobile.runtime.backends import LiteRTBackend  # noqa: E402
from portrait_mobile.runtime.cli import main as cli_main  # noqa: E402
from support.tflite_graphs import GraphBuilder  # noqa: E402


def bad_name_model(path: Path) -> Path:
    """input 1x4x4x3 (named b"\\xff\\xfe bad", not UTF-8) -> RELU -> output."""
    gb = GraphBuilder()
    x, y = gb.tensor((1, 4, 4, 3)), gb.tensor((1, 4, 4, 3), name="output")
    gb.g.tensors[x].name = b"\xff\xfe bad"
    gb.op("RELU", [x], [y])
    return gb.save(path, [x], [y])


def no_ops_model(path: Path) -> Path:
    """input 1x4x4x3 and output 1x4x4x3 with no op between them: nothing ever writes the output."""
    gb = GraphBuilder()
    x, y = gb.tensor((1, 4, 4, 3), name="input"), gb.tensor((1, 4, 4, 3), name="output")
    return gb.save(path, [x], [y])


def unwritten_output_model(path: Path) -> Path:
    """input 1x4x4x3 -> RELU -> output, and a second output 1x4x4x3 that no op writes."""
    gb = GraphBuilder()
    x, y = gb.tensor((1, 4, 4, 3), name="input"), gb.tensor((1, 4, 4, 3), name="output")
    z = gb.tensor((1, 4, 4, 3), name="unwritten")
    gb.op("RELU", [x], [y])
    return gb.save(path, [x], [y, z])


# Each refusal's wording: the backend's own for a name LiteRT cannot decode, the graph reader's
# (litert.new_interpreter runs it) for the rest.
MODELS = {"bad_name": (bad_name_model, r"is not a loadable TFLite model: UnicodeDecodeError"),
          "no_ops": (no_ops_model, r"is a corrupt TFLite model: the main subgraph has no ops"),
          "unwritten_output": (unwritten_output_model,
                               r"is a corrupt TFLite model: graph output 2 is written by no op")}


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_litert_backend_refuses_at_load_naming_the_file(tmp_path: Path, kind: str) -> None:
    make, why = MODELS[kind]
    path = make(tmp_path / f"{kind}.tflite")
    with pytest.raises(ModelLoadError, match=why) as e:
        LiteRTBackend(path)
    assert str(e.value).startswith(f"{path} "), str(e.value)
    with pytest.raises(ModelLoadError, match=str(path).replace("\\", "\\\\")):
        Segmenter.from_file(path)


def test_the_cli_names_a_model_with_a_non_utf8_tensor_name(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    import cv2

    model = bad_name_model(tmp_path / "badname.tflite")
    img = tmp_path / "img.png"
    assert cv2.imwrite(str(img), np.zeros((8, 8, 3), np.uint8))
    rc = cli_main([str(img), "--model", str(model), "--effect", "mask", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 1 and str(model) in err and "unexpected" not in err, err


def test_a_good_model_still_loads_and_runs(tmp_path: Path) -> None:
    gb = GraphBuilder()
    x, y = gb.tensor((1, 4, 4, 3), name="input"), gb.tensor((1, 4, 4, 3), name="output")
    gb.op("RELU", [x], [y])
    b = LiteRTBackend(gb.save(tmp_path / "relu.tflite", [x], [y]))
    x_in = np.linspace(-1, 1, 48, dtype=np.float32).reshape(1, 4, 4, 3)
    np.testing.assert_array_equal(b.run(x_in), np.maximum(x_in, 0))
