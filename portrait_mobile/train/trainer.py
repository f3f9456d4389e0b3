"""The training loop: cached data on the device, batched augmentation, AdamW + warmup/cosine, EMA
weights, per-epoch validation, best/last checkpoints, resume, and DDP under torchrun."""
from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..atomic import write_text
from ..checkpoint import Checkpoint
from ..config import DEFAULT_CONFIG, ModelConfig, get_config
from ..data.augment import AugmentConfig, Batch, augment, person_free_backgrounds, random_mirror, to_batch
from ..data.cache import CachedSet, load_cache
from ..data.mix import HardDraw, SourceMix, is_partial_label
from ..errors import CheckpointError, DatasetError, PortraitError
from ..metrics import THRESHOLD, MetricAccumulator, iou
from ..model import PortraitNet, build_model, count_parameters
from ..model_io import pixels_to_unit, unit_to_model_input
from .grow import grow_into, grown_parameters
from .lr import scaled_lr
from .ranks import rank0_values
from .losses import LossConfig, portrait_loss
from .resolution import ResolutionSchedule
from .teacher import InLoopTeacher, check_teacher_mix, load_in_loop_teacher
from .threads import ThreadGovernor


@dataclass
class TrainConfig:
    cache: str
    out_dir: str = "runs/train"
    model: str = DEFAULT_CONFIG
    epochs: int = 100
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup_epochs: float = 2.0
    ema_decay: float = 0.999
    seed: int = 0
    device: str = "cpu"
    sources: tuple[str, ...] = ()  # cache source names to train on; empty = all
    use_teacher: bool = True
    # A teacher run on the augmented batch itself (path of MediaPipe's .tflite; see train.teacher):
    # it sees the swapped background, the zoom-out and the colour changes the student sees.
    teacher_in_loop: str | None = None
    # Share of each batch replaced by cut-mixed composites that only the in-loop teacher labels.
    teacher_mix: float = 0.0
    max_steps_per_epoch: int = 0  # 0 = full epoch; >0 for quick runs and tests
    time_budget_min: float = 0.0  # >0: after epoch 1, cut `epochs` to fit and re-plan the LR schedule
    resume: str | None = None
    init: str | None = None  # start from these weights with a fresh schedule (fine-tuning)
    # With an `init` of a smaller family member: the layers growing it adds (train.grow) learn at
    # this multiple of lr, so a new block catches up without moving the trained ones as far.
    grown_lr_mult: float = 1.0
    overwrite: bool = False  # replace the run already in out_dir (else refused, unless resuming it)
    amp: bool = True  # bf16 autocast on CUDA
    val_every: int = 1  # validate (and write last.pt) every N epochs and after the last one
    lr_scale: str = "none"  # "sqrt" or "linear": scale lr from REFERENCE_BATCH to batch_size
    compile: bool = False  # torch.compile the training forward (pays on a GPU, not on 2 CPU cores)
    progress: bool = True
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # Share of each source's samples an epoch draws (empty: every sample once).
    mix: SourceMix = field(default_factory=SourceMix)
    # Training side by share of the epochs (empty: the cache's size); validation stays at the cache's.
    resolution: ResolutionSchedule = field(default_factory=ResolutionSchedule)
    # Extra draws of the labelled samples the current weights get most wrong (off by default).
    hard: HardDraw = field(default_factory=HardDraw)
    threads: int = 0  # CPU intra-op threads; 0 = the cores other processes leave free, re-checked
    # CPU ranks that share each batch (`ranks.run_ranks`, one thread each); under torchrun (GPUs)
    # every rank takes a whole batch_size instead.
    procs: int = 1


def rank_batch(cfg: TrainConfig, world: int) -> int:
    """Samples a rank takes a step: CPU ranks split the batch, GPU ranks each take all of it."""
    if cfg.procs > 1:
        if world != cfg.procs or cfg.batch_size % cfg.procs:
            raise PortraitError(f"--batch-size {cfg.batch_size} does not split over {cfg.procs} processes "
                                f"(world size {world})")
        return cfg.batch_size // cfg.procs
    return cfg.batch_size


def effective_lr(cfg: TrainConfig) -> float:
    """Large batches need a larger step: see lr.scaled_lr."""
    return scaled_lr(cfg.lr, cfg.batch_size, cfg.lr_scale)


class WeightEMA:
    """Exponential moving average of the weights (and float buffers), decay warmed up by step count.

    The decay comes from a host-side counter, so an update never waits on the device (torch's
    AveragedModel reads its step count back from the device every step).
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        import copy

        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        # Early on the average must follow the model, not its random init.
        d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        self.updates += 1
        mine = [t for t in self.module.state_dict().values() if t.is_floating_point()]
        theirs = [t for t in model.state_dict().values() if t.is_floating_point()]
        torch._foreach_lerp_(mine, theirs, 1.0 - d)
        for a, b in zip(self.module.buffers(), model.buffers()):
            if not a.is_floating_point():
                a.copy_(b)

    def state_dict(self) -> dict[str, Any]:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])


@dataclass
class DeviceData:
    """The training set resident on the training device (uint8), and person-free backgrounds."""

    images: torch.Tensor
    masks: torch.Tensor
    teacher: torch.Tensor
    has_mask: torch.Tensor
    has_teacher: torch.Tensor
    partial_label: torch.Tensor  # 1 where the source labels only the main subject (data.mix)
    backgrounds: torch.Tensor  # K x 3 x H x W uint8: the donors with their person painted out
    _resized: dict[int, "DeviceData"] = field(default_factory=dict)  # the set at the last other side

    @classmethod
    def from_cache(cls, data: CachedSet, device: torch.device, chunk: int = 64) -> "DeviceData":
        t = lambda a: torch.from_numpy(a).to(device)  # noqa: E731
        partial = np.array([is_partial_label(s) for s in data.sources.tolist()], bool)
        out = cls(t(data.images), t(data.masks), t(data.teacher), t(data.has_mask), t(data.has_teacher),
                  t(partial), torch.empty(0))
        # Painted out once here, not every step: the inpaint was most of the augmentation's time.
        donors = t(background_donors(data))
        bgs = []
        for s in range(0, len(donors), chunk):
            d = out.raw(donors[s:s + chunk])
            bg = person_free_backgrounds(d.image, torch.maximum(d.mask, d.teacher))
            bgs.append((bg * 255).round().to(torch.uint8))
        out.backgrounds = torch.cat(bgs)
        return out

    def raw(self, idx: torch.Tensor) -> Batch:
        return to_batch(self.images[idx], self.masks[idx], self.teacher[idx], self.has_mask[idx],
                        self.has_teacher[idx], self.partial_label[idx])

    def augmented(self, idx: torch.Tensor, cfg: AugmentConfig, g: torch.Generator,
                  size: int | None = None) -> Batch:
        """The samples `idx`, augmented at `size` (default: the cache's), on person-free
        backgrounds drawn from the donors."""
        data = self.at_size(size)
        k = torch.randint(len(data.backgrounds), (len(idx),), generator=g, device=g.device)
        background = random_mirror(data.backgrounds[k].float() / 255.0, g)
        return augment(data.raw(idx), cfg, g, background)

    def at_size(self, size: int | None) -> "DeviceData":
        """The set at another square side, resized once (antialiased) and kept: resizing every batch
        cost a third of a low-resolution step."""
        if size is None or size == self.images.shape[1]:
            return self
        if size not in self._resized:
            self._resized.clear()  # a schedule moves on: one other side at a time in memory
            self._resized[size] = replace(
                self, images=_resize_u8(self.images.permute(0, 3, 1, 2), size).permute(0, 2, 3, 1).contiguous(),
                masks=_resize_u8(self.masks[:, None], size)[:, 0], teacher=_resize_u8(self.teacher[:, None], size)[:, 0],
                backgrounds=_resize_u8(self.backgrounds, size), _resized={})
        return self._resized[size]


def _resize_u8(x: torch.Tensor, size: int, chunk: int = 256) -> torch.Tensor:
    """N x C x H x W uint8 -> N x C x size x size uint8, antialiased bilinear, a chunk at a time."""
    out = [F.interpolate(x[s:s + chunk].float(), size=(size, size), mode="bilinear", antialias=True,
                         align_corners=False).round_().clamp_(0, 255).to(torch.uint8)
           for s in range(0, len(x), chunk)]
    return torch.cat(out) if out else x.new_zeros((0, x.shape[1], size, size))


class _TrainForward(nn.Module):
    """DDP wraps forward(); this makes forward() return the training outputs."""

    def __init__(self, model: PortraitNet) -> None:
        super().__init__()
        self.model = model
        self.contract = model.contract()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`x`: the augmented batch, RGB in [0, 1] NCHW; fed to the model as its contract says."""
        return self.model.forward_train(unit_to_model_input(x, self.contract))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def init_ranks(cfg: TrainConfig) -> tuple[int, int, int]:
    """(world, rank, local rank) from the launcher's environment (torchrun, or ranks.run_ranks),
    with the process group joined when there is more than one rank."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cfg.device == "cuda" else "gloo")
    return world, rank, local


def rank_threads(cfg: TrainConfig) -> int:
    """The ThreadGovernor's fixed count (0 = follow the free cores): CPU ranks keep one thread each
    (or the count asked for), since they share the cores between them."""
    return (cfg.threads or 1) if cfg.procs > 1 else cfg.threads


# Donors of backgrounds: samples whose person covers at most this share of the frame (VOC scenes,
# wide shots). A portrait donor's painted-out hole is most of the frame: a blob, not a background.
MAX_DONOR_PERSON = 0.25


def background_donors(data: CachedSet, max_person: float = MAX_DONOR_PERSON) -> np.ndarray:
    """Indices of the samples with the least person area (mask, else teacher map): at least 1/8 of the set."""
    maps = np.where(data.has_mask[:, None, None], data.masks, data.teacher)
    person = maps.reshape(len(data), -1).mean(1) / 255.0
    order = np.argsort(person, kind="stable")
    n = max(int((person <= max_person).sum()), (len(data) + 7) // 8)
    return order[:n]


def selection_score(metrics: dict[str, float]) -> float:
    """The rule that picks best.pt: the unweighted mean of the per-source val fg IoU, so a small,
    hard source (voc_person, 18% of val at ~50 IoU) counts as much as a large easy one and no
    single number mixes them by their sizes."""
    per_source = [v for k, v in metrics.items() if k.startswith("val_fg_iou/")]
    return sum(per_source) / len(per_source) if per_source else metrics["val_fg_iou"]


def predicted_masks(model: nn.Module, data: CachedSet, device: torch.device,
                    batch_size: int = 64) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(binary prediction, binary mask) of each sample at the cache's size, in order."""
    model.eval()
    contract = model.contract()
    for s in range(0, len(data), batch_size):
        imgs = torch.from_numpy(data.images[s:s + batch_size]).to(device)
        x = unit_to_model_input(pixels_to_unit(imgs), contract)
        with torch.no_grad():  # inside: a generator's caller may train between yields
            pred = (model(x.contiguous(memory_format=torch.channels_last)) >= THRESHOLD)[:, 0].cpu().numpy()
        yield from zip(pred, data.masks[s:s + batch_size] > 127)  # the cache's masks are soft after resizing


def image_scores(model: nn.Module, data: CachedSet, device: torch.device, batch_size: int = 64) -> MetricAccumulator:
    """design.md's per-image metrics of `model` against the cache's masks (every sample is scored:
    pass labelled samples only)."""
    acc = MetricAccumulator()
    for p, g in predicted_masks(model, data, device, batch_size):
        acc.update(p, g)
    return acc


def validate(model: nn.Module, data: CachedSet, device: torch.device, batch_size: int = 64) -> dict[str, float]:
    """design.md's metrics (`portrait_mobile.metrics`, the code portrait-eval uses) at the cache
    resolution, a proxy: portrait-eval measures at the original resolution. Overall and per source
    (`val_fg_iou/<source>`, from the same per-image scores), plus `val_score` (selection_score)."""
    return carve_metrics(image_scores(model, data, device, batch_size), data.sources)


def carve_metrics(acc: MetricAccumulator, sources: np.ndarray) -> dict[str, float]:
    """`validate`'s figures from per-image scores already taken, each image's source beside it."""
    res = acc.result()
    fg_img, bd_img = 100 * np.asarray(acc.fg_ious), 100 * np.asarray(acc.boundary_ious)
    out = {
        "val_fg_iou": res.fg_iou,
        "val_miou": res.miou,
        "val_boundary_iou": res.boundary_iou,
        "val_images": len(acc),
    }
    names = sorted(set(sources.tolist()))
    if len(names) > 1:
        for src in names:
            sel = sources == src
            out[f"val_fg_iou/{src}"] = float(fg_img[sel].mean())
            out[f"val_boundary_iou/{src}"] = float(bd_img[sel].mean())
    out["val_score"] = selection_score(out)
    return out


def sample_hardness(model: nn.Module, data: CachedSet, device: torch.device) -> np.ndarray:
    """1 - fg IoU of each labelled sample at the cache's size (the figure the carves select on);
    NaN for samples without a mask."""
    out = np.full(len(data), np.nan)
    labelled = np.flatnonzero(data.has_mask)
    if len(labelled):
        # fg IoU only: the boundary band would cost more than the forward pass here
        out[labelled] = [1.0 - iou(p, g) for p, g in predicted_masks(model, data.subset(labelled), device)]
    return out


def hardest(data: CachedSet, hardness: np.ndarray, n: int = 100) -> list[dict[str, Any]]:
    """The n samples the weights get most wrong, worst first: where to look for a wrong label or a
    kind of photo the data lacks."""
    labelled = np.flatnonzero(np.isfinite(hardness))
    order = labelled[np.argsort(-hardness[labelled], kind="stable")[:n]]
    return [{"id": str(data.ids[i]), "source": str(data.sources[i]),
             "fg_iou": round(100 * (1 - float(hardness[i])), 2)} for i in order]


def plot_history(history: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(ep, [h["train_loss"] for h in history], label="train loss")
    a.set_xlabel("epoch")
    a.set_yscale("log")
    a.legend()
    b.plot(ep, [h["val_fg_iou"] for h in history], label="val fg IoU")
    b.plot(ep, [h["val_boundary_iou"] for h in history], label="val boundary IoU")
    b.set_xlabel("epoch")
    b.legend()
    b.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def select_split(data: CachedSet, sources: tuple[str, ...], use_teacher: bool) -> tuple[CachedSet, CachedSet]:
    keep = np.ones(len(data), bool)
    if sources:
        known = sorted(set(data.sources.tolist()))
        unknown = [s for s in sources if s not in known]
        if unknown:
            raise DatasetError(f"sources {unknown} not in the cache; it has {known}")
        keep = np.isin(data.sources, list(sources))
    if not use_teacher:
        keep &= data.has_mask  # unlabelled samples carry only a teacher signal
        data.has_teacher[:] = False
    train = data.subset(np.flatnonzero(keep & ~data.is_val))
    val = data.subset(np.flatnonzero(keep & data.is_val & data.has_mask))
    if len(train) == 0:
        raise DatasetError("no training samples after filtering")
    if len(val) == 0:
        raise DatasetError("no validation samples: build the cache with a validation fraction > 0")
    return train, val


def train(cfg: TrainConfig, model_config: ModelConfig | None = None,
          teacher: InLoopTeacher | None = None) -> Path:
    """Train; returns the path of the best checkpoint. `teacher` overrides cfg.teacher_in_loop."""
    check_teacher_mix(cfg.teacher_mix, teacher is not None or bool(cfg.teacher_in_loop))  # before the cache loads
    world, rank, local = init_ranks(cfg)
    if cfg.device == "cuda":
        if not torch.cuda.is_available():
            raise PortraitError("--device cuda asked for but CUDA is not available")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True
    else:
        device = torch.device("cpu")
    main = rank == 0
    out = Path(cfg.out_dir)  # made at the first checkpoint: a run that fails earlier leaves no folder
    check_out_dir(out, cfg.resume, cfg.overwrite)

    seed_everything(cfg.seed)
    data = load_cache(cfg.cache, progress=cfg.progress and main)
    train_set, val_set = select_split(data, tuple(cfg.sources), cfg.use_teacher)
    del data
    train_sources = sorted(set(train_set.sources.tolist()))
    cfg.mix.check_sources(train_sources)
    cache_side = int(train_set.images.shape[1])
    dev_data = DeviceData.from_cache(train_set, device)
    governor = ThreadGovernor(rank_threads(cfg)) if device.type == "cpu" else None
    if teacher is None and cfg.teacher_in_loop:
        teacher = load_in_loop_teacher(cfg.teacher_in_loop, device, cfg.teacher_mix)

    mcfg = model_config or get_config(cfg.model)
    model = build_model(mcfg).to(device).to(memory_format=torch.channels_last)
    ema = WeightEMA(model, cfg.ema_decay)
    if cfg.init and cfg.resume:
        raise PortraitError("--init and --resume exclude each other")
    init_config, resume_state = None, None
    if cfg.init:
        init_ck = Checkpoint.load(cfg.init)
        init_config = init_ck.config
        ema.module.load_state_dict(grow_into(init_ck, model, cfg.init))
    if cfg.resume:
        ck = Checkpoint.load(cfg.resume)
        if ck.train_state is None:
            raise PortraitError(f"{cfg.resume} has no training state to resume from (a shipped/best checkpoint?)")
        if ck.config != mcfg:
            raise PortraitError(f"{cfg.resume} is a {ck.config.name} checkpoint, not {mcfg.name}")
        resume_state = ck.train_state
    opt = build_optimizer(model, cfg, fast := _fast_parameters(cfg, model, init_config, resume_state))

    per_rank = (cfg.mix.epoch_size(train_set.sources)
                + cfg.hard.size(train_set.sources, train_set.has_mask, cfg.mix)) // world
    batch = rank_batch(cfg, world)
    steps_per_epoch = max(1, per_rank // batch)
    if cfg.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)
    total_steps = steps_per_epoch * cfg.epochs
    warmup = int(cfg.warmup_epochs * steps_per_epoch)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress))) * 0.99 + 0.01

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    start_epoch, history, best = 0, [], -1.0
    if resume_state is not None:
        start_epoch, history, best = _restore(cfg.resume, resume_state, model, ema, opt, sched)

    net: nn.Module = _TrainForward(model)
    if world > 1:
        net = nn.parallel.DistributedDataParallel(net, device_ids=[local] if device.type == "cuda" else None)
    if cfg.compile:
        net = torch.compile(net)
    amp = cfg.amp and device.type == "cuda"
    params = count_parameters(model)
    if main:
        threads = f", {governor.threads} thread(s){' (auto)' if not cfg.threads else ''}" if governor else ""
        print(f"training {mcfg.name} ({params:,} params) on {device} x{world}{threads}: {len(train_set)} train / "
              f"{len(val_set)} val images, {steps_per_epoch} steps/epoch, {cfg.epochs} epochs", flush=True)
    started = time.time() - (history[-1]["elapsed_s"] if history else 0.0)
    best_path, last_path = out / "best.pt", out / "last.pt"
    requested_epochs, run_started = cfg.epochs, time.time()
    epoch = start_epoch
    hardness: np.ndarray | None = None  # per-sample, from the EMA weights (cfg.hard)
    cost_done = 0.0  # epochs done this run, each weighted by its pixels (the time planner's unit)
    first: tuple[float, float] | None = None  # (seconds, cost) of this run's first epoch
    while epoch < cfg.epochs:
        model.train()
        size = cfg.resolution.size_at(epoch, cfg.epochs, cache_side)
        loss_cfg = cfg.loss if size == cache_side else cfg.loss.at_size(size, cache_side)
        rng = np.random.default_rng(cfg.seed * 100_003 + epoch)
        drawn = cfg.mix.draw(train_set.sources, rng)
        if cfg.hard.active:
            if hardness is None or (epoch - start_epoch) % cfg.hard.every == 0:
                hardness = sample_hardness(ema.module, train_set, device)
            drawn = np.concatenate([drawn, cfg.hard.draw(train_set.sources, hardness, cfg.mix, rng)])
            rng.shuffle(drawn)
        perm = torch.from_numpy(drawn[rank * per_rank:(rank + 1) * per_rank])
        gaug = torch.Generator(device=device).manual_seed(cfg.seed * 7_919 + epoch * 31 + rank)
        # Summed on the device: reading a loss back every step would stall a GPU on the host.
        running = torch.zeros((), device=device)
        perm = perm.to(device)
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False,
                   disable=not (cfg.progress and main))
        for step in bar:
            if governor is not None:
                governor.tick()
            rows = dev_data.augmented(perm[step * batch:(step + 1) * batch], cfg.augment, gaug, size)
            if teacher is not None:
                rows = teacher(rows, gaug)
            losses = train_step(net, opt, rows, loss_cfg, amp)
            sched.step()
            ema.update(model)
            running += losses["total"].detach()
        cost_done += (size / cache_side) ** 2
        if first is None:
            first = (time.time() - run_started, cost_done)
        next_size = cfg.resolution.size_at(epoch + 1, cfg.epochs, cache_side)
        if cfg.time_budget_min > 0 and (epoch < start_epoch + 3 or next_size != size):
            # Re-planned over the first epochs (the first one pays for warm-up) and when the
            # resolution changes. Every rank uses rank 0's timing so DDP stays in step.
            elapsed = time.time() - run_started
            per_unit, budget_s = rank0_values((unit_seconds(elapsed, cost_done, first),
                                               cfg.time_budget_min * 60 - elapsed), world)
            fit = planned_epochs(epoch + 1, budget_s / (per_unit * 1.1), cfg.resolution, cache_side,
                                 requested_epochs)
            if fit != cfg.epochs:
                cfg.epochs = fit
                total_steps = steps_per_epoch * cfg.epochs
                if main:
                    print(f"time budget {cfg.time_budget_min} min: training {cfg.epochs} epochs", flush=True)
        if not main or not ((epoch + 1 - start_epoch) % cfg.val_every == 0 or epoch + 1 == cfg.epochs):
            epoch += 1
            continue
        train_loss = running.item() / steps_per_epoch
        if not math.isfinite(train_loss):
            # Diverged (an lr far too high, a broken batch): NaN weights must not become best.pt.
            raise PortraitError(f"training diverged at epoch {epoch + 1}: the loss is {train_loss} (lr "
                                f"{sched.get_last_lr()[0]:.3g}); no checkpoint of this epoch was written")
        metrics = validate(ema.module, val_set, device)
        rec = {"epoch": epoch + 1, "train_loss": train_loss, "lr": sched.get_last_lr()[0],
               "elapsed_s": round(time.time() - started, 1), "size": size,
               **({"train_hard_mean": float(np.nanmean(hardness))} if hardness is not None else {}),
               **({"threads": governor.threads} if governor else {}), **metrics}
        history.append(rec)
        print(json.dumps(rec), flush=True)
        info = {"train_config": _jsonable(asdict(cfg)), "params": params, "epochs_done": epoch + 1,
                "device": str(device), "world_size": world, "elapsed_s": rec["elapsed_s"],
                "train_images": len(train_set), "sources": sorted(set(train_set.sources.tolist()))}
        ema_state = {k: v.detach().cpu() for k, v in ema.module.state_dict().items()}
        out.mkdir(parents=True, exist_ok=True)
        if metrics["val_score"] > best:
            best = metrics["val_score"]
            Checkpoint(mcfg, ema_state, metrics, info).save(best_path)
        state = {"model": model.state_dict(), "ema": ema.state_dict(), "optimizer": opt.state_dict(),
                 "scheduler": sched.state_dict(), "epoch": epoch + 1, "history": history, "best": best,
                 "torch_rng": torch.get_rng_state(), **({"fast_params": fast} if fast else {})}
        Checkpoint(mcfg, ema_state, metrics, info, state).save(last_path)
        write_text(out / "history.json", json.dumps(history, indent=1))
        if hardness is not None:
            write_text(out / "hardest.json", json.dumps(hardest(train_set, hardness), indent=1))
        plot_history(history, out / "curve.png")
        epoch += 1
    if world > 1:
        dist.barrier()
    return best_path


RUN_FILES = ("best.pt", "last.pt")


def build_optimizer(model: nn.Module, cfg: TrainConfig, fast: list[str]) -> torch.optim.AdamW:
    """AdamW at the run's lr; the parameters named in `fast` in a second group at grown_lr_mult x it
    (the schedule scales both groups alike)."""
    lr = effective_lr(cfg)
    if not fast:
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    named = set(fast)
    groups = [{"params": [p for n, p in model.named_parameters() if n not in named]},
              {"params": [p for n, p in model.named_parameters() if n in named], "lr": lr * cfg.grown_lr_mult}]
    return torch.optim.AdamW(groups, lr=lr, weight_decay=cfg.weight_decay)


def _fast_parameters(cfg: TrainConfig, model: PortraitNet, init: ModelConfig | None,
                     resume_state: dict | None) -> list[str]:
    """The parameters of the optimizer's faster group: those growing a checkpoint of config `init`
    adds when grown_lr_mult asks for them, or those a resumed run was built with (its saved group
    rates come back with the optimizer's state)."""
    if resume_state is not None:
        fast = resume_state.get("fast_params", [])
        known = dict(model.named_parameters())
        if not isinstance(fast, list) or not all(isinstance(n, str) and n in known for n in fast):
            raise CheckpointError(f"{cfg.resume}: its training state cannot be resumed (fast_params names "
                                  f"parameters {model.config.name} does not have)")
        return fast
    if init is None or cfg.grown_lr_mult == 1.0:
        return []
    fast = grown_parameters(init, model)
    if not fast:
        raise PortraitError(f"--grown-lr-mult: {cfg.init} is a {init.name} checkpoint, so growing it into "
                            f"{model.config.name} adds no layers to apply it to")
    return fast


def check_out_dir(out: Path, resume: str | None, overwrite: bool) -> None:
    """Refuse to write over another run's checkpoints: only resuming the run in `out` (or `overwrite`)
    may; a typo in --out must not cost a finished run."""
    if overwrite or not any((out / f).exists() for f in RUN_FILES):
        return
    if resume is not None and Path(resume).resolve().parent == out.resolve():
        return
    raise PortraitError(f"--out {out} already holds a run ({', '.join(f for f in RUN_FILES if (out / f).exists())}): "
                        f"resume it with --resume {out / 'last.pt'}, choose another --out, or pass --overwrite")


def _restore(path: str, st: dict, model: nn.Module, ema: WeightEMA, opt: torch.optim.Optimizer,
             sched: torch.optim.lr_scheduler.LRScheduler) -> tuple[int, list, float]:
    """Load a checkpoint's training state; CheckpointError naming the file when it does not fit."""
    try:
        model.load_state_dict(st["model"])
        ema.load_state_dict(st["ema"])
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        epoch, history, best = st["epoch"], st["history"], st["best"]
        if (isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0 or not isinstance(history, list)
                or not all(isinstance(h, dict) for h in history) or not isinstance(best, (int, float))):
            raise ValueError("epoch, history or best is not what a run writes")
        torch.set_rng_state(st["torch_rng"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        what = f"no {e}" if isinstance(e, KeyError) else str(e).strip().splitlines()[0]
        raise CheckpointError(f"{path}: its training state cannot be resumed ({what})") from None
    return epoch, history, float(best)


def train_step(net: nn.Module, opt: torch.optim.Optimizer, batch: Batch, loss_cfg: LossConfig,
               amp: bool) -> dict[str, torch.Tensor]:
    """One optimiser step on an augmented batch; returns the loss terms (still on the device)."""
    x = batch.image.contiguous(memory_format=torch.channels_last)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
        refined, coarse = net(x)
    losses = portrait_loss(refined, coarse, batch.mask, batch.teacher, batch.mask_weight,
                           batch.teacher_weight, loss_cfg, batch.partial_label)
    opt.zero_grad(set_to_none=True)
    losses["total"].backward()
    opt.step()
    return losses


def unit_seconds(elapsed: float, cost_done: float, first: tuple[float, float] | None) -> float:
    """Seconds a unit of training costs, from `elapsed` seconds for `cost_done` units; once there is more
    than the run's `first` epoch (seconds, units), without it: it pays for warm-up (on a GPU 45 s
    against 1.1 s for a later epoch, which planned 34 epochs for a 7.5-minute budget done in 86 s)."""
    if first is None or cost_done <= first[1]:
        return elapsed / cost_done
    return (elapsed - first[0]) / (cost_done - first[1])


def planned_epochs(done: int, budget_units: float, schedule: ResolutionSchedule, side: int,
                   requested: int) -> int:
    """The most epochs (at least `done`, at most `requested`) whose remaining ones fit `budget_units`,
    an epoch at side s costing (s / side)^2 units: the schedule decides the size of each, and moves
    with the total."""
    def cost(total: int) -> float:
        return sum((schedule.size_at(e, total, side) / side) ** 2 for e in range(done, total))

    lo, hi = done, requested  # cost grows with the total: bisect for the last total that fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if cost(mid) <= budget_units else (lo, mid - 1)
    return lo


def _jsonable(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _jsonable(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [_jsonable(v) for v in d]
    return d
