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
from portrait_mobile.data.cache import CacheSource, build_cache

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


@pytest.mark.parametrize("args, message", [
    (["--cache", "/nonexistent.npz"], "training cache not found"),
    (["--budget-min", "nine"], "--budget-min must be a number"),
    (["--bogus"], "unknown argument --bogus"),
])
def test_bad_arguments_fail_before_any_work(args: list[str], message: str, tmp_path: Path) -> None:
    cache = tmp_path / "c.npz"
    cache.write_bytes(b"")
    full = args if "--cache" in args else ["--cache", str(cache), *args]
    r = _run(*full)
    assert r.returncode == 2 and message in r.stderr
