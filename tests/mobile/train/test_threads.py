"""Threads on a shared machine: passive waiting set before torch loads, the count follows free cores."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from portrait_mobile.train.threads import CoreMonitor, cpu_count, free_threads


def test_free_threads_gives_way_to_a_busy_neighbour() -> None:
    assert free_threads(2, 0.0) == 2
    assert free_threads(2, 0.3) == 2
    assert free_threads(2, 0.6) == 1  # a second thread sharing a core costs more than it gives
    assert free_threads(2, 5.0) == 1  # never none
    assert free_threads(8, 2.2) == 6


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux /proc")
def test_monitor_sees_a_busy_process_and_not_itself() -> None:
    mon = CoreMonitor(cpu_count())
    assert mon.others() is None  # the first reading is only a baseline
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        mon.others()
        time.sleep(1.5)
        seen = mon.others()
    finally:
        busy.kill()
        busy.wait()
    assert seen is not None and seen > 0.5
    # Our own spinning is not "others".
    mon.others()
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        pass
    assert mon.others() < 0.5 + seen  # bounded by what others did, our own core excluded


def test_training_cli_sets_passive_waiting_before_torch_loads() -> None:
    code = ("import os, sys; os.environ.pop('OMP_WAIT_POLICY', None)\n"
            "from portrait_mobile.train import cli\n"
            "assert 'torch' not in sys.modules\n"
            "try:\n    cli.main(['fit', '--cache', '/nonexistent.npz'])\nexcept SystemExit:\n    pass\n"
            "print(os.environ.get('OMP_WAIT_POLICY'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "PASSIVE"
