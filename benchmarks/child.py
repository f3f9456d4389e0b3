"""The benchmark's child processes: ``python -m portrait_bench.child memory|op-profile MODEL ...``.

Memory and per-op time are measured in a fresh process: a fresh process has a clean RSS baseline,
and a crash in the op profiler's ctypes calls cannot take the benchmark down. The child prints its
result as one JSON line, last; :func:`run_child` starts it and returns that line parsed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from portrait_mobile.litert import KERNELS
from portrait_bench.commands import run_command


class ChildError(RuntimeError):
    """The child could not start, failed, timed out or printed no JSON result."""


def run_child(job: str, args: list[str], what: str, timeout_s: float) -> dict[str, Any]:
    """Run ``job`` with ``args`` in a fresh Python; ``what`` names it in the ChildError messages."""
    cmd = [sys.executable, "-m", "portrait_bench.child", job, *args]
    stdout = run_command(cmd, what, ChildError, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), timeout_s=timeout_s)
    try:
        result = json.loads(stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError) as e:
        raise ChildError(f"{what}: unreadable result ({e})") from None
    if not isinstance(result, dict):
        raise ChildError(f"{what}: unreadable result (not a JSON object)")
    return result


def _pin(cpus: str | None) -> None:
    if cpus and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
        except OSError:
            pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m portrait_bench.child", description=__doc__.splitlines()[0])
    jobs = ap.add_subparsers(dest="job", required=True)
    mem = jobs.add_parser("memory", help="RSS a model adds (see portrait_bench.memprobe)")
    ops = jobs.add_parser("op-profile", help="per-op time from LiteRT's profiler (see portrait_bench.op_profile)")
    for p in (mem, ops):
        p.add_argument("model")
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--kernels", choices=KERNELS, default="xnnpack")
    ops.add_argument("--runs", type=int, default=20)
    ops.add_argument("--warmup", type=int, default=3)
    ops.add_argument("--cpus", default=None, help="comma-separated CPUs to pin to")
    a = ap.parse_args(argv)
    if a.job == "memory":
        from portrait_bench.memprobe import probe_here

        result = probe_here(a.model, a.threads, a.kernels)
    else:
        from portrait_bench.op_profile import OpProfileError, profile_here

        _pin(a.cpus)
        try:
            result = profile_here(a.model, a.threads, a.kernels, a.runs, a.warmup).to_dict()
        except OpProfileError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    sys.stdout.flush()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
