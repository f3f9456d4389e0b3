"""The in-loop teacher: its targets, its LiteRT path against the torch port, and the cut-mixed
composites it alone labels."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from support import REPO
from support.datasets import make_tiny_cache
from portrait_mobile.data.augment import Batch
from portrait_mobile.errors import PortraitError
from portrait_mobile.train.cli import main as train_main
from portrait_mobile.train.teacher import CUT_AREA, InLoopTeacher, cut_mix, load_in_loop_teacher
from portrait_mobile.train.trainer import TrainConfig, train
from support.train_models import TINY

ANCHOR = REPO.parent / "shared" / "anchors" / "selfie_segmentation.tflite"


def _batch(b: int, side: int = 32) -> Batch:
    """Sample i is the constant i (image, mask and teacher), so a pasted box shows whose it is."""
    const = torch.arange(b, dtype=torch.float32)[:, None, None, None] / b
    return Batch(const.expand(b, 3, side, side).clone(), const.expand(b, 1, side, side).clone(),
                 const.expand(b, 1, side, side).clone(), torch.ones(b), torch.ones(b), torch.ones(b))


def test_in_loop_teacher_output_is_the_distillation_target() -> None:
    ramp = torch.linspace(0, 1, 8).expand(2, 1, 8, 8)
    x = torch.rand(2, 3, 8, 8)
    b = Batch(x, torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 8, 8), torch.ones(2), torch.zeros(2))
    out = InLoopTeacher(lambda _: ramp)(b)
    assert torch.equal(out.teacher, ramp) and torch.equal(out.image, x)
    assert out.teacher_weight.tolist() == [1.0, 1.0]  # every image, swapped backgrounds included
    assert torch.equal(out.mask_weight, b.mask_weight)  # no composites asked for: labels kept


def test_cut_mix_pastes_a_box_of_another_sample_and_drops_its_label() -> None:
    b = _batch(8)
    g = torch.Generator().manual_seed(3)
    out = cut_mix(b, 0.5, g)
    assert out.mask_weight.tolist() == [0.0] * 4 + [1.0] * 4
    assert out.partial_label is not None and out.partial_label.tolist() == [0.0] * 4 + [1.0] * 4
    torch.testing.assert_close(out.image[4:], b.image[4:])  # the rest untouched
    for i in range(4):
        img = out.image[i, 0]
        other = img != b.image[i, 0]
        values = img[other].unique()
        assert len(values) == 1 and values.item() != b.image[i, 0, 0, 0].item()  # one partner, not itself
        assert CUT_AREA[0] - 0.05 <= other.float().mean().item() <= CUT_AREA[1] + 0.05
        rows, cols = other.any(1).nonzero().flatten(), other.any(0).nonzero().flatten()
        assert other.sum().item() == len(rows) * len(cols)  # one solid rectangle
        # Image, mask and the cached teacher map move together.
        assert torch.equal(out.mask[i, 0] != b.mask[i, 0], other)
        assert torch.equal(out.teacher[i, 0] != b.teacher[i, 0], other)


def test_cut_mix_of_nothing_or_one_sample_is_the_batch() -> None:
    b = _batch(4)
    assert cut_mix(b, 0.0) is b
    one = _batch(1)
    assert cut_mix(one, 1.0) is one  # no other sample to paste from


def test_in_loop_teacher_labels_the_composites() -> None:
    seen: list[torch.Tensor] = []

    def predict(x: torch.Tensor) -> torch.Tensor:
        seen.append(x.clone())
        return x[:, :1]

    b = _batch(6)
    out = InLoopTeacher(predict, mix_share=1.0)(b, torch.Generator().manual_seed(0))
    assert out.mask_weight.tolist() == [0.0] * 6 and out.teacher_weight.tolist() == [1.0] * 6
    assert torch.equal(seen[0], out.image) and not torch.equal(out.image, b.image)
    torch.testing.assert_close(out.teacher, out.image[:, :1])  # the target is the teacher's, on the composite
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        InLoopTeacher(predict, mix_share=1.5)


def _skip_without_anchor() -> None:
    if not ANCHOR.is_file():
        pytest.skip(f"MediaPipe model not found at {ANCHOR}")


def test_cpu_teacher_runs_litert_and_matches_the_torch_port() -> None:
    _skip_without_anchor()
    from portrait_mobile.reference.mediapipe_torch import MediaPipeTorch, flip_average, predict_squashed

    torch.manual_seed(0)
    x = torch.rand(3, 3, 256, 256)
    b = Batch(x, torch.zeros(3, 1, 256, 256), torch.zeros(3, 1, 256, 256), torch.ones(3), torch.zeros(3))
    out = load_in_loop_teacher(str(ANCHOR), torch.device("cpu"))(b)
    port = MediaPipeTorch.from_tflite(ANCHOR).eval()
    with torch.no_grad():
        torch.testing.assert_close(out.teacher, flip_average(port, x), atol=2e-4, rtol=0)
        # Any other training side is squashed to the teacher's 256 and back, as the port does.
        small = torch.rand(2, 3, 160, 160)
        got = load_in_loop_teacher(str(ANCHOR), torch.device("cpu")).predict(small)
        torch.testing.assert_close(got, predict_squashed(port, small), atol=2e-4, rtol=0)


def test_litert_teacher_refuses_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    from portrait_mobile.errors import ModelLoadError

    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer")
    with pytest.raises(ModelLoadError, match="junk.tflite"):
        load_in_loop_teacher(str(junk), torch.device("cpu"))


def test_fit_with_composites_records_them(tmp_path: Path) -> None:
    _skip_without_anchor()
    cache = make_tiny_cache(tmp_path / "data", n=8, size=256)
    out = tmp_path / "run"
    assert train_main(["fit", "--cache", str(cache), "--model", "portrait-xs-256", "--epochs", "1",
                       "--batch-size", "4", "--max-steps-per-epoch", "1", "--teacher-in-loop", str(ANCHOR),
                       "--teacher-mix", "0.5", "--out", str(out), "--no-progress"]) == 0
    from portrait_mobile.checkpoint import Checkpoint

    cfg = Checkpoint.load(out / "best.pt").train_info["train_config"]
    assert cfg["teacher_mix"] == 0.5 and cfg["teacher_in_loop"] == str(ANCHOR)
    assert json.loads((out / "history.json").read_text())[0]["epoch"] == 1


def test_composites_without_a_teacher_in_the_loop_are_refused(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert train_main(["fit", "--cache", str(tmp_path / "c.npz"), "--teacher-mix", "0.25",
                       "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--teacher-mix needs --teacher-in-loop" in err and err.count("\n") == 1 and not out.exists()
    for bad in ("0", "1.5", "nan"):
        with pytest.raises(SystemExit) as e:
            train_main(["fit", "--cache", "c.npz", "--teacher-in-loop", "mediapipe", "--teacher-mix", bad])
        assert e.value.code == 2 and "(0, 1]" in capsys.readouterr().err
    cache = make_tiny_cache(tmp_path / "data")
    with pytest.raises(PortraitError, match="add --teacher-in-loop"):
        train(TrainConfig(cache=str(cache), out_dir=str(out), epochs=1, batch_size=4, teacher_mix=0.5,
                          max_steps_per_epoch=1, progress=False), TINY)
    assert not out.exists()
