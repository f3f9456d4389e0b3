"""The `runtime` extra has no torch: what needs it says which extra to install, what does not runs.

Each case runs in a fresh interpreter with `torch` made unimportable (None in sys.modules), as in a
`pip install 'portrait-mobile[runtime]'` environment.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from portrait_mobile.runtime.segmenter import DEFAULT_MODEL, WEIGHTS_DIR

NO_TORCH = "import sys; sys.modules['torch'] = None\n"


def run_without_torch(code: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", NO_TORCH + code], capture_output=True, text=True, timeout=timeout)


def one_error_line(r: subprocess.CompletedProcess[str], prog: str) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in r.stderr and len(lines) == 1 and lines[0].startswith(f"{prog}: error:"), r.stderr
    return lines[0]


@pytest.mark.parametrize("module, prog, extra", [
    ("portrait_export.cli", "portrait-export", "export"),
    ("portrait_mobile.train.cli", "portrait-train", "train"),
])
def test_torch_commands_name_the_extra(module: str, prog: str, extra: str, tmp_path: Path) -> None:
    """issue 13: portrait-export and portrait-train fit ended in ModuleNotFoundError tracebacks."""
    argv = ["--out", str(tmp_path / "o")] if prog == "portrait-export" else \
        ["fit", "--cache", str(tmp_path / "c.npz"), "--out", str(tmp_path / "run")]
    r = run_without_torch(f"import {module} as m; raise SystemExit(m.main({argv!r}))")
    line = one_error_line(r, prog)
    assert r.returncode == 2
    assert f"needs torch, which is not installed here: pip install 'portrait-mobile[{extra}]'" in line


def test_eval_of_a_tflite_needs_no_torch(tmp_path: Path) -> None:
    """issue 13: `portrait-eval --model x.tflite` ended in ModuleNotFoundError: torch."""
    pytest.importorskip("ai_edge_litert")  # the runtime extra's TFLite engine
    from support.datasets import make_portrait_folder

    model = WEIGHTS_DIR / f"{DEFAULT_MODEL}_int8.tflite"
    assert model.is_file(), f"the package ships {model}"
    data = make_portrait_folder(tmp_path / "data", n=2, size=(64, 48), split="test")
    argv = ["--data", f"{data}:test", "--model", str(model), "--json", "--no-progress"]
    r = run_without_torch("import portrait_mobile.evaluation.cli as m; raise SystemExit(m.main(%r))" % argv)
    assert r.returncode == 0, r.stderr
    assert '"n_images": 2' in r.stdout and "Traceback" not in r.stderr
    # A checkpoint still needs torch, and says which extra brings it.
    r = run_without_torch("import portrait_mobile.evaluation.cli as m; raise SystemExit(m.main(%r))"
                          % ["--data", f"{data}:test", "--no-progress"])
    assert r.returncode == 2
    assert "needs torch, which is not installed here: pip install 'portrait-mobile[train]'" in one_error_line(
        r, "portrait-eval")


def test_default_segmenter_without_torch_uses_the_packaged_tflite() -> None:
    """Validation first: threads=0 is a ValueError, not 'needs torch' (issue 13)."""
    r = run_without_torch(
        "from portrait_mobile.runtime import Segmenter\n"
        "try:\n    Segmenter.default(threads=0)\nexcept ValueError as e:\n    print('VALUE', e)\n"
        "print(Segmenter.default(threads=1).backend.name)\n")
    assert r.returncode == 0, r.stderr
    assert "VALUE threads must be an integer in 1..256 or None, got 0" in r.stdout and "litert" in r.stdout
