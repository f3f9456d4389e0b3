"""CPU threads for long jobs on a small shared machine.

Measured on the 2-core development machine (issue 23): with OpenMP's default spin-waiting, a 2-thread
training step took 5-6 s whenever another process was busy, against 1.0 s with one thread and
1.1-1.5 s with 2 threads and passive waiting: an OpenMP worker spinning for a core that another
process holds stalls every parallel region. So the long jobs wait passively, and use only the
cores the rest of the machine leaves free, re-checked while they run.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

# Read by the OpenMP runtime once, when torch loads it: set before the first `import torch`.
PASSIVE_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


def prefer_passive_waiting() -> bool:
    """Make OpenMP workers sleep instead of spinning while they wait; True if it can still take
    effect (torch not imported yet). A value the user set is kept."""
    import sys

    for k, v in PASSIVE_ENV.items():
        os.environ.setdefault(k, v)
    return "torch" not in sys.modules


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _busy_and_own_jiffies() -> tuple[int, int] | None:
    """(all CPUs' non-idle jiffies, this process's user+system jiffies), or None where /proc lacks them."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        with open("/proc/self/stat") as f:
            own = f.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    # steal (7) is time a hypervisor gave elsewhere: not ours to use either, so counted as busy.
    return sum(fields[:8]) - idle, int(own[11]) + int(own[12])


@dataclass
class CoreMonitor:
    """Cores the other processes of the machine used between two readings."""

    cores: int
    _last: tuple[float, int, int] | None = None

    def others(self) -> float | None:
        """Cores used by everything but this process since the last call (None on the first call,
        or where /proc cannot tell)."""
        now, sample = time.monotonic(), _busy_and_own_jiffies()
        if sample is None:
            return None
        last, self._last = self._last, (now, *sample)
        if last is None or now - last[0] < 0.05:
            return None
        hz = os.sysconf("SC_CLK_TCK")
        busy = (sample[0] - last[1]) / hz  # CPU-seconds of the whole machine
        own = (sample[1] - last[2]) / hz
        return max(0.0, (busy - own) / (now - last[0]))


def free_threads(cores: int, others: float) -> int:
    """Threads for the cores the others leave: one core lost as soon as another process keeps half
    of one busy (a second thread that has to share a core costs more than it gives)."""
    return max(1, min(cores, cores - int(others + 0.5)))


def probe_free_threads(seconds: float = 0.5) -> int:
    """The thread count for now, from the machine's load over `seconds`."""
    mon = CoreMonitor(cpu_count())
    mon.others()
    time.sleep(seconds)
    others = mon.others()
    return mon.cores if others is None else free_threads(mon.cores, others)


class ThreadGovernor:
    """Keeps torch's intra-op threads at the number of free cores, re-checked every `every` seconds.

    `fixed` > 0 pins the count (the --threads flag) and never changes it.
    """

    def __init__(self, fixed: int = 0, every: float = 20.0) -> None:
        import torch

        self._torch = torch
        self.fixed = fixed
        self.every = every
        self.monitor = CoreMonitor(cpu_count())
        self._next = 0.0
        self.threads = fixed or probe_free_threads()
        torch.set_num_threads(self.threads)
        self.monitor.others()  # the baseline of the next reading
        self._next = time.monotonic() + every
        self.changes = 0

    def tick(self) -> int:
        """Call between steps; returns the thread count in force."""
        if self.fixed or time.monotonic() < self._next:
            return self.threads
        self._next = time.monotonic() + self.every
        others = self.monitor.others()
        if others is not None:
            # Our own threads' time is excluded, so a 2-thread run does not count itself as load.
            want = free_threads(self.monitor.cores, others)
            if want != self.threads:
                self.threads = want
                self.changes += 1
                self._torch.set_num_threads(want)
        return self.threads
