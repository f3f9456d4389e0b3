"""Training: loss goes down, checkpoints round-trip, resume continues exactly, DDP with 2 CPU ranks."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from support.datasets import make_portrait_folder, make_tiny_cache
from support import REPO
from portrait_mobile.checkpoint import Checkpoint, load_checkpoint
from portrait_mobile.config import ModelConfig
from portrait_mobile.data.augment import AUGMENT_PRESETS, to_batch
from portrait_mobile.data.cache import CacheSource, build_cache, load_cache
from portrait_mobile.errors import CheckpointError, PortraitError
from portrait_mobile.model import build_model
from portrait_mobile.train.cli import main as train_main
from portrait_mobile.train.losses import LossConfig, portrait_loss
from portrait_mobile.train.trainer import TrainConfig, train
from support.train_models import TINY


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_cache(tmp_path_factory.mktemp("data"))


def test_steps_lower_the_loss(tiny_cache: Path) -> None:
    torch.manual_seed(0)
    c = load_cache(tiny_cache, progress=False)
    t = lambda a: torch.from_numpy(a[:8])  # noqa: E731
    b = to_batch(t(c.images), t(c.masks), t(c.teacher), t(c.has_mask), t(c.has_teacher))
    model = build_model(TINY)
    opt = torch.optim.AdamW(model.parameters(), 1e-2)
    losses = []
    for _ in range(30):
        refined, coarse = model.forward_train(b.image)
        loss = portrait_loss(refined, coarse, b.mask, b.teacher, b.mask_weight, b.teacher_weight, LossConfig())
        opt.zero_grad()
        loss["total"].backward()
        opt.step()
        losses.append(loss["total"].item())
    assert losses[-1] < 0.6 * losses[0]


def _cfg(cache: Path, out: Path, epochs: int, **kw) -> TrainConfig:
    return TrainConfig(cache=str(cache), out_dir=str(out), epochs=epochs, batch_size=4, lr=5e-3,
                       progress=False, **kw)


def test_train_writes_checkpoints_and_resume_is_exact(tiny_cache: Path, tmp_path: Path) -> None:
    straight = train(_cfg(tiny_cache, tmp_path / "a", 2), TINY)
    ck = Checkpoint.load(straight)
    assert ck.config == TINY
    assert {"val_fg_iou", "val_miou", "val_boundary_iou"} <= set(ck.metrics)
    assert ck.train_state is None  # best.pt: weights, config, metrics only
    assert (tmp_path / "a" / "curve.png").stat().st_size > 0
    history = json.loads((tmp_path / "a" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    model = ck.build()
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 1, 64, 64)

    train(_cfg(tiny_cache, tmp_path / "b", 1), TINY)
    # The schedule is planned for 2 epochs in both runs; only the interruption differs.
    last = tmp_path / "b" / "last.pt"
    state = Checkpoint.load(last)
    assert state.train_state is not None and state.train_state["epoch"] == 1
    train(_cfg(tiny_cache, tmp_path / "b", 2, resume=str(last)), TINY)
    a = Checkpoint.load(tmp_path / "a" / "last.pt").state_dict
    b = Checkpoint.load(tmp_path / "b" / "last.pt").state_dict
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)


def test_a_finished_run_is_not_overwritten_and_a_tampered_state_is_named(tiny_cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(_cfg(tiny_cache, out, 1), TINY)
    before = (out / "best.pt").read_bytes()
    with pytest.raises(PortraitError, match=r"already holds a run \(best.pt, last.pt\).*--overwrite"):
        train(_cfg(tiny_cache, out, 1, seed=3), TINY)
    assert (out / "best.pt").read_bytes() == before
    train(_cfg(tiny_cache, out, 1, seed=3, overwrite=True), TINY)
    assert (out / "best.pt").read_bytes() != before
    last = Checkpoint.load(out / "last.pt")
    for key, value in [("history", 5), ("epoch", "1"), ("torch_rng", torch.zeros(3)), ("model", None)]:
        state = dict(last.train_state)
        if value is None:
            del state[key]
        else:
            state[key] = value
        bad = tmp_path / "bad.pt"
        Checkpoint(last.config, last.state_dict, last.metrics, last.train_info, state).save(bad)
        with pytest.raises(CheckpointError, match=r"bad.pt: its training state cannot be resumed"):
            train(_cfg(tiny_cache, tmp_path / "resumed", 2, resume=str(bad)), TINY)


def test_a_diverged_run_writes_no_checkpoint(tiny_cache: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """--lr inf saved best.pt with every weight NaN, exit 0."""
    import portrait_mobile.train.trainer as trainer

    monkeypatch.setattr(trainer, "train_step", lambda *a, **k: {"total": torch.tensor(float("nan"))})
    with pytest.raises(PortraitError, match="training diverged at epoch 1: the loss is nan"):
        train(_cfg(tiny_cache, tmp_path / "nan", 1), TINY)
    assert not (tmp_path / "nan").exists()


@pytest.mark.parametrize("flag, value", [("--lr", "inf"), ("--lr", "nan"), ("--weight-decay", "inf"),
                                         ("--seed", "-1"), ("--seed", str(2**32)), ("--threads", "100000")])
def test_fit_refuses_values_that_break_a_run(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        train_main(["fit", "--cache", "x.npz", flag, value])
    assert e.value.code == 2 and flag in capsys.readouterr().err


def test_checkpoint_errors(tmp_path: Path, random_checkpoint: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        Checkpoint.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="junk.pt is not a portrait-mobile checkpoint: not a PyTorch file"):
        Checkpoint.load(tmp_path / "junk.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a portrait-mobile checkpoint"):
        Checkpoint.load(tmp_path / "other.pt")
    ck = Checkpoint.load(random_checkpoint)
    ck.state_dict.pop(next(iter(ck.state_dict)))
    with pytest.raises(CheckpointError, match="do not match"):
        ck.build()


def test_default_weights_load_with_no_arguments() -> None:
    import portrait_mobile

    from portrait_mobile.config import DEFAULT_CONFIG

    model = portrait_mobile.load_model()
    assert model.config.name == DEFAULT_CONFIG
    assert load_checkpoint().metrics  # shipped with its metrics


def test_packaged_artifacts_serve_the_shipped_weights() -> None:
    """A .tflite/.onnx packaged for Segmenter.default() must be an export of the shipped checkpoint."""
    from portrait_mobile.checkpoint import DEFAULT_WEIGHTS
    from portrait_mobile.contract_io import read_contract

    from portrait_mobile.paths import packaged_artifacts

    shipped = load_checkpoint()
    packaged = packaged_artifacts(DEFAULT_WEIGHTS.parent, shipped.config.name)
    if not packaged:
        pytest.skip("no exported artifact packaged beside the shipped weights")
    from portrait_export.context import model_version

    version = model_version(shipped)  # carries a hash of the weights
    for p in packaged:
        assert read_contract(p).version == version, (
            f"{p.name} was exported from other weights than {DEFAULT_WEIGHTS.name}: re-export and package it")


def test_ship_strips_and_drops_stale_packaged_artifacts(random_checkpoint: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import portrait_mobile.checkpoint as checkpoint

    name = Checkpoint.load(random_checkpoint).config.name
    dest = tmp_path / "weights" / f"{name}.pt"
    dest.parent.mkdir()
    monkeypatch.setattr(checkpoint, "DEFAULT_WEIGHTS", dest.with_name("default.pt"))  # the package's folder
    stale = [dest.with_name(f"{name}_int8.tflite"), dest.with_name(f"{name}_int8.tflite.json")]
    for p in stale:
        p.write_bytes(b"old")
    other = dest.with_name("unrelated.tflite")
    other.write_bytes(b"keep")
    assert train_main(["ship", str(random_checkpoint), "--dest", str(dest)]) == 0
    ck = Checkpoint.load(dest)
    assert ck.config.name == name and ck.train_state is None
    card = json.loads(dest.with_suffix(".json").read_text())
    assert card["model"] == name and "metrics" in card
    assert not any(p.exists() for p in stale) and other.exists()


def test_ship_to_a_folder_of_ones_own_removes_nothing(random_checkpoint: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Outside the package's folder nothing serves artifacts by default: same-named files there are the
    user's (they were deleted); and a --dest ending in .json would have been overwritten by the card."""
    name = Checkpoint.load(random_checkpoint).config.name
    mine = [tmp_path / f"{name}.onnx", tmp_path / f"{name}_int8.tflite", tmp_path / f"{name}_int8.tflite.json"]
    for p in mine:
        p.write_bytes(b"keep")
    assert train_main(["ship", str(random_checkpoint), "--dest", str(tmp_path / "mine.pt")]) == 0
    assert all(p.read_bytes() == b"keep" for p in mine)
    assert Checkpoint.load(tmp_path / "mine.pt").config.name == name
    assert train_main(["ship", str(random_checkpoint), "--dest", str(tmp_path / "w.json")]) == 2
    assert "the shipped weights are a .pt file" in capsys.readouterr().err
    assert not (tmp_path / "w.json").exists()


@pytest.mark.parametrize("name", ["../victim", "ABS"])
def test_ship_never_removes_outside_its_destination(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     name: str) -> None:
    """issue 24: a config name with ../ or an absolute path made ship delete "stale" files elsewhere."""
    from support.hostile import raw_checkpoint

    name = str(tmp_path / "elsewhere" / "victim") if name == "ABS" else name
    victims = [tmp_path / "elsewhere" / "victim_int8.tflite", tmp_path / "victim_int8.tflite"]
    for v in victims:
        v.parent.mkdir(exist_ok=True)
        v.write_bytes(b"keep")
    ckpt = raw_checkpoint(tmp_path / "named.pt", config={"name": name})
    dest = tmp_path / "weights" / "w.pt"
    assert train_main(["ship", str(ckpt), "--dest", str(dest)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a plain file name" in err, err
    assert all(v.read_bytes() == b"keep" for v in victims) and not dest.parent.exists()


def test_cli_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train_main(["fit", "--cache", str(tmp_path / "nope.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training cache not found" in err
    assert train_main(["cache", "--source", str(tmp_path / "missing"), "--out", str(tmp_path / "c.npz")]) == 2
    assert "dataset folder not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        train_main(["fit", "--cache", "x.npz", "--epochs", "zero"])
    assert e.value.code == 2
    assert not (tmp_path / "c.npz").exists()


def test_cache_never_reads_a_held_out_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`portrait-train cache --source pfcn` read every image, PFCN test's too."""
    root = make_portrait_folder(tmp_path / "set", n=4, split="train")
    (root / "test.txt").write_text("0000\n")
    out = tmp_path / "c.npz"
    for spec, says in [(f"{root}:test", "held out for measuring"), (str(root), "name the split to train on")]:
        for extra in (["--source", spec], ["--source", f"{root}:train", "--unlabeled", spec]):
            assert train_main(["cache", *extra, "--teacher", "none", "--out", str(out)]) == 2
            assert says in capsys.readouterr().err
    assert not out.exists()


def test_ddp_two_cpu_processes(tiny_cache: Path, tmp_path: Path) -> None:
    """torchrun with 2 CPU ranks on gloo: both ranks train, rank 0 writes the checkpoint."""
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "portrait_mobile.train.cli", "fit", "--cache", str(tiny_cache), "--model", "portrait-xs-256",
           "--epochs", "1", "--batch-size", "2", "--out", str(out), "--no-progress"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    ck = Checkpoint.load(out / "best.pt")
    assert ck.train_info["world_size"] == 2
    assert "x2" in r.stdout


def test_init_starts_from_given_weights(tiny_cache: Path, tmp_path: Path) -> None:
    first = train(_cfg(tiny_cache, tmp_path / "a", 1), TINY)
    ck = Checkpoint.load(first)
    # Zero learning progress (lr tiny): the fine-tune's EMA stays at the init weights.
    cfg = _cfg(tiny_cache, tmp_path / "ft", 1, init=str(first))
    cfg.lr = 1e-12
    tuned = Checkpoint.load(train(cfg, TINY)).state_dict
    assert all(torch.allclose(ck.state_dict[k].float(), tuned[k].float(), atol=1e-4)
               for k in tuned if "running" not in k and "num_batches" not in k)
    other = ModelConfig(**{**TINY.to_dict(), "name": "other", "refine_width": 6})
    with pytest.raises(Exception, match="does not fit other"):
        train(_cfg(tiny_cache, tmp_path / "x", 1, init=str(first)), other)


def test_grown_layers_learn_faster_and_resume_keeps_their_rate(tiny_cache: Path, tmp_path: Path) -> None:
    first = train(_cfg(tiny_cache, tmp_path / "a", 1), TINY)
    pooled = ModelConfig(**{**TINY.to_dict(), "name": "pooled", "global_context": 4})
    train(_cfg(tiny_cache, tmp_path / "s", 2, init=str(first), grown_lr_mult=10.0), pooled)
    st = Checkpoint.load(tmp_path / "s" / "last.pt").train_state
    groups = st["optimizer"]["param_groups"]
    assert [g["initial_lr"] for g in groups] == pytest.approx([5e-3, 5e-2])
    assert st["fast_params"] and all(n.startswith("encoder.stages.4.3.") for n in st["fast_params"])
    assert len(groups[1]["params"]) == len(st["fast_params"])
    # Interrupted after one epoch and resumed without the flag: the groups and their rates come back
    # (both runs stay inside the 2-epoch warmup, so only the interruption differs).
    half = tmp_path / "h"
    train(_cfg(tiny_cache, half, 1, init=str(first), grown_lr_mult=10.0), pooled)
    train(_cfg(tiny_cache, half, 2, resume=str(half / "last.pt")), pooled)
    x = Checkpoint.load(tmp_path / "s" / "last.pt").state_dict
    y = Checkpoint.load(half / "last.pt").state_dict
    assert all(torch.allclose(x[k].float(), y[k].float(), atol=1e-6) for k in x)
    last = Checkpoint.load(half / "last.pt")
    for fast in (["encoder.nothing.weight"], "encoder.stages.4.3.reduce.weight"):
        bad = tmp_path / "bad.pt"
        Checkpoint(last.config, last.state_dict, last.metrics, last.train_info,
                   {**last.train_state, "fast_params": fast}).save(bad)
        with pytest.raises(CheckpointError, match=r"bad.pt: its training state cannot be resumed \(fast_params"):
            train(_cfg(tiny_cache, tmp_path / "resumed", 2, resume=str(bad)), pooled)
    # The same network: nothing grows, so the flag has nothing to apply to.
    with pytest.raises(PortraitError, match="adds no layers"):
        train(_cfg(tiny_cache, tmp_path / "n", 1, init=str(first), grown_lr_mult=10.0), TINY)
    # A checkpoint that cannot grow into the model is refused for that, not for the flag.
    other = ModelConfig(**{**TINY.to_dict(), "name": "other", "refine_width": 6})
    with pytest.raises(PortraitError, match="does not fit other"):
        train(_cfg(tiny_cache, tmp_path / "o", 1, init=str(first), grown_lr_mult=10.0), other)


def test_fit_refuses_a_grown_rate_without_init(capsys: pytest.CaptureFixture[str]) -> None:
    assert train_main(["fit", "--cache", "c.npz", "--grown-lr-mult", "10"]) == 2
    assert "give --init" in capsys.readouterr().err


def test_cli_augment_preset_reaches_the_checkpoint(tiny_cache: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "light"
    assert train_main(["fit", "--cache", str(tiny_cache), "--model", "portrait-xs-256", "--epochs", "1",
                       "--batch-size", "2", "--max-steps-per-epoch", "1", "--augment", "light",
                       "--out", str(out), "--no-progress"]) == 0
    aug = Checkpoint.load(out / "best.pt").train_info["train_config"]["augment"]
    assert aug["scale"] == [0.7, 1.15] and aug["background_swap_p"] == 0.15
    with pytest.raises(SystemExit) as e:
        train_main(["fit", "--cache", str(tiny_cache), "--augment", "heavy"])
    assert e.value.code == 2
    assert "invalid choice: 'heavy'" in capsys.readouterr().err


def test_in_loop_teacher_sees_the_augmented_batch(tiny_cache: Path, tmp_path: Path) -> None:
    """The teacher is called on exactly what the student trains on (augmented), not on the cache."""
    from portrait_mobile.train.teacher import InLoopTeacher

    seen: list[torch.Tensor] = []

    def recorder(x: torch.Tensor) -> torch.Tensor:
        seen.append(x.clone())
        return torch.full_like(x[:, :1], 0.25)

    train(_cfg(tiny_cache, tmp_path / "t", 1, max_steps_per_epoch=2), TINY, teacher=InLoopTeacher(recorder))
    assert len(seen) == 2 and seen[0].shape == (4, 3, 64, 64)  # one call per step, the whole batch
    c = load_cache(tiny_cache, progress=False)
    cached = torch.from_numpy(c.images).permute(0, 3, 1, 2).float() / 255
    # Augmented: no image the teacher saw is one of the cached images as stored.
    assert not any(torch.allclose(x, im, atol=1e-3) for x in seen[0] for im in cached)


@pytest.mark.parametrize("argv, message", [
    (["cache", "--source", "x", "--out", "c.npz", "--size", "7"], "multiple of 32 of at least 64"),
    (["cache", "--source", "x", "--out", "c.npz", "--size", "100"], "multiple of 32"),
    (["cache", "--source", "x", "--out", "c.npz", "--val-fraction", "1.5"], "in [0, 1]"),
    (["cache", "--source", "x", "--out", "c.npz", "--val-fraction", "-0.1"], "in [0, 1]"),
    (["fit", "--cache", "c.npz", "--lovasz-weight", "nan"], "finite number >= 0"),
    (["fit", "--cache", "c.npz", "--lr-scale", "cubic"], "invalid choice"),
])
def test_cli_refuses_bad_numbers_in_one_line(argv: list[str], message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        train_main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_cache_refuses_a_validation_share_of_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c.npz"
    assert train_main(["cache", "--source", str(tmp_path), "--out", str(out), "--val-fraction", "1"]) == 2
    assert "leaves nothing to train on" in capsys.readouterr().err and not out.exists()


def test_failed_fit_leaves_no_out_folder(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"junk")
    out = tmp_path / "run"
    assert train_main(["fit", "--cache", str(bad), "--out", str(out), "--no-progress"]) == 2
    assert not out.exists()


def test_validation_scores_as_portrait_eval_does(tiny_cache: Path) -> None:
    """The training loop's val figures are design.md's metrics, through the same pre-processing as
    the evaluation's PyTorch predictor (NumPy, from the contract)."""
    from portrait_mobile.evaluation import TorchPredictor
    from portrait_mobile.metrics import MetricAccumulator
    from portrait_mobile.train.trainer import validate

    torch.manual_seed(1)
    model = build_model(TINY).eval()
    c = load_cache(tiny_cache, progress=False)
    got = validate(model, c, torch.device("cpu"), batch_size=5)
    acc = MetricAccumulator()
    predictor = TorchPredictor(model)
    for image, mask in zip(c.images, c.masks):
        acc.update(predictor.predict(image), mask > 127)
    want = acc.result()
    assert got["val_images"] == len(c) == want.n_images
    assert got["val_fg_iou"] == pytest.approx(want.fg_iou, abs=1e-3)
    assert got["val_boundary_iou"] == pytest.approx(want.boundary_iou, abs=1e-3)
    assert got["val_miou"] == pytest.approx(want.miou, abs=1e-3)


def test_fit_with_a_mix_and_a_resolution_schedule(tmp_path: Path) -> None:
    """A resolution schedule trains the early epochs smaller (recorded per epoch) and validates at the
    cache's size; a mix naming no source of the cache is refused before any folder is made."""
    from portrait_mobile.data.mix import SourceMix
    from portrait_mobile.train.resolution import parse_schedule

    folder = make_portrait_folder(tmp_path / "set", n=16, size=(80, 64))
    cache = build_cache([CacheSource(folder, "train", val_fraction=0.3)], tmp_path / "c.npz", size=128,
                        progress=False)
    cfg = _cfg(cache, tmp_path / "p", 4, resolution=parse_schedule(["64:0.5", "128:0.5"]),
               mix=SourceMix({"set": 0.5}), threads=1)
    train(cfg, TINY)
    history = json.loads((tmp_path / "p" / "history.json").read_text())
    assert [h["size"] for h in history] == [64, 64, 128, 128]
    assert all(h["threads"] == 1 for h in history)
    info = Checkpoint.load(tmp_path / "p" / "best.pt").train_info
    assert info["train_config"]["mix"] == {"shares": {"set": 0.5}}
    bad = _cfg(cache, tmp_path / "q", 1, mix=SourceMix({"nosuchset": 0.5}))
    with pytest.raises(Exception, match="nosuchset"):
        train(bad, TINY)
    assert not (tmp_path / "q").exists()


def test_sample_hardness_is_one_minus_each_labelled_samples_fg_iou(tiny_cache: Path) -> None:
    from portrait_mobile.train.trainer import image_scores, sample_hardness

    torch.manual_seed(2)
    model = build_model(TINY).eval()
    c = load_cache(tiny_cache, progress=False)
    c.has_mask[::3] = False  # as unlabelled photos: no hardness
    h = sample_hardness(model, c, torch.device("cpu"))
    assert np.isnan(h[::3]).all() and np.isfinite(np.delete(h, np.s_[::3])).all()
    labelled = np.flatnonzero(c.has_mask)
    want = 1 - np.asarray(image_scores(model, c.subset(labelled), torch.device("cpu")).fg_ious)
    assert np.allclose(h[labelled], want) and ((h[labelled] >= 0) & (h[labelled] <= 1)).all()


def test_fit_with_hard_examples_draws_a_longer_epoch_and_records_the_hardness(
        tiny_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import re

    def steps(out: Path, *extra: str) -> int:
        assert train_main(["fit", "--cache", str(tiny_cache), "--model", "portrait-xs-256", "--out", str(out),
                           "--epochs", "1", "--batch-size", "2", "--threads", "1", "--no-progress", *extra]) == 0
        return int(re.search(r"(\d+) steps/epoch", capsys.readouterr().out).group(1))

    n_train = int((~load_cache(tiny_cache, progress=False).is_val).sum())
    plain = steps(tmp_path / "plain")
    hard = steps(tmp_path / "h", "--hard-share", "0.5", "--hard-every", "1")
    assert (plain, hard) == (n_train // 2, (n_train + round(0.5 * n_train)) // 2)
    history = json.loads((tmp_path / "h" / "history.json").read_text())
    assert all(0 <= h["train_hard_mean"] <= 1 for h in history)
    assert "train_hard_mean" not in json.loads((tmp_path / "plain" / "history.json").read_text())[0]
    worst = json.loads((tmp_path / "h" / "hardest.json").read_text())
    assert len(worst) == n_train and [w["fg_iou"] for w in worst] == sorted(w["fg_iou"] for w in worst)
    assert {w["source"] for w in worst} == {"set/train"} and not (tmp_path / "plain" / "hardest.json").exists()
    info = Checkpoint.load(tmp_path / "h" / "best.pt").train_info
    assert info["train_config"]["hard"] == {"share": 0.5, "every": 1}


@pytest.mark.parametrize("flag, value, message", [("--hard-share", "-1", "finite number >= 0"),
                                                  ("--hard-share", "9", "[0, 4]"),
                                                  ("--hard-every", "0", "positive integer")])
def test_cli_refuses_bad_hard_example_settings(tiny_cache: Path, tmp_path: Path, flag: str, value: str,
                                               message: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bad"
    try:
        code = train_main(["fit", "--cache", str(tiny_cache), "--out", str(out), "--no-progress", flag, value])
    except SystemExit as e:
        code = e.code
    assert code == 2 and message in capsys.readouterr().err and not out.exists()


def test_device_data_at_a_lower_side_is_resized_once(tiny_cache: Path) -> None:
    from portrait_mobile.train.trainer import DeviceData

    data = DeviceData.from_cache(load_cache(tiny_cache, progress=False), torch.device("cpu"))
    small = data.at_size(32)
    assert small.images.shape[1:] == (32, 32, 3) and small.masks.shape[1:] == (32, 32)
    assert small.backgrounds.shape[-2:] == (32, 32) and small.images.dtype == torch.uint8
    assert data.at_size(32) is small and data.at_size(64) is data and data.at_size(None) is data
    # Downscaled, the person is still where the mask says.
    img = small.images.float().mean(-1)
    assert img[small.masks > 200].mean() > img[small.masks < 50].mean() + 30
    batch = data.augmented(torch.arange(4), AUGMENT_PRESETS["light"], torch.Generator().manual_seed(0), 32)
    assert batch.image.shape == (4, 3, 32, 32)


def test_ship_never_replaces_a_packaged_file_nor_its_input(random_checkpoint: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The default destination is named by the checkpoint's config: an unregistered name such as
    "portrait-sd-256_int8.tflite" made the card replace the shipped int8 model's sidecar."""
    import portrait_mobile.checkpoint as checkpoint
    from support.hostile import raw_checkpoint

    weights = tmp_path / "weights"
    weights.mkdir()
    monkeypatch.setattr(checkpoint, "DEFAULT_WEIGHTS", weights / "default.pt")
    sidecar = weights / "portrait-sd-256_int8.tflite.json"
    sidecar.write_text("{}")
    ckpt = raw_checkpoint(tmp_path / "named.pt", config={"name": "portrait-sd-256_int8.tflite"})
    assert train_main(["ship", str(ckpt)]) == 2
    assert "is not a registered model" in capsys.readouterr().err
    assert sidecar.read_text() == "{}" and sorted(p.name for p in weights.iterdir()) == [sidecar.name]
    before = random_checkpoint.read_bytes()
    assert train_main(["ship", str(random_checkpoint), "--dest", str(random_checkpoint)]) == 2
    assert "would overwrite the input checkpoint" in capsys.readouterr().err
    assert random_checkpoint.read_bytes() == before
