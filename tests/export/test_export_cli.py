"""portrait-export as a command, run as users run it (a fresh process): an interrupt always stops it,
and a deleted working directory is one clear line."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("litert_torch")
pytest.importorskip("ai_edge_quantizer")

from portrait_mobile.checkpoint import Checkpoint  # noqa: E402
from portrait_mobile.config import ModelConfig  # noqa: E402
from portrait_mobile.model import build_model  # noqa: E402
from support.datasets import make_portrait_folder  # noqa: E402

TINY = ModelConfig(name="tiny-64", widths=(4, 8, 8, 16, 16), decoder_widths=(16, 8, 8), refine_width=4,
                   input_size=(64, 64))
# Seconds after the start at which each try sends its signal: while torch loads, while the TFLite
# converter runs (where JAX's gc callback dropped signals), while it quantizes and checks parity.
TRIES = [(signal.SIGTERM, 4.0), (signal.SIGINT, 8.0), (signal.SIGTERM, 12.0)]
PROMPT_S = 15.0  # interrupts.GIVE_UP_S (10 s) at the latest, with a margin for a loaded machine


def export_command(root: Path, out: Path) -> list[str]:
    torch.manual_seed(0)
    ckpt = root / "tiny.pt"
    if not ckpt.exists():
        Checkpoint(TINY, build_model(TINY).state_dict(), train_info={"sources": ["pfcn/train"]}).save(ckpt)
        make_portrait_folder(root / "data", n=10, size=(80, 64))
    return [sys.executable, "-m", "portrait_export.cli", "--weights", str(ckpt), "--target", "tflite",
            "--calib", str(root / "data"), "--val", str(root / "data"), "--calib-n", "6", "--val-n", "4",
            "--min-mask-iou", "0.5", "--max-fg-iou-drop", "50", "--out", str(out)]


def _interrupted_export(root: Path, out: Path, sig: signal.Signals, delay: float):
    """Start an export, send `sig` after `delay` s; None when the export had already finished its work
    (a fast host: the signal then only meets the interpreter's exit), else (returncode, stderr, seconds)."""
    proc = subprocess.Popen(export_command(root, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(delay)
    if proc.poll() is not None:
        proc.communicate()
        return None
    sent = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == -sig:  # the default handler: the command had returned and restored it
        return None
    return proc.returncode, err, time.monotonic() - sent


def test_every_interrupt_stops_a_real_export(tmp_path: Path) -> None:
    """issue 24: SIGTERM 7-12 s into a TFLite export was ignored in 5 of 35 tries (it was raised inside
    JAX's garbage-collection callback, where Python drops it) and the export wrote its artifacts.
    A try whose export finished before the signal arrived says nothing: it runs again, earlier."""
    for i, (sig, delay) in enumerate(TRIES):
        out = tmp_path / f"out{i}"
        crashed = None
        for _ in range(4):
            shutil.rmtree(out, ignore_errors=True)
            got = _interrupted_export(tmp_path, out, sig, delay)
            if got is not None and got[0] < 0 and crashed is None:
                # The rare native abort of docs/export.md (about 1 CI run in 20): once is reported with
                # the stack `interrupts` now prints, and the same try runs again; twice fails.
                crashed = got
                # a crash cleans nothing up, but must not have put a finished file in place either
                placed = sorted(p.name for p in out.rglob("*") if not p.name.startswith(".")) if out.exists() else []
                assert placed == [], f"{sig.name} at {delay:.1f} s: the crashed export left {placed}"
                warnings.warn(f"{sig.name} at {delay:.1f} s: the export died of signal {-got[0]}:\n{got[1][-3000:]}")
                continue
            if got is not None:
                break
            delay *= 0.7
        assert got is not None, f"{sig.name}: every export finished before its signal (down to {delay:.1f} s)"
        rc, err, took = got
        name = "terminated" if sig == signal.SIGTERM else "interrupted"
        assert rc == 128 + sig, f"{sig.name} at {delay:.1f} s: exit {rc}\n{err[-2000:]}"
        assert took < PROMPT_S, f"{sig.name} at {delay:.1f} s took {took:.1f} s to stop it"
        ours = [ln for ln in err.splitlines() if ln.startswith("portrait-export")]
        assert len(ours) == 1 and ours[0].startswith(f"portrait-export: {name}"), err[-2000:]
        assert "Traceback" not in err and "Exception ignored" not in err, err[-2000:]
        left = sorted(p.name for p in out.rglob("*")) if out.exists() else []
        assert left == [], f"{sig.name} at {delay:.1f} s left {left}"


def test_a_deleted_working_directory_is_one_clear_line(tmp_path: Path) -> None:
    """issue 24: it died in torch's MKL loader ("Intel oneMKL FATAL ERROR") with no portrait-export line."""
    gone = tmp_path / "gone"
    gone.mkdir()
    script = (f"import os, sys; os.chdir({str(gone)!r}); os.rmdir({str(gone)!r}); "
              "import portrait_export.cli as c; sys.exit(c.main(['--target', 'onnx', '--out', "
              f"{str(tmp_path / 'out')!r}]))")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        "portrait-export: error: the current working directory is gone (No such file or directory): cd to an "
        "existing folder and run it again"], r.stderr
    assert not (tmp_path / "out").exists()
