"""In-process latency measurement: interleaved timing of several models, robust statistics, pinning, memory.

Several models are timed in one loop, run by run, in a rotating order, so that whatever the shared host
does during the measurement (another process, a frequency change) falls on all of them alike. That is
why the ratio to a reference timed in the same loop is the number to trust on a noisy machine, not the
absolute milliseconds.
"""
from __future__ import annotations

import contextlib
import gc
import os
import resource
import time
from dataclasses import asdict, dataclass
from typing import Callable, Iterator, Sequence

import numpy as np


@dataclass(frozen=True)
class Stats:
    """Summary of one model's latencies in milliseconds."""

    n: int
    median_ms: float
    p90_ms: float
    min_ms: float
    max_ms: float
    mean_ms: float
    std_ms: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def compute_stats(samples_ms: Sequence[float] | np.ndarray) -> Stats:
    """median, p90 (linear interpolation), min, max, mean and sample standard deviation."""
    a = np.asarray(samples_ms, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ValueError("compute_stats needs a non-empty 1-D sequence of timings")
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError("timings must be finite and non-negative")
    return Stats(
        n=int(a.size),
        median_ms=float(np.median(a)),
        p90_ms=float(np.percentile(a, 90)),
        min_ms=float(a.min()),
        max_ms=float(a.max()),
        mean_ms=float(a.mean()),
        std_ms=float(a.std(ddof=1)) if a.size > 1 else 0.0,
    )


@dataclass(frozen=True)
class Ratio:
    """ours median / reference median, with a bootstrap 95% interval over paired runs."""

    value: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def median_ratio(ours_ms: Sequence[float], ref_ms: Sequence[float], n_boot: int = 1000, seed: int = 0) -> Ratio:
    """Ratio of medians. Runs were interleaved, so run i of both models is a pair: resample the pairs."""
    a = np.asarray(ours_ms, dtype=np.float64)
    b = np.asarray(ref_ms, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        raise ValueError("median_ratio needs timings for both models")
    if np.median(b) <= 0:
        raise ValueError("reference median is zero")
    value = float(np.median(a) / np.median(b))
    n = min(a.size, b.size)
    if n < 2 or n_boot <= 0:
        return Ratio(value, value, value)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    boots = np.median(a[:n][idx], axis=1) / np.maximum(np.median(b[:n][idx], axis=1), 1e-12)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return Ratio(value, float(lo), float(hi))


def time_interleaved(
    runners: Sequence[Callable[[], None]],
    runs: int,
    warmup: int,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> list[list[float]]:
    """Time each runner ``runs`` times, interleaved run by run; returns milliseconds per runner.

    The starting runner rotates every run so no model always goes first (caches, turbo). Garbage
    collection is off while timing.
    """
    if runs < 1:
        raise ValueError("runs must be >= 1")
    k = len(runners)
    for _ in range(warmup):
        for r in runners:
            r()
    out: list[list[float]] = [[] for _ in range(k)]
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(runs):
            for j in range(k):
                m = (i + j) % k
                t0 = clock()
                runners[m]()
                out[m].append((clock() - t0) / 1e6)
    finally:
        if gc_was_enabled:
            gc.enable()
    return out


# ---------------------------------------------------------------- pinning

@dataclass(frozen=True)
class Pinning:
    requested: tuple[int, ...] | None
    applied: tuple[int, ...] | None  # None: not pinned
    available: tuple[int, ...]
    note: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def available_cpus() -> tuple[int, ...]:
    try:
        return tuple(sorted(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return tuple(range(os.cpu_count() or 1))


def _set_affinity_all_threads(cpus: set[int]) -> None:
    # os.sched_setaffinity(0, ...) moves only the calling thread; move every thread of the process
    # (threads created later inherit the creating thread's mask).
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]
    for tid in tids:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(tid, cpus)


@contextlib.contextmanager
def pinned(cpus: Sequence[int] | None, threads: int) -> Iterator[Pinning]:
    """Pin the process to ``cpus`` where the OS allows it; restore the previous mask afterwards."""
    avail = available_cpus()
    if not cpus:
        note = "not pinned"
        if threads > len(avail):
            note += f"; {threads} threads on {len(avail)} available CPUs (oversubscribed)"
        yield Pinning(None, None, avail, note)
        return
    if not hasattr(os, "sched_setaffinity"):
        yield Pinning(tuple(cpus), None, avail, "CPU pinning not supported on this OS; not pinned")
        return
    want = [c for c in cpus if c in avail]
    notes = []
    if len(want) < len(cpus):
        missing = [c for c in cpus if c not in avail]
        want = list(avail[: len(cpus)])
        notes.append(f"CPUs {missing} not available to this process; used {want} instead")
    if threads > len(want):
        notes.append(f"{threads} threads on {len(want)} pinned CPU(s) (oversubscribed)")
    before = set(os.sched_getaffinity(0))
    try:
        _set_affinity_all_threads(set(want))
        applied = tuple(sorted(os.sched_getaffinity(0)))
    except OSError as e:
        yield Pinning(tuple(cpus), None, avail, f"pinning refused by the OS ({e}); not pinned")
        return
    try:
        yield Pinning(tuple(cpus), applied, avail, "; ".join(notes) or f"pinned to CPU {','.join(map(str, applied))}")
    finally:
        _set_affinity_all_threads(before)


# ---------------------------------------------------------------- memory

def rss_bytes() -> int:
    """Current resident set size of this process."""
    try:
        import psutil  # the bench extra declares it

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports ru_maxrss in KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
