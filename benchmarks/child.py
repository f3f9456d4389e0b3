"""Starting the benchmark's child processes (``python -m portrait_bench.child_entry memory|op-profile
MODEL ...``, see child_entry) and reading their result.

Memory and per-op time are measured in a fresh process: a fresh process has a clean RSS baseline,
and a crash in the op profiler's ctypes calls cannot take the benchmark down. The child prints its
result as one JSON line, last; :func:`run_child` starts it and returns that line parsed.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any

from portrait_bench.commands import run_command


class ChildError(RuntimeError):
    """The child could not start, failed, timed out or printed no JSON result."""


def run_child(job: str, args: list[str], what: str, timeout_s: float) -> dict[str, Any]:
    """Run ``job`` with ``args`` in a fresh Python; ``what`` names it in the ChildError messages."""
    cmd = [sys.executable, "-m", "portrait_bench.child_entry", job, *args]
    stdout = run_command(cmd, what, ChildError, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), timeout_s=timeout_s)
    try:
        result = json.loads(stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError) as e:
        raise ChildError(f"{what}: unreadable result ({e})") from None
    if not isinstance(result, dict):
        raise ChildError(f"{what}: unreadable result (not a JSON object)")
    return result
