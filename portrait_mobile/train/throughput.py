"""Training throughput: images/s of the real training step and where its time goes.

Runs the trainer's own pieces (device-resident data, batched augmentation, `train_step`, the EMA)
so the figure is the one a training run gets. Phases are timed with a device synchronisation
between them, which a real run never does: the phase split is for finding the slow part, the
images/s of the unsplit loop is the throughput.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Iterator

import torch
import torch.distributed as dist
from torch import nn

from ..config import ModelConfig, get_config
from ..data.cache import load_cache
from ..errors import PortraitError
from ..model import build_model
from .ranks import run_ranks
from .threads import CoreMonitor, ThreadGovernor, cpu_count
from .trainer import (DeviceData, TrainConfig, WeightEMA, _TrainForward, effective_lr, init_ranks, rank_batch,
                      rank_threads, select_split, train_step)

PHASES = ("augment", "step", "ema")
QUIET, BUSY = "as found", "beside a busy process"


@dataclass(frozen=True)
class ThroughputReport:
    device: str
    model: str
    batch_size: int
    steps: int
    images_per_s: float  # the loop as training runs it: no synchronisation between phases
    ms_per_step: float
    phase_ms: dict[str, float]  # per step, each phase timed on its own (synchronised)
    amp: bool
    compiled: bool
    size: int  # training side
    threads: int | None  # CPU threads of each process in force at the end (None on a GPU)
    procs: int  # processes sharing each batch (ranks.run_ranks)
    condition: str  # "as found", or "beside a busy process" (one added)
    others_cores: float | None  # cores other processes kept busy during the timed loop (None: unknown)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        split = ", ".join(f"{k} {v:.1f} ms" for k, v in self.phase_ms.items())
        threads = f", {self.threads} thread(s)" if self.threads is not None else ""
        if self.procs > 1:
            threads = f", {self.procs} processes x{threads[1:]}"
        others = f" (other processes: {self.others_cores:.1f} cores)" if self.others_cores is not None else ""
        return (f"{self.model} on {self.device}{threads}, {self.condition}{others}, batch {self.batch_size} at "
                f"{self.size}x{self.size}{' bf16' if self.amp else ''}{' compiled' if self.compiled else ''}: "
                f"{self.images_per_s:,.0f} images/s ({self.ms_per_step:.1f} ms/step over {self.steps} steps); "
                f"per step: {split}")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def busy_process() -> Iterator[None]:
    """A neighbour that keeps one core busy (what a test run or an export does to a training run)."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # running before the first timed step
        yield
    finally:
        proc.kill()
        proc.wait()


def measure_throughput(cfg: TrainConfig, steps: int = 20, warmup: int = 3,
                       model_config: ModelConfig | None = None, size: int | None = None,
                       beside_busy: bool = False) -> list[ThroughputReport]:
    """The quiet figure, then (`beside_busy`) the same beside a busy process; in `cfg.procs` ranks
    sharing each batch as fit runs them (ranks.run_ranks) when that is more than one."""
    if steps < 1 or warmup < 0:
        raise PortraitError("steps must be >= 1 and warmup >= 0")
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise PortraitError("--device cuda asked for but CUDA is not available")
    rank_batch(cfg, cfg.procs)
    conditions = [QUIET, BUSY] if beside_busy else [QUIET]
    if cfg.procs == 1:  # one process, the cache loaded once for both conditions
        return _measure(cfg, steps, warmup, model_config, size, conditions)
    # The ranks run niced (ranks.RANK_NICE): the neighbour is started here, at the caller's priority, as
    # a test run beside a training run would be, not by a rank (it would inherit the rank's nice).
    reports = run_ranks(_measure, (cfg, steps, warmup, model_config, size, [QUIET]), cfg.procs)
    if beside_busy:
        with busy_process():
            reports += run_ranks(_measure, (cfg, steps, warmup, model_config, size, [BUSY], False), cfg.procs)
    return reports


def _measure(cfg: TrainConfig, steps: int, warmup: int, model_config: ModelConfig | None, size: int | None,
             conditions: list[str], start_busy: bool = True) -> list[ThroughputReport]:
    """Each condition in turn, in this process (a rank when there are several: rank 0's reports); for
    BUSY it starts the busy neighbour itself unless the caller has (`start_busy`)."""
    world, _, _ = init_ranks(cfg)
    device = torch.device("cuda" if cfg.device == "cuda" else "cpu")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    train_set, _ = select_split(load_cache(cfg.cache, progress=False), tuple(cfg.sources), cfg.use_teacher)
    size = size or int(train_set.images.shape[1])
    loss_cfg = cfg.loss.at_size(size, int(train_set.images.shape[1]))
    data = DeviceData.from_cache(train_set, device)
    mcfg = model_config or get_config(cfg.model)
    model = build_model(mcfg).to(device).to(memory_format=torch.channels_last).train()
    ema = WeightEMA(model, cfg.ema_decay)
    opt = torch.optim.AdamW(model.parameters(), lr=effective_lr(cfg), weight_decay=cfg.weight_decay)
    net: nn.Module = _TrainForward(model)
    if world > 1:
        net = nn.parallel.DistributedDataParallel(net)
    if cfg.compile:
        net = torch.compile(net)
    amp = cfg.amp and device.type == "cuda"
    g = torch.Generator(device=device).manual_seed(cfg.seed + int(os.environ.get("RANK", "0")))
    n, batch = len(train_set), rank_batch(cfg, world)
    governor: ThreadGovernor | None = None

    def together() -> None:
        _sync(device)
        if world > 1:
            dist.barrier()

    def one(phases: dict[str, float] | None) -> None:
        if governor is not None:
            governor.tick()
        t0 = time.perf_counter()
        rows = data.augmented(torch.randint(n, (batch,), generator=g, device=device), cfg.augment, g, size)
        if phases is not None:
            _sync(device)
            t1 = time.perf_counter()
            phases["augment"] += t1 - t0
        train_step(net, opt, rows, loss_cfg, amp)
        if phases is not None:
            _sync(device)
            t2 = time.perf_counter()
            phases["step"] += t2 - t1
        ema.update(model)
        if phases is not None:
            _sync(device)
            phases["ema"] += time.perf_counter() - t2

    def measure(condition: str) -> ThroughputReport:
        nonlocal governor
        # Started inside the condition, as a run would be: the thread count is the one it would pick.
        governor = ThreadGovernor(rank_threads(cfg), every=2.0) if device.type == "cpu" else None
        for _ in range(warmup):  # cudnn autotune, torch.compile, allocator warm-up
            one(None)
        together()
        # The other ranks would count as "other processes": the machine's load is read in one process only.
        monitor = CoreMonitor(cpu_count()) if world == 1 else None
        if monitor:
            monitor.others()
        t = time.perf_counter()
        for _ in range(steps):
            one(None)
        together()
        loop_s = time.perf_counter() - t
        others = monitor.others() if monitor else None
        phases = {k: 0.0 for k in PHASES}
        for _ in range(steps):
            one(phases)
        together()
        return ThroughputReport(device=str(device), model=mcfg.name, batch_size=cfg.batch_size, steps=steps,
                                images_per_s=cfg.batch_size * steps / loop_s, ms_per_step=1e3 * loop_s / steps,
                                phase_ms={k: 1e3 * v / steps for k, v in phases.items()}, amp=amp,
                                compiled=cfg.compile, size=size,
                                threads=governor.threads if governor else None, procs=world, condition=condition,
                                others_cores=None if others is None else round(others, 2))

    reports = []
    for condition in conditions:
        with busy_process() if condition == BUSY and start_busy else contextlib.nullcontext():
            reports.append(measure(condition))
    if world > 1:
        dist.destroy_process_group()
    return reports
