"""The web-wasm profile: portrait-bench runs web_demo/bench.mjs in headless Chromium (information only).

Needs node, Chromium (/usr/bin/chromium or $CHROMIUM_PATH) and `npm ci` in web_demo/; outside CI the
browser test skips saying which is missing, in CI (CI set, as .ci/run runs) a missing tool is a failure,
as in tests/demos/test_web_demo.py.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from portrait_bench.cli import main
from portrait_mobile.paths import DEFAULT_INT8
from portrait_bench.web import missing_tool
from support import REPO

MODEL = DEFAULT_INT8


def _need_browser() -> None:
    why = missing_tool()
    if why is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{why} (CI must install it: see .ci/run)")
    pytest.skip(why)


def test_web_wasm_profile_reports_ratio_and_versions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _need_browser()
    from portrait_bench.model_specs import anchors_dir

    if anchors_dir() is None or not (anchors_dir() / "selfie_segmentation.tflite").is_file():
        pytest.skip("MediaPipe's selfie_segmentation.tflite not found (set $PORTRAIT_ANCHORS_DIR)")
    out = tmp_path / "out"
    rc = main(["--model", str(MODEL), "--profile", "web-wasm", "--reference", "mediapipe", "--runs", "5",
               "--out", str(out), "-q"])
    assert rc == 0
    res = json.loads((out / "result.json").read_text())["web"]
    assert isinstance(res["ratio"], float) and res["ratio"] > 0
    assert res["chromium"] and res["chromium"][0].isdigit()
    assert res["litertjs"] and res["litertjs"][0].isdigit()
    assert res["ours"]["n"] == 5 and res["reference"]["n"] == 5
    assert res["ours"]["median"] > 0 and res["ours"]["p90"] >= res["ours"]["median"]
    assert res["information_only"] is True
    text = capsys.readouterr().out
    assert "web-wasm" in text and "ratio" in text and res["chromium"] in text


def test_web_wasm_missing_chromium_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "no-chromium"))
    rc = main(["--model", str(MODEL), "--profile", "web-wasm", "--out", str(tmp_path / "o"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("portrait-bench: error: web-wasm: ")
    assert "Chromium not found" in err[0] or "node is not installed" in err[0]  # node is checked first
    assert not (tmp_path / "o").exists()


def test_web_wasm_runs_on_its_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["--model", str(MODEL), "--profile", "web-wasm,flagship-1big", "--out", str(tmp_path / "o"), "-q"])
    assert rc == 2
    assert "runs on its own" in capsys.readouterr().err
