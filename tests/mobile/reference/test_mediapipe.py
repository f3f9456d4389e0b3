"""portrait_mobile.reference.mediapipe: finding the reference files (torch-free)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from portrait_mobile.errors import ModelLoadError
from portrait_mobile.reference.mediapipe import MEDIAPIPE_FILES, mediapipe_path


def test_a_folder_resolves_to_the_named_reference(tmp_path: Path) -> None:
    for name, file in MEDIAPIPE_FILES.items():
        (tmp_path / file).write_bytes(b"x")
        assert mediapipe_path(tmp_path, name) == tmp_path / file
    assert mediapipe_path(tmp_path / MEDIAPIPE_FILES["mediapipe"]) == tmp_path / MEDIAPIPE_FILES["mediapipe"]


def test_missing_or_unknown_references_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelLoadError, match="not found: .*selfie_segmentation.tflite"):
        mediapipe_path(tmp_path)
    with pytest.raises(ValueError, match="unknown reference 'mediapipe-xl'"):
        mediapipe_path(tmp_path, "mediapipe-xl")
    (tmp_path / MEDIAPIPE_FILES["mediapipe"]).write_bytes(b"x")
    monkeypatch.setenv("PORTRAIT_ANCHORS_DIR", str(tmp_path))  # the environment names the folder
    assert mediapipe_path() == tmp_path / MEDIAPIPE_FILES["mediapipe"]


def test_imports_without_torch() -> None:
    code = ("import sys; import portrait_mobile.reference.mediapipe; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- a model LiteRT loads but cannot describe or run: ModelLoadError naming the file, at load -------------


def _mean_rgb_model(path: Path, input_name: str | bytes = "input", with_op: bool = True,
                    op_writes_output: bool = True) -> Path:
    """input 1x4x4x3 float32 -> 1x1 CONV_2D (mean of R, G, B) -> output 1x4x4x1; without the op, or with
    the op writing another tensor, nothing writes the output."""
    import numpy as np
    from support.tflite_graphs import GraphBuilder

    gb = GraphBuilder()
    x, y = gb.tensor((1, 4, 4, 3)), gb.tensor((1, 4, 4, 1), name="output")
    gb.g.tensors[x].name = input_name
    if with_op:
        gb.op("CONV_2D", [x, gb.tensor((1, 1, 1, 3), np.full((1, 1, 1, 3), 1 / 3, np.float32)),
                          gb.tensor((1,), np.zeros(1, np.float32))],
              [y if op_writes_output else gb.tensor((1, 4, 4, 1), name="elsewhere")],
              gb.options("Conv2DOptions", padding=1, strideH=1, strideW=1))
    return gb.save(path, [x], [y])


@pytest.mark.parametrize("kind,why", [("bad_name", r"is not a loadable TFLite model: UnicodeDecodeError"),
                                      ("no_ops", r"is a corrupt TFLite model: the main subgraph has no ops"),
                                      ("unwritten_output", r"is a corrupt TFLite model: graph output 1 is "
                                                           "written by no op")])
def test_predictor_refuses_at_load_naming_the_file(tmp_path: Path, kind: str, why: str) -> None:
    """Audit 5 and 6: a non-UTF-8 tensor name was an uncaught UnicodeDecodeError from get_input_details;
    an output no op writes loaded, then failed at predict with "Tensor data is null". The real load path:
    the predictor names the first, litert.new_interpreter's graph check refuses the second."""
    pytest.importorskip("ai_edge_litert")
    import numpy as np

    from portrait_mobile.reference import mediapipe

    path = _mean_rgb_model(tmp_path / f"{kind}.tflite", **{
        "bad_name": {"input_name": b"\xff\xfe bad"}, "no_ops": {"with_op": False},
        "unwritten_output": {"op_writes_output": False}}[kind])
    with pytest.raises(ModelLoadError, match=why) as e:
        mediapipe.MediaPipePredictor(path)
    assert str(e.value).count(str(path)) == 1, str(e.value)
    good = mediapipe.MediaPipePredictor(_mean_rgb_model(tmp_path / "good.tflite"))
    np.testing.assert_allclose(good.predict(np.full((6, 5, 3), 51, np.uint8)), 0.2, atol=1e-6)
