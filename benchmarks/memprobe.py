"""Memory of one model, measured in a fresh process: ``python -m portrait_bench.memprobe MODEL``.

In the benchmark process models are loaded one after another and the allocator reuses freed pages,
so an RSS difference there says little. A fresh child imports the runtime, notes its RSS, loads the
model (interpreter, tensor arena, delegate), runs it a few times and reports how much resident memory
the model added (steady state) and how far it pushed the peak.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any


def _rss_kb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024.0


def _peak_kb() -> float:
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def probe_here(model: str, threads: int, kernels: str, runs: int = 3) -> dict[str, float]:
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from portrait_bench.models import random_input

    import ai_edge_litert._pywrap_litert_interpreter_wrapper  # noqa: F401  (runtime library mapped before the baseline)

    rss0, peak0 = _rss_kb(), _peak_kb()
    kw: dict[str, Any] = {"model_path": model, "num_threads": threads}
    if kernels == "builtin":
        kw["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(**kw)
    it.allocate_tensors()
    rng = np.random.default_rng(0)
    for d in it.get_input_details():
        it.set_tensor(d["index"], random_input(d, rng))
    for _ in range(runs):
        it.invoke()
    rss1, peak1 = _rss_kb(), _peak_kb()
    steady = max(0.0, rss1 - rss0)
    peak = max(0.0, peak1 - rss0) if peak1 > peak0 else steady
    return {"baseline_rss_kb": rss0, "rss_delta_kb": steady, "peak_delta_kb": max(peak, steady)}


def probe(model: str | Path, threads: int = 1, kernels: str = "xnnpack", timeout_s: float = 120.0) -> dict[str, float] | None:
    """Run the probe in a child process; None if it fails (memory is then reported as unknown)."""
    cmd = [sys.executable, "-m", "portrait_bench.memprobe", str(model), "--threads", str(threads), "--kernels", kernels]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
        if proc.returncode != 0:
            return None
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, OSError, json.JSONDecodeError, IndexError):
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m portrait_bench.memprobe")
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--kernels", choices=("xnnpack", "builtin"), default="xnnpack")
    a = ap.parse_args(argv)
    res = probe_here(a.model, a.threads, a.kernels)
    sys.stdout.flush()
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
