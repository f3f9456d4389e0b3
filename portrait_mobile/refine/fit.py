"""The refiner's training loop on one CPU thread: tiles sampled from the cache, AdamW with a cosine
schedule, an EMA of the weights (what is scored and shipped), a checkpoint every epoch and the best
one by carve score."""
from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..atomic import write_bytes
from ..errors import CheckpointError, DatasetError, PortraitError
from .checkpoint import RefinerCheckpoint
from .config import DEFAULT_REFINER, RefinerConfig, get_refiner_config
from .dataset import RefineCache, sample_tiles
from .loss import RefineLossConfig, refine_loss
from .model import TileRefiner
from .validate import CarveSet, score
from .widen import subpixel_head, widen_into

# Share of the sampled photos per source (normalised over the sources present). vitonplus is one
# narrow studio domain: a minority, as the datasets' README asks.
DEFAULT_MIX = {"pfcn/train": 0.4, "ccp/train": 0.25, "picsart/train": 0.2, "vitonplus/train": 0.15}


@dataclass(frozen=True)
class FitConfig:
    cache: str
    out_dir: str
    config: str = DEFAULT_REFINER
    epochs: int = 30
    steps_per_epoch: int = 400
    images_per_step: int = 16
    tiles_per_image: int = 4
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    ema_decay: float = 0.995
    seed: int = 0
    time_budget_min: float = 0.0  # 0 = no limit: stop after the epoch that crosses it
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    loss: RefineLossConfig = field(default_factory=RefineLossConfig)
    resume: str | None = None
    init: str | None = None  # a refiner checkpoint whose weights the run starts from (widened: widen.py)


def runner_for(model: TileRefiner) -> Callable[[np.ndarray], np.ndarray]:
    """The runtime's TileRunner over a PyTorch refiner (fp32)."""

    @torch.no_grad()
    def run(tiles: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(tiles)).permute(0, 3, 1, 2).float() / 255.0
        return model(x)[:, 0].numpy()

    return run


def _weights(cache: RefineCache, train_idx: np.ndarray, mix: dict[str, float]) -> np.ndarray:
    src = cache.sources[train_idx]
    w = np.zeros(len(train_idx))
    present = {s: mix[s] for s in set(src.tolist()) if mix.get(s, 0) > 0}
    if not present:
        raise DatasetError(f"no training photo from the mix's sources {sorted(mix)}; the cache has "
                           f"{cache.source_names()}")
    total = sum(present.values())
    for s, share in present.items():
        sel = src == s
        w[sel] = share / total / sel.sum()
    return w / w.sum()


def _lr(step: int, total: int, cfg: FitConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def fit(cache: RefineCache, cfg: FitConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train; returns the history. Writes last.pt (every epoch, with training state), best.pt (the
    best carve score) and history.json into cfg.out_dir."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    rcfg = get_refiner_config(cfg.config)
    grid = rcfg.grid()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = TileRefiner(rcfg)
    if cfg.init and not cfg.resume:
        start = RefinerCheckpoint.load(cfg.init)
        try:
            widen_into(model, subpixel_head(start.state_dict, model))
        except ValueError as e:
            raise DatasetError(f"--init {cfg.init}: its weights ({start.config.name}) do not fit {rcfg.name}: "
                               f"{e}") from None
    ema = copy.deepcopy(model).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    history: dict[str, Any] = {"fit_config": _jsonable(cfg), "refiner": rcfg.to_dict(), "epochs": []}
    step, start_epoch, best = 0, 0, -1.0
    if cfg.resume:
        step, start_epoch, best, history = _resume(cfg.resume, rcfg, model, ema, opt, history)
    train_idx = np.nonzero(~cache.is_val)[0]
    weights = _weights(cache, train_idx, cfg.mix)
    carve = CarveSet.from_cache(cache)
    if not history.get("coarse"):
        history["coarse"] = score(cache, carve, grid, None)
        log("coarse on the carves: " + _fmt(history["coarse"]))
    total = cfg.epochs * cfg.steps_per_epoch
    t0 = time.time()
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        te = time.time()
        sums: dict[str, float] = {}
        for _ in range(cfg.steps_per_epoch):
            for g in opt.param_groups:
                g["lr"] = _lr(step, total, cfg)
            imgs = rng.choice(train_idx, size=cfg.images_per_step, p=weights)
            b = sample_tiles(cache, imgs, grid, cfg.tiles_per_image, rng)
            x = torch.from_numpy(b.inputs).permute(0, 3, 1, 2).float() / 255.0
            y = torch.from_numpy(b.labels)[:, None]
            terms = refine_loss(model.forward_logits(x), y, grid, cfg.loss)
            if not torch.isfinite(terms["total"]):
                _diverged(f"the loss is {float(terms['total'].detach())} at step {step + 1}", epoch, opt)
            opt.zero_grad(set_to_none=True)
            terms["total"].backward()
            opt.step()
            with torch.no_grad():
                for pe, pm in zip(ema.state_dict().values(), model.state_dict().values()):
                    if pe.dtype.is_floating_point:
                        pe.mul_(cfg.ema_decay).add_(pm.detach(), alpha=1 - cfg.ema_decay)
                    else:
                        pe.copy_(pm)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            step += 1
        train_s = time.time() - te
        # The last step's update can itself be the one that breaks the weights.
        if not all(torch.isfinite(p).all() for p in ema.state_dict().values() if p.dtype.is_floating_point):
            _diverged("the weights are no longer finite", epoch, opt)
        val = score(cache, carve, grid, runner_for(ema))
        row = {"epoch": epoch + 1, "step": step, "lr": _lr(step - 1, total, cfg), "train_s": round(train_s, 1),
               "val_s": round(time.time() - te - train_s, 1),
               **{f"loss_{k}": v / cfg.steps_per_epoch for k, v in sums.items()}, **{f"val_{k}": v for k, v in val.items()}}
        history["epochs"].append(row)
        improved = val["score"] > best
        best = max(best, val["score"])
        log(f"epoch {epoch + 1}/{cfg.epochs} loss {row['loss_total']:.4f} ({train_s:.0f}s) carve " + _fmt(val)
            + (" *" if improved else ""))
        info = {"fit_config": _jsonable(cfg), "epoch": epoch + 1, "step": step, "cache": cache.info,
                "sources": cache.source_names()}
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "epoch": epoch + 1,
                 "best": best, "history": history}
        ck = RefinerCheckpoint(rcfg, ema.state_dict(), {f"val_{k}": v for k, v in val.items()}, info, state)
        ck.save(out / "last.pt")
        if improved:
            ck.save(out / "best.pt", include_train_state=False)
        write_bytes(out / "history.json", json.dumps(history, indent=1).encode())
        if cfg.time_budget_min and time.time() - t0 > cfg.time_budget_min * 60:
            log(f"time budget of {cfg.time_budget_min:g} min reached after epoch {epoch + 1}")
            break
    return history


def _diverged(what: str, epoch: int, opt: torch.optim.Optimizer) -> None:
    # An lr far too high: NaN weights must not become last.pt or best.pt.
    raise PortraitError(f"training diverged in epoch {epoch + 1}: {what} (lr {opt.param_groups[0]['lr']:.3g}); "
                        "no checkpoint of this epoch was written")


# What --resume reads from a last.pt's training state (fit writes every key).
_STATE = {"model": dict, "optimizer": dict, "step": int, "epoch": int}


def _resume(path: str, rcfg: RefinerConfig, model: TileRefiner, ema: TileRefiner, opt: torch.optim.Optimizer,
            history: dict[str, Any]) -> tuple[int, int, float, dict[str, Any]]:
    """Load `path` into model, EMA and optimizer; (step, epoch, best score, history) to go on from.
    CheckpointError naming the file unless it is a checkpoint of this very refiner config."""
    ck = RefinerCheckpoint.load(path)
    if ck.config != rcfg:
        diff = ", ".join(f"{k} {v!r}" for k, v in ck.config.to_dict().items() if rcfg.to_dict()[k] != v)
        raise CheckpointError(f"{path}: a checkpoint of refiner {ck.config.name} ({diff}), not of {rcfg.name}: "
                              "resume with its own --config")
    ts = ck.train_state
    if ts is None:  # weights only (a best.pt): the optimizer starts afresh
        _load(path, "weights", lambda: (model.load_state_dict(ck.state_dict), ema.load_state_dict(ck.state_dict)))
        return 0, 0, -1.0, history
    for key, kind in _STATE.items():
        value = ts.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 0):
            raise CheckpointError(f"{path}: its training state's {key!r} is "
                                  f"{'missing' if value is None else repr(value)[:60]}, not "
                                  f"{'a mapping' if kind is dict else 'an integer >= 0'}")
    best = ts.get("best", -1.0)
    if isinstance(best, bool) or not isinstance(best, (int, float)) or not math.isfinite(best):
        raise CheckpointError(f"{path}: its training state's 'best' is {best!r}, not a score")
    history = ts.get("history", history)
    try:  # fit writes it as history.json every epoch
        ok = isinstance(history, dict) and isinstance(history.get("epochs"), list) and bool(json.dumps(history))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise CheckpointError(f"{path}: its training state's 'history' is not a JSON mapping with a list of epochs")
    _load(path, "training state", lambda: (model.load_state_dict(ts["model"]), ema.load_state_dict(ck.state_dict),
                                           opt.load_state_dict(ts["optimizer"])))
    return ts["step"], ts["epoch"], float(best), history


def _load(path: str, what: str, load: Callable[[], Any]) -> None:
    try:
        load()
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as e:
        first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), "")
        raise CheckpointError(f"{path}: its {what} does not fit the refiner ({type(e).__name__}: {first})") from None


def _fmt(v: dict[str, float]) -> str:
    parts = [f"{k.split('/', 1)[1].split('/')[0]} {v[k]:.2f}" for k in v if k.startswith("boundary_iou/")]
    return f"score {v['score']:.2f} (boundary IoU: {', '.join(parts)})"


def _jsonable(cfg: FitConfig) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(cfg)))
