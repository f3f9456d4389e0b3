"""The prepared GPU run (scripts/train_gpu_budget.sh) dry-runs on the CPU: both stages, real CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.datasets import make_portrait_folder
from support import REPO
from portrait_mobile.checkpoint import Checkpoint
from portrait_mobile.config import DEFAULT_CONFIG, get_config
from portrait_mobile.model import build_model
from portrait_mobile.data.cache import CacheSource, build_cache, split_cache

SCRIPT = REPO / "scripts" / "train_gpu_budget.sh"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=900)


def test_dry_run_trains_both_stages(tmp_path: Path) -> None:
    folder = make_portrait_folder(tmp_path / "set", n=12, size=(80, 64))
    cache = build_cache([CacheSource(folder, "train", val_fraction=0.3)], tmp_path / "c.npz", size=64,
                        progress=False)
    out = tmp_path / "out"
    r = _run("--dry-run", "--cache", str(cache), "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    for stage in ("stage1", "stage2"):
        assert (out / stage / "best.pt").is_file() and (out / stage / "curve.png").is_file()
        assert json.loads((out / stage / "history.json").read_text())[-1]["epoch"] == 1
    info = Checkpoint.load(out / "stage2" / "best.pt").train_info
    assert info["train_config"]["init"] == str(out / "stage1" / "best.pt")
    assert info["train_config"]["augment"]["scale"] == [0.7, 1.15]  # the light preset


def test_light_only_dry_run_joins_the_parts_and_passes_fit_arguments_last(tmp_path: Path) -> None:
    """A campaign continued on a lent GPU: the cache carried in parts, the light stage alone from --init,
    the CPU campaign's recipe (MediaPipe in the loop where ../shared has it) after `--`."""
    folder = make_portrait_folder(tmp_path / "set", n=12, size=(80, 64))
    cache = build_cache([CacheSource(folder, "train", val_fraction=0.3)], tmp_path / "c.npz", size=64,
                        progress=False)
    split_cache(cache, 3, tmp_path / "parts")
    init = tmp_path / "init.pt"
    Checkpoint(get_config(DEFAULT_CONFIG), build_model(DEFAULT_CONFIG).state_dict()).save(init)
    anchor = REPO.parent / "shared" / "anchors"
    teacher = ["--teacher-in-loop", "mediapipe", "--teacher-mix", "0.5"] if anchor.is_dir() else []
    out, joined = tmp_path / "out", tmp_path / "joined.npz"
    r = _run("--dry-run", "--light-only", "--parts", str(tmp_path / "parts"), "--cache", str(joined),
             "--init", str(init), "--out", str(out),
             "--", "--lr", "1e-4", "--seed", "5", "--lovasz-weight", "0.3", *teacher)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "joined" in r.stdout and joined.is_file()
    assert not (out / "stage1").exists() and (out / "stage2" / "best.pt").is_file()
    cfg = Checkpoint.load(out / "stage2" / "best.pt").train_info["train_config"]
    assert cfg["init"] == str(init)
    assert (cfg["lr"], cfg["seed"], cfg["loss"]["lovasz_weight"]) == (1e-4, 5, 0.3)
    if teacher:
        assert cfg["teacher_mix"] == 0.5 and cfg["teacher_in_loop"]


def test_help_lists_the_options_and_stops() -> None:
    r = _run("--help")
    assert r.returncode == 0 and "--light-only" in r.stdout and "--parts DIR" in r.stdout
    assert all(line.startswith("#") for line in r.stdout.splitlines())


@pytest.mark.parametrize("args, message", [
    (["--cache", "/nonexistent.npz"], "training cache not found"),
    (["--budget-min", "nine"], "--budget-min must be a number"),
    (["--bogus"], "unknown argument --bogus"),
    (["--light-only"], "--light-only needs --init"),
    (["--init", "/nonexistent.pt"], "--init checkpoint not found"),
    (["--cache", "/nonexistent.npz", "--parts", "/nonexistent"], "no cache parts"),
])
def test_bad_arguments_fail_before_any_work(args: list[str], message: str, tmp_path: Path) -> None:
    cache = tmp_path / "c.npz"
    cache.write_bytes(b"")
    full = args if "--cache" in args else ["--cache", str(cache), *args]
    r = _run(*full)
    assert r.returncode == 2 and message in r.stderr
