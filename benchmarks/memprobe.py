"""Memory of one model, measured in a fresh process (``python -m portrait_bench.child_entry memory MODEL``).

In the benchmark process models are loaded one after another and the allocator reuses freed pages,
so an RSS difference there says little. A fresh child imports the runtime, notes its RSS, loads the
model (interpreter, tensor arena, delegate), runs it a few times and reports how much resident memory
the model added (steady state) and how far it pushed the peak.
"""
from __future__ import annotations

from pathlib import Path

from portrait_bench.child import ChildError, run_child
from portrait_bench.timing import peak_rss_bytes, rss_bytes


def probe_here(model: str, threads: int, kernels: str, runs: int = 3) -> dict[str, float]:
    import numpy as np

    from portrait_bench.interpreters import ready_interpreter

    import ai_edge_litert._pywrap_litert_interpreter_wrapper  # noqa: F401  (runtime library mapped before the baseline)
    import ai_edge_litert.interpreter  # noqa: F401

    rss0, peak0 = rss_bytes() / 1024.0, peak_rss_bytes() / 1024.0
    it = ready_interpreter(model, threads, kernels, np.random.default_rng(0))
    for _ in range(runs):
        it.invoke()
    rss1, peak1 = rss_bytes() / 1024.0, peak_rss_bytes() / 1024.0
    steady = max(0.0, rss1 - rss0)
    peak = max(0.0, peak1 - rss0) if peak1 > peak0 else steady
    return {"baseline_rss_kb": rss0, "rss_delta_kb": steady, "peak_delta_kb": max(peak, steady)}


def probe(model: str | Path, threads: int = 1, kernels: str = "xnnpack", timeout_s: float = 120.0) -> dict[str, float] | None:
    """Run the probe in a child process; None if it fails (memory is then reported as unknown)."""
    try:
        return run_child("memory", [str(model), "--threads", str(threads), "--kernels", kernels],
                         f"memory probe of {model}", timeout_s)
    except ChildError:
        return None
