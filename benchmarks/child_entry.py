"""The child process itself: ``python -m portrait_bench.child_entry memory|op-profile MODEL ...``
(started by child.run_child). Prints its result as one JSON line, last."""
from __future__ import annotations

import argparse
import json
import os
import sys

from portrait_mobile.litert import KERNELS


def _pin(cpus: str | None) -> None:
    if cpus and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
        except OSError:
            pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m portrait_bench.child_entry", description=__doc__.splitlines()[0])
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
