"""A ``web`` profile (``web-wasm``): our int8 model against MediaPipe's in headless Chromium (LiteRT.js, WASM).

It runs ``node web_demo/bench.mjs`` (the page's own benchmark, ``web_demo/js/bench.js``: ``run()`` of the
two models interleaved in the same page, each in its own frame, one thread, 5 warm-up rounds) and reports
median / p90 ms of both and the ratio ours / MediaPipe, with the Chromium and LiteRT.js versions.
Information only: never a budget, not part of ``benchmarks/ci.sh``.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from portrait_mobile.contract_io import sidecar_path
from portrait_mobile.errors import PortraitError
from portrait_mobile.paths import source_checkout
from portrait_bench.machine import machine_info
from portrait_bench.profiles import DeviceProfile

BUILD = "threads"  # the threaded WASM build (docs/web.md)
PAGE_WARMUP = 5  # warm-up rounds web_demo/js/bench.js runs before timing


class WebBenchError(RuntimeError):
    """The browser benchmark could not run (a missing tool, a page error)."""


def chromium_path() -> str:
    return os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def web_demo_dir() -> Path:
    """web_demo/ of the source checkout (an install from a wheel has none: WebBenchError says so)."""
    try:
        return source_checkout("web_demo", what="the browser benchmark") / "web_demo"
    except PortraitError as e:
        raise WebBenchError(str(e)) from None


def missing_tool(web: Path | None = None) -> str | None:
    """What keeps the browser benchmark from running here, as one sentence, or None."""
    try:
        web = web or web_demo_dir()
    except WebBenchError as e:
        return str(e)
    if shutil.which("node") is None:
        return "node is not installed (apt-get install nodejs npm)"
    if not Path(chromium_path()).is_file():
        return f"Chromium not found at {chromium_path()} (apt-get install chromium, or set CHROMIUM_PATH)"
    mods = web / "node_modules"
    if not ((mods / "@litertjs" / "core").is_dir() and (mods / "playwright-core").is_dir()):
        return "web_demo/node_modules is missing (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix web_demo)"
    return None


def run_web_benchmark(model: str | Path, reference: str | Path, profile: DeviceProfile, runs: int | None = None,
                      timeout: int = 900) -> dict[str, Any]:
    """Time ``model`` (a .tflite with its sidecar contract) against ``reference`` in the page, as the web
    ``profile`` says (threads, runs unless ``runs`` is given)."""
    name = profile.name
    runs = runs or profile.runs
    why = missing_tool()
    if why:
        raise WebBenchError(f"{name}: {why}")
    model = Path(model)
    contract = sidecar_path(model)
    if not model.is_file():
        raise WebBenchError(f"{name}: model not found: {model}")
    if not contract.is_file():
        raise WebBenchError(f"{name}: {model} has no contract {contract.name} (the page needs it)")
    with tempfile.TemporaryDirectory(prefix="portrait-web-bench-") as tmp:
        # only this model in the served folder: the page takes the first model listed
        shutil.copy2(model, Path(tmp) / model.name)
        shutil.copy2(contract, Path(tmp) / contract.name)
        cmd = ["node", "bench.mjs", "--builds", BUILD, "--threads", str(profile.threads), "--runs", str(runs),
               "--models", tmp, "--reference", str(Path(reference).resolve())]
        env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
        try:
            proc = subprocess.run(cmd, cwd=web_demo_dir(), capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            raise WebBenchError(f"{name}: node bench.mjs took longer than {timeout} s") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise WebBenchError(f"{name}: node bench.mjs failed (exit {proc.returncode}): {last}")
    try:
        raw = json.loads(proc.stdout)
        r = raw["results"][0]
    except (ValueError, KeyError, IndexError) as e:
        raise WebBenchError(f"{name}: bench.mjs printed no result ({e})") from None
    return {
        "profile": name,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "information_only": True,
        "chromium": raw.get("chromium"),
        "litertjs": raw.get("litertjs"),
        "build": r.get("build"),
        "wasm_file": r.get("wasmFile"),
        "threads": r.get("threads"),
        "runs": runs,
        "warmup": PAGE_WARMUP,
        "ours": {"model": str(model), **{k: r["ours"][k] for k in ("median", "p90", "min", "n")}},
        "reference": {"model": str(reference), **{k: r["mediapipe"][k] for k in ("median", "p90", "min", "n")}},
        "ratio": r["ratio"],
        "timed_call": "LiteRT.js CompiledModel run() in headless Chromium, interleaved (first of each pair "
                      "alternates), each model in its own frame, same input pixels (web_demo/js/bench.js)",
        "machine": machine_info(),
    }


def format_web(res: dict[str, Any]) -> str:
    o, m = res["ours"], res["reference"]
    return (
        f"== {res['profile']}: headless Chromium {res['chromium']}, LiteRT.js {res['litertjs']}, "
        f"{res['build']} build ({res['wasm_file']}), {res['threads']} thread, {res['runs']} interleaved runs "
        f"(+{res['warmup']} warm-up) [information only]\n"
        f"  ours      {Path(o['model']).name:<32} median {o['median']:7.2f} ms  p90 {o['p90']:7.2f} ms\n"
        f"  MediaPipe {Path(m['model']).name:<32} median {m['median']:7.2f} ms  p90 {m['p90']:7.2f} ms\n"
        f"  ratio (our median / MediaPipe median): {res['ratio']:.3f}\n"
    )
