"""Signal a running command once it has got somewhere, and collect how it ended."""
from __future__ import annotations

import signal
import subprocess
import time
from typing import Callable


def signal_when(cmd: list[str], ready: Callable[[subprocess.Popen], bool], sig: int = signal.SIGTERM,
                wait_s: float = 120, stdout: int | None = subprocess.DEVNULL) -> tuple[int, str]:
    """Start `cmd`, send `sig` as soon as `ready(proc)` holds (polled; fails after `wait_s`), and
    return (exit status, stderr). The process never outlives the call."""
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + wait_s
        while not ready(proc):
            if proc.poll() is not None:
                raise AssertionError(f"ended (exit {proc.returncode}) before it was signalled:\n"
                                     f"{proc.stderr.read()[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"not ready to be signalled after {wait_s:.0f} s")
            time.sleep(0.05)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err
