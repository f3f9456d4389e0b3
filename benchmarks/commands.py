"""Running an outside command with one set of failure messages (the bench's child processes, the ARM
set-up's apt/dpkg/pip/gcc/qemu calls)."""
from __future__ import annotations

import subprocess


def run_command(cmd: list[str], what: str, error: type[Exception], env: dict[str, str] | None = None,
                timeout_s: float = 900.0) -> str:
    """stdout of ``cmd``; else ``error`` naming ``what`` failed: no start, a time-out, or a non-zero exit
    (with the last lines of its output)."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise error(f"{what} timed out after {timeout_s:.0f} s") from None
    except OSError as e:
        raise error(f"{what}: cannot start it ({e})") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise error(f"{what} failed (exit {proc.returncode}): {' | '.join(tail)}")
    return proc.stdout
