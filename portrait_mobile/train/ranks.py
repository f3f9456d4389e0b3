"""One-thread processes for CPU training: `fit` and `throughput` run the step as DDP ranks over gloo.

Measured on the 2-core development machine (issue 23, docs/experiments.md, `portrait-train
throughput`): one process at 2 threads trained 36 images/s at 256 and 81 at 160; two 1-thread ranks,
each on half the batch, 62 and 175: a 2-thread step leaves a core idle in every serial stretch
(augmentation, the optimiser's small tensors, Python), two ranks keep both busy. The ranks run niced,
so a test run or an export beside them keeps its core (beside `python -c 'while True: pass'`: 33
images/s at 256, the busy process undisturbed) instead of the training taking its share.

Ranks are spawned (not forked: a forked OpenMP runtime can hang) and each sets RANK/WORLD_SIZE as
torchrun would, so the trainer's DDP path is the same one a GPU run takes. An error in a rank reaches
the caller as the same one-line error; an interrupt of the launcher ends every rank.
"""
from __future__ import annotations

import os
import socket
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import PortraitError
from .threads import cpu_count

# Background training yields the CPU to whatever else runs (the OS scheduler's weight for nice 10 is
# about a tenth of a normal process's).
RANK_NICE = 10


# A rank's resident memory over the decoded cache it holds (measured: 4.6 GB for a 3.2 GB cache), and
# the share of the machine's available memory the ranks may take together.
RANK_MEMORY_FACTOR = 1.5
MEMORY_SHARE = 0.8


def available_memory() -> int | None:
    """MemAvailable of /proc/meminfo in bytes, or None where the system does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def default_procs(threads: int, cache_bytes: int | None = None, available: int | None = None) -> int:
    """Ranks for a CPU run: one a core, as many as the memory holds (each decodes its own copy of the
    `cache_bytes` cache); one process when the user fixed a thread count (as before)."""
    if threads:
        return 1
    procs = cpu_count()
    if cache_bytes and available:
        procs = min(procs, int(available * MEMORY_SHARE // (cache_bytes * RANK_MEMORY_FACTOR)))
    return max(1, procs)


def launched_elsewhere() -> bool:
    """Whether torchrun (or another launcher) already made this process a rank."""
    return "WORLD_SIZE" in os.environ


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class _Failure:
    rank: int
    user_error: bool  # a PortraitError (a clear message), else a bug (the traceback matters)
    message: str


def _rank_main(rank: int, world: int, port: int, nice: int, fn: Callable[..., Any], args: tuple,
               results: Any) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    import signal
    import sys

    import torch

    # Ended by the launcher (terminate): unwind as an exit, so the rank's multiprocessing objects are
    # released and the resource tracker has nothing "leaked" to warn about after the command's own line.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    torch.set_num_threads(1)
    if nice:
        os.nice(nice)
    try:
        out = fn(*args)
        results.put((rank, out))
    except KeyboardInterrupt:  # the terminal's Ctrl-C reaches every rank: the launcher reports it
        raise SystemExit(1)
    except PortraitError as e:
        results.put((rank, _Failure(rank, True, str(e))))
        raise SystemExit(1)
    except Exception:
        results.put((rank, _Failure(rank, False, traceback.format_exc())))
        raise SystemExit(1)


def rank0_values(values: tuple[float, ...], world: int) -> tuple[float, ...]:
    """Rank 0's `values` on every rank. Decisions taken from a clock (the epoch count a time budget
    allows) must come from one rank: the ranks start seconds apart, and two plans an epoch apart
    leave one rank waiting at the final barrier for the other's gradients, forever."""
    if world < 2:
        return tuple(values)
    import torch
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64)
    dist.broadcast(t, 0)
    return tuple(t.tolist())


def run_ranks(fn: Callable[..., Any], args: tuple, procs: int, nice: int = RANK_NICE) -> Any:
    """Run `fn(*args)` in `procs` 1-thread DDP ranks (torch.distributed initialised by `fn`, e.g.
    trainer.train); returns rank 0's result. `fn` and `args` must pickle (spawned processes)."""
    import torch.multiprocessing as mp

    if procs < 2:
        raise ValueError("run_ranks needs at least 2 processes")
    ctx = mp.get_context("spawn")
    results = ctx.SimpleQueue()
    port = _free_port()
    pc = mp.start_processes(_rank_main, args=(procs, port, nice, fn, args, results), nprocs=procs,
                            join=False, start_method="spawn")
    try:
        while not pc.join():
            pass
    except mp.ProcessExitedException as e:
        failures = []
        while not results.empty():
            _, out = results.get()
            if isinstance(out, _Failure):
                failures.append(out)
        user = [f for f in failures if f.user_error]
        if user:
            raise PortraitError(user[0].message) from None
        if failures:
            raise RuntimeError(f"training rank {failures[0].rank} failed:\n{failures[0].message}") from None
        raise PortraitError(f"a training rank ended with exit status {e.exit_code} (killed, or out of memory?)") from None
    except BaseException:  # an interrupt of the launcher (a rank's failure already ended the others in join)
        for p in pc.processes:
            if p.is_alive():
                p.terminate()
        for p in pc.processes:
            p.join(10)
            if p.is_alive():
                p.kill()
        raise
    out = None
    while not results.empty():
        rank, value = results.get()
        if rank == 0:
            out = value
    return out
