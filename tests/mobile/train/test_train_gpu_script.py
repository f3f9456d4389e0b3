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


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=900,
                          cwd=cwd)


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
    # Relative paths are the caller's, though the script runs from the repository.
    r = _run("--dry-run", "--light-only", "--parts", "parts", "--cache", "joined.npz", "--init", "init.pt",
             "--out", "out", "--", "--lr", "1e-4", "--seed", "5", "--lovasz-weight", "0.3", *teacher, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "joined" in r.stdout and joined.is_file()
    assert not (out / "stage1").exists() and (out / "stage2" / "best.pt").is_file()
    cfg = Checkpoint.load(out / "stage2" / "best.pt").train_info["train_config"]
    assert Path(cfg["init"]).resolve() == init.resolve()
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
    (["--budget-min"], "--budget-min needs a value"),
    (["--init", "--dry-run"], "--init needs a value"),
    (["--out", ""], "--out needs a value"),
    (["--cache"], "--cache needs a value"),
])
def test_bad_arguments_fail_before_any_work(args: list[str], message: str, tmp_path: Path) -> None:
    cache = tmp_path / "c.npz"
    cache.write_bytes(b"")
    full = args if "--cache" in args else ["--cache", str(cache), *args]
    r = _run(*full)
    assert r.returncode == 2 and message in r.stderr and "unbound variable" not in r.stderr


def test_relative_paths_are_the_callers(tmp_path: Path) -> None:
    """The script cd's into the repository, but `--cache x.npz` is the x.npz where it was called."""
    here = tmp_path.resolve()  # bash's $PWD: the physical path
    for args, message in [(["--cache", "missing.npz"], f"training cache not found: {here / 'missing.npz'}"),
                          (["--init", "init.pt"], f"--init checkpoint not found: {here / 'init.pt'}"),
                          (["--cache", "missing.npz", "--parts", "p"], f"no cache parts (*.part*of*.npz) in {here / 'p'}")]:
        r = _run(*args, cwd=tmp_path)
        assert r.returncode == 2 and message in r.stderr, r.stderr


def test_parts_that_do_not_join_are_one_line_and_exit_2(tmp_path: Path) -> None:
    """Parts of two different caches: refused by the join, said like every other usage error."""
    from support.datasets import make_tiny_cache

    for name in ("a", "b"):
        cache = make_tiny_cache(tmp_path / name, n=4)
        split_cache(cache.rename(cache.with_name(f"{name}.npz")), 2, tmp_path / f"parts_{name}")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (tmp_path / "parts_a" / "a.part1of2.npz").rename(mixed / "a.part1of2.npz")
    (tmp_path / "parts_b" / "b.part2of2.npz").rename(mixed / "b.part2of2.npz")
    r = _run("--dry-run", "--parts", "mixed", "--cache", "joined.npz", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1].startswith("train_gpu_budget.sh: error: ")
    assert "expected parts 1..N of one split" in r.stderr and not (tmp_path / "joined.npz").exists()
