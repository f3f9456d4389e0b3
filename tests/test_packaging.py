"""The wheel built from the tree (pyproject.toml + setup.py): no packaging warning, every file of the
three package folders inside it under its package name; and, installed in a fresh venv outside the
tree, its commands run there (slow: a few minutes, most of it installing torch; CI runs it)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from portrait_mobile.paths import DEFAULT_INT8
from support import PACKAGE_DIRS, REPO

BUILD_FILES = ("pyproject.toml", "setup.py", "README.md", "LICENSE")
PHOTO = REPO / "portrait_mobile" / "weights" / "parity" / "astronaut.jpg"


def tree_files(folder: Path) -> list[Path]:
    """The files of `folder` as the tree has them: tracked, or untracked and not ignored by git."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to list the tree's files")
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z", "--", str(folder)], cwd=REPO,
                         capture_output=True, check=True).stdout
    return [REPO / p for p in out.decode().split("\0") if p and (REPO / p).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(the wheel built from a copy of the tree, the build's output), every Python warning an error."""
    src = tmp_path_factory.mktemp("src")
    for f in [REPO / n for n in BUILD_FILES] + [f for d in PACKAGE_DIRS.values() for f in tree_files(d)]:
        dest = src / f.relative_to(REPO)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dest)
    dist = tmp_path_factory.mktemp("dist")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # else a distutils warning
    proc = subprocess.run([sys.executable, "-W", "error", "-c",
                           "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))",
                           str(dist)], cwd=src, env=env, capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    return dist / proc.stdout.strip().splitlines()[-1], log


def test_wheel_builds_without_warnings(wheel) -> None:
    _, log = wheel
    warnings = [ln for ln in log.splitlines() if "warning" in ln.lower()]
    assert warnings == []


def test_wheel_holds_every_file_of_the_packages(wheel) -> None:
    path, _ = wheel
    names = set(zipfile.ZipFile(path).namelist())
    expected = {f"{pkg}/{f.relative_to(folder).as_posix()}" for pkg, folder in PACKAGE_DIRS.items()
                for f in tree_files(folder)}
    assert {n for n in expected if n.endswith(".py")}, "no modules found in the tree"
    assert sorted(expected - names) == []


@pytest.mark.slow
def test_wheel_runs_in_a_fresh_venv_outside_the_tree(wheel, tmp_path: Path) -> None:
    path, _ = wheel
    venv_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv_dir)], check=True, timeout=300)
    bin_dir = venv_dir / "bin"
    # torch pinned: the CPU wheel on this machine's disk (an unpinned one pulls a multi-GB CUDA build).
    pip = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "torch==2.13.0",
                          f"{path}[export,runtime,bench]"], capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, pip.stderr[-3000:]
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy2(PHOTO, work / PHOTO.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PORTRAIT_", "VIRTUAL_ENV"))}
    # No ../shared here: int8 from the packaged statistics, parity on the packaged photo.
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", PORTRAIT_DATASETS=str(tmp_path / "no-shared"),
               OMP_NUM_THREADS="1")

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(list(argv), cwd=work, env=env, capture_output=True, text=True, timeout=600)

    where = run("python", "-c", "import portrait_mobile, portrait_export, portrait_bench as b; print(b.__file__)")
    assert where.returncode == 0 and Path(where.stdout.strip()).is_relative_to(venv_dir), where.stdout + where.stderr
    exp = run("portrait-export", "--target", "tflite", "--out", "exported")
    model = work / "exported" / DEFAULT_INT8.name
    assert exp.returncode == 0 and model.is_file(), exp.stderr[-2000:]
    seg = run("portrait-segment", PHOTO.name, "--model", str(model), "--effect", "mask", "--out", "seg", "-q")
    assert seg.returncode == 0 and (work / "seg" / "astronaut_mask.png").is_file(), seg.stderr
    seg = run("portrait-segment", PHOTO.name, "--effect", "blur", "--out", "seg", "-q")  # the packaged model
    assert seg.returncode == 0 and (work / "seg" / "astronaut_blur.png").is_file(), seg.stderr
    bench = run("portrait-bench", "--list-profiles")
    assert bench.returncode == 0 and "flagship-1big" in bench.stdout, bench.stderr
    # What needs the source checkout says so, before any work.
    demo = run("portrait-export", "--target", "onnx", "--demo-assets", "--out", "exported")
    assert demo.returncode == 2 and "needs a source checkout" in demo.stderr, demo.stderr
