"""Predictors, evaluate() and the portrait-eval CLI, on generated data (and real data where present)."""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from portrait_mobile.checkpoint import Checkpoint
from support.datasets import make_portrait_folder
from portrait_mobile.data.carve import is_validation
from portrait_mobile.data.folder import PortraitFolder
from portrait_mobile.errors import ModelLoadError
from portrait_mobile.evaluation import ArtifactPredictor, TorchPredictor, evaluate
from portrait_mobile.evaluation.cli import main


class OraclePredictor:
    """Answers with the ground truth of the folder it was given: every metric must be 100."""

    name = "oracle"
    params = None

    def __init__(self, folder: PortraitFolder) -> None:
        self._masks = {folder[i].image.tobytes(): folder[i].mask for i in range(len(folder))}

    def predict(self, image: np.ndarray) -> np.ndarray:
        return self._masks[image.tobytes()].astype(np.float32) / 255


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse
        rc = int(e.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc: int, err: str) -> None:
    assert rc == 2
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("portrait-eval: error: "), err


def test_torch_predictor_returns_probability_at_image_size(random_checkpoint: Path) -> None:
    pred = TorchPredictor(Checkpoint.load(random_checkpoint), num_threads=1)
    prob = pred.predict(np.zeros((37, 53, 3), np.uint8))
    assert prob.shape == (37, 53) and prob.dtype == np.float32
    assert 0.0 <= prob.min() <= prob.max() <= 1.0
    assert pred.params and pred.params > 1000


def test_artifact_predictor_checks_the_output_shape() -> None:
    class Fake:
        def __init__(self, shape: tuple[int, int] | None = None) -> None:
            self.shape = shape

        def segment(self, image: np.ndarray) -> np.ndarray:
            return np.full(self.shape or image.shape[:2], 0.7, np.float32)

    image = np.zeros((10, 12, 3), np.uint8)
    assert ArtifactPredictor(Fake(), "fake").predict(image).shape == (10, 12)
    with pytest.raises(ModelLoadError):
        ArtifactPredictor(Fake((256, 256)), "fake").predict(image)
    with pytest.raises(TypeError):
        ArtifactPredictor(object(), "nothing")


def test_artifact_predictor_passes_runtime_options() -> None:
    seen: list[dict] = []

    class Recorder:
        def segment(self, image: np.ndarray, **kw: object) -> np.ndarray:
            seen.append(kw)
            return np.zeros(image.shape[:2], np.float32)

    ArtifactPredictor(Recorder(), "r", refine=True).predict(np.zeros((4, 4, 3), np.uint8))
    ArtifactPredictor(Recorder(), "r").predict(np.zeros((4, 4, 3), np.uint8))
    assert seen == [{"refine": True}, {}]


def test_evaluate_oracle_is_perfect(tiny_dataset: Path) -> None:
    folder = PortraitFolder(tiny_dataset, "train")
    r = evaluate(OraclePredictor(folder), folder, progress=False, worst=2)
    assert r.metrics.n_images == 3
    assert r.metrics.fg_iou == r.metrics.miou == r.metrics.boundary_iou == 100.0
    assert len(r.per_image) == 3 and len(r.worst) == 2
    assert evaluate(OraclePredictor(folder), folder, progress=False, limit=1).metrics.n_images == 1


def test_cli_json_on_tiny_dataset(tiny_dataset: Path, random_checkpoint: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "res" / "eval.json"
    rc, out, _ = run_cli(["--data", f"{tiny_dataset}:train", "--weights", str(random_checkpoint), "--threads", "1",
                          "--json", "--out", str(out_file)], capsys)
    assert rc == 0
    report = json.loads(out)
    assert json.loads(out_file.read_text()) == report
    (res,) = report["results"]
    assert res["model"] == "random.pt" and res["set"] == "tiny/train" and res["n_images"] == 3
    for key in ("fg_iou", "miou", "boundary_iou"):
        assert 0.0 <= res[key] <= 100.0
    assert len(res["per_image"]) == 3


def test_cli_refuses_an_unwritable_out_before_evaluating(tiny_dataset: Path, random_checkpoint: Path,
                                                        tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    ev = importlib.import_module("portrait_mobile.evaluation.evaluate")  # the module, not the function

    def must_not_run(*_a, **_k):
        raise AssertionError("evaluated although --out cannot be written")

    monkeypatch.setattr(ev, "evaluate", must_not_run)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for out, why in [(folder, "is a folder"), (blocker / "eval.json", "is a file")]:
        rc, out_text, err = run_cli(["--data", f"{tiny_dataset}:train", "--weights", str(random_checkpoint),
                                     "--json", "--out", str(out)], capsys)
        assert rc == 2 and why in err and err.count("\n") == 1 and out_text == "", err
    assert blocker.read_text() == "x"


def test_cli_scores_the_validation_carve_only(random_checkpoint: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    root = make_portrait_folder(tmp_path / "set", n=40, size=(24, 20))
    carved = [f"{i:04d}" for i in range(40) if is_validation(f"{i:04d}", "set/train")]
    assert 0 < len(carved) < 40
    rc, out, _ = run_cli(["--data", f"{root}:train", "--carve", "--weights", str(random_checkpoint), "--threads", "1",
                          "--json"], capsys)
    (res,) = json.loads(out)["results"]
    assert rc == 0 and res["set"] == "set/train carve" and res["n_images"] == len(carved)
    assert sorted(r["id"] for r in res["per_image"]) == carved
    tiny = make_portrait_folder(tmp_path / "tiny", n=2, size=(24, 20))  # too few photos to carve any
    rc, _, err = run_cli(["--data", f"{tiny}:train", "--carve", "--weights", str(random_checkpoint)], capsys)
    assert rc != 0 and "tiny/train carve: no images" in err


def test_cli_table(tiny_dataset: Path, random_checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(["--data", str(tiny_dataset), "--weights", str(random_checkpoint), "--threads", "1",
                          "--limit", "2", "--worst", "1"], capsys)
    assert rc == 0
    header = out.splitlines()[0].split()
    assert header[:3] == ["model", "set", "n"] and "boundary" in header
    assert "random.pt" in out and "worst fg IoU" in out


def _corrupt(tiny: Path, what: str) -> None:
    if what == "image":
        (tiny / "images" / "0001.jpg").write_bytes(b"not a jpeg")
    else:
        cv2.imwrite(str(tiny / "masks" / "0001.png"), np.zeros((10, 10), np.uint8))


@pytest.mark.parametrize("case", ["missing folder", "empty folder", "missing split", "unreadable image",
                                  "mismatched mask", "missing checkpoint", "corrupt checkpoint",
                                  "missing artifact", "bad flag", "bad limit", "only-reference alone"])
def test_cli_bad_input_is_one_line(case: str, tiny_dataset: Path, random_checkpoint: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    data, weights = f"{tiny_dataset}:train", str(random_checkpoint)
    extra: list[str] = []
    if case == "missing folder":
        data = str(tmp_path / "nope") + ":test"
    elif case == "empty folder":
        (tmp_path / "empty" / "images").mkdir(parents=True)
        (tmp_path / "empty" / "masks").mkdir()
        data = str(tmp_path / "empty")
    elif case == "missing split":
        data = f"{tiny_dataset}:test"
    elif case == "unreadable image":
        _corrupt(tiny_dataset, "image")
    elif case == "mismatched mask":
        _corrupt(tiny_dataset, "mask")
    elif case == "missing checkpoint":
        weights = str(tmp_path / "nope.pt")
    elif case == "corrupt checkpoint":
        weights = str(tmp_path / "corrupt.pt")
        Path(weights).write_bytes(b"\x00garbage")
    elif case == "missing artifact":
        extra = ["--model", str(tmp_path / "nope.tflite")]
    elif case == "bad flag":
        extra = ["--bogus"]
    elif case == "bad limit":
        extra = ["--limit", "0"]
    elif case == "only-reference alone":
        extra = ["--only-reference"]
        weights = ""
    argv = ["--data", data, "--threads", "1", *extra] + (["--weights", weights] if weights else [])
    rc, _, err = run_cli(argv, capsys)
    assert_one_line_error(rc, err)


@pytest.mark.parametrize("flag, value", [("--worst", "-1"), ("--limit", "0"), ("--threads", "-2")])
def test_cli_rejects_negative_counts(flag: str, value: str, tiny_dataset: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """issue 13: --worst -1 was accepted."""
    rc, _, err = run_cli(["--data", f"{tiny_dataset}:train", flag, value], capsys)
    assert_one_line_error(rc, err)
    assert f"argument {flag}: expected a" in err


def test_cli_entry_point_error_in_a_real_process(tmp_path: Path) -> None:
    # The installed script path: stderr is exactly one line, no traceback, exit code 2.
    p = subprocess.run([sys.executable, "-m", "portrait_mobile.evaluation.cli", "--data", str(tmp_path / "nope")],
                       capture_output=True, text=True, timeout=120)
    assert_one_line_error(p.returncode, p.stderr)
    assert "dataset folder not found" in p.stderr


# --- the MediaPipe reference on real data -------------------------------------------------------------------


@pytest.fixture
def anchors(shared_datasets: Path) -> Path:
    """../shared/anchors: wherever ../shared is (CI), the reference must be there and the test runs."""
    path = shared_datasets.parent / "anchors"
    assert (path / "selfie_segmentation.tflite").is_file(), f"MediaPipe reference missing from {path}"
    return path


def test_mediapipe_on_three_pfcn_test_images(shared_datasets: Path, anchors: Path) -> None:
    from portrait_mobile.evaluation import MediaPipePredictor

    folder = PortraitFolder(shared_datasets / "pfcn", "test")
    r = evaluate(MediaPipePredictor(anchors, num_threads=1), folder, progress=False, limit=3)
    assert r.metrics.n_images == 3
    assert r.metrics.fg_iou > 80


@pytest.mark.slow
def test_mediapipe_reproduces_design_md(shared_datasets: Path, anchors: Path) -> None:
    # design.md's reference row: if this fails, our metric definitions have drifted from the project's.
    from portrait_mobile.evaluation import MediaPipePredictor

    folder = PortraitFolder(shared_datasets / "pfcn", "test")
    m = evaluate(MediaPipePredictor(anchors, num_threads=1), folder, progress=False).metrics
    assert m.n_images == 264
    assert m.fg_iou == pytest.approx(96.13, abs=0.05)
    assert m.miou == pytest.approx(94.94, abs=0.05)
    assert m.boundary_iou == pytest.approx(71.37, abs=0.05)


def test_cli_quality_levels_name_their_rows(tiny_dataset: Path, tiny_model: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """--quality runs --model artifacts at a runtime level; each level's row is named for it."""
    pytest.importorskip("ai_edge_litert")  # the packaged refiner is a .tflite
    names = []
    for flags in ([], ["--refine"], ["--quality", "accurate"]):
        rc, out, _ = run_cli(["--data", f"{tiny_dataset}:train", "--model", str(tiny_model), "--json", *flags], capsys)
        assert rc == 0
        names.append(json.loads(out)["results"][0]["model"])
    from portrait_mobile.paths import WEIGHTS_DIR
    from portrait_mobile.runtime.refiner import packaged_refiner

    assert names == ["tiny.onnx", "tiny.onnx +refine", f"tiny.onnx +accurate {packaged_refiner(WEIGHTS_DIR).name}"]
    rc, _, err = run_cli(["--data", f"{tiny_dataset}:train", "--model", str(tiny_model), "--refine",
                          "--quality", "accurate"], capsys)
    assert rc == 2 and "--refine is --quality balanced" in err


def test_cli_no_cleanup_scores_the_models_own_mask(tiny_model: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """--model artifacts run with the runtime's default cleanup; --no-cleanup scores the mask as the model
    gives it, in a row named for it. A red speck the tiny model calls a person is what tells them apart."""
    from support.runtime_models import TINY_H, TINY_W

    root = tmp_path / "speck"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    img = np.zeros((TINY_H, TINY_W, 3), np.uint8)
    img[10:58, 6:34, 0] = 255
    mask = (img[..., 0] > 0).astype(np.uint8) * 255
    img[2:5, 40:44, 0] = 255  # not in the label
    cv2.imwrite(str(root / "images" / "0000.png"), img[..., ::-1])
    cv2.imwrite(str(root / "masks" / "0000.png"), mask)
    (root / "train.txt").write_text("0000\n")
    results = {}
    for flags in ([], ["--no-cleanup"]):
        rc, out, _ = run_cli(["--data", f"{root}:train", "--model", str(tiny_model), "--json", *flags], capsys)
        assert rc == 0
        r = json.loads(out)["results"][0]
        results[r["model"]] = r["fg_iou"]
    assert set(results) == {"tiny.onnx", "tiny.onnx (no cleanup)"}
    assert results["tiny.onnx"] > results["tiny.onnx (no cleanup)"] + 0.5


def test_cli_refuses_an_out_that_is_one_of_its_inputs(tiny_dataset: Path, random_checkpoint: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """--out m.onnx replaced the model it scored (so did --weights X --out X, --out <set>/train.txt)."""
    from portrait_mobile.contract_io import sidecar_path
    from support.runtime_models import make_tiny_onnx

    ev = importlib.import_module("portrait_mobile.evaluation.evaluate")
    monkeypatch.setattr(ev, "evaluate", lambda *_a, **_k: pytest.fail("evaluated onto an input"))
    model = make_tiny_onnx(tmp_path / "m.onnx")
    sidecar_path(model).write_text("{}")  # the contract is embedded; a sidecar beside it is read too
    inputs = [model, sidecar_path(model), random_checkpoint, tiny_dataset / "train.txt",
              tiny_dataset / "masks" / "0000.png"]
    before = {p: p.read_bytes() for p in inputs}
    data = ["--data", f"{tiny_dataset}:train"]
    for argv, says in [(["--model", str(model), "--out", str(model)], "the input --model"),
                       (["--model", str(model), "--out", str(sidecar_path(model))], "the input --model"),
                       (["--weights", str(random_checkpoint), "--out", str(random_checkpoint)], "the input --weights"),
                       (["--model", str(model), "--out", str(tiny_dataset / "train.txt")], "the input --data"),
                       (["--model", str(model), "--out", str(tiny_dataset / "masks" / "0000.png")], "inside the input --data")]:
        rc, out, err = run_cli([*data, *argv], capsys)
        assert_one_line_error(rc, err)
        assert says in err and out == "", err
    assert {p: p.read_bytes() for p in inputs} == before


def test_cli_weights_that_are_no_model_checkpoint_say_what_they_are(tiny_dataset: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A folder, /dev/null or a refiner's checkpoint as --weights was 'not found' or 'not a portrait-mobile
    checkpoint'."""
    from portrait_mobile.paths import WEIGHTS_DIR

    for weights, says in [(tmp_path, "is a folder"), (Path(os.devnull), "is a device"),
                          (WEIGHTS_DIR / "refine-t40gs.pt", "is an edge-refiner checkpoint (refine-t40gs)")]:
        rc, _, err = run_cli(["--data", f"{tiny_dataset}:train", "--weights", str(weights)], capsys)
        assert_one_line_error(rc, err)
        assert says in err, err
