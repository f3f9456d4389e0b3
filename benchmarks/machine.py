"""The host a benchmark ran on, recorded with every result: x86 timings depend on its CPU's kernels and
on the neighbours' load (the ARM instruction counts do not)."""
from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.strip().startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


_KERNEL_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "amx_bf16")


def _kernel_flags() -> list[str]:
    """The x86 features that decide which XNNPACK kernels run (and so the x86 ratio to the reference)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [f for f in _KERNEL_FLAGS if f in have]
    except OSError:
        pass
    return []


def machine_info() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    def ver(pkg: str) -> str:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return "not installed"

    try:
        avail = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        avail = list(range(os.cpu_count() or 1))
    return {
        "cpu": _cpu_model(),
        "cpu_kernel_flags": _kernel_flags(),
        "arch": platform.machine(),
        "logical_cpus": os.cpu_count(),
        "cpus_available": avail,
        "os": f"{platform.system()} {platform.release()}",
        # neighbours' load moves x86 timings (not the ARM counts): recorded with every result
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "ai_edge_litert": ver("ai-edge-litert"),
        "numpy": ver("numpy"),
        "runtime": "ai_edge_litert Interpreter (LiteRT), XNNPACK delegate unless a profile says builtin kernels",
    }
