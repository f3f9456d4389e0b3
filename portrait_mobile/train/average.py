"""Weight averaging ("model soup", Wortsman et al. 2022) of checkpoints of one architecture.

Two fine-tunes of one model (the shipped weights, and a run grown from them on more data) lie in one
basin: a weighted mean of their weights keeps most of what each learned, which neither training
schedule alone reached on this CPU (docs/experiments.md, session 24). Batch-norm statistics are
averaged with the weights; integer buffers (batch counters) are taken from the last checkpoint.
The soup has the last checkpoint's architecture: an earlier one of a smaller family member is grown
into it first (train.grow: its new blocks add nothing, so the soup scales theirs by the weights).
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import torch

from ..checkpoint import Checkpoint
from ..config import ModelConfig
from ..errors import PortraitError
from ..model import build_model
from .grow import grow_into, growth_of


def average_checkpoints(paths: Sequence[str | Path], weights: Sequence[float]) -> Checkpoint:
    """The weighted mean of the checkpoints' weights (weights >= 0, summing to 1). Their training
    sources are merged (the weights learned from all of them: their terms follow); metrics are
    dropped (they were the parts'), train_info records the parts."""
    if len(paths) < 2:
        raise PortraitError("averaging needs at least two checkpoints")
    if len(weights) != len(paths):
        raise PortraitError(f"{len(paths)} checkpoints but {len(weights)} weights")
    if any(not math.isfinite(w) or w < 0 for w in weights) or abs(sum(weights) - 1) > 1e-6:
        raise PortraitError(f"the weights must be >= 0 and sum to 1, got {list(weights)}")
    parts = [Checkpoint.load(p) for p in paths]
    last = parts[-1]
    states = [_grown(ck, last.config, str(p)) for p, ck in zip(paths, parts)]
    for path, state in zip(paths, states):
        if state.keys() != last.state_dict.keys():
            raise PortraitError(f"{path} holds other tensors than {paths[-1]}")
    state = {}
    for k, v in last.state_dict.items():
        if v.is_floating_point():
            mean = sum(w * s[k].double() for w, s in zip(weights, states))
            state[k] = mean.to(v.dtype)
        else:
            state[k] = v.clone()
    sources = sorted({s for ck in parts for s in (ck.train_info or {}).get("sources", [])})
    info = {"averaged_from": [{"checkpoint": str(p), "weight": w, "sources": (ck.train_info or {}).get("sources"),
                               "train_config": (ck.train_info or {}).get("train_config")}
                              for p, w, ck in zip(paths, weights, parts)],
            "sources": sources}
    return Checkpoint(last.config, state, {}, info)


def _grown(ck: Checkpoint, target: ModelConfig, name: str) -> dict[str, torch.Tensor]:
    """`ck`'s weights in `target`'s architecture. Names are labels (a candidate may be saved under
    another): the architectures must match, or `ck`'s must grow into `target`'s."""
    why = growth_of(ck.config, target)
    if why:
        raise PortraitError(f"{name} is a {ck.config.name} checkpoint that cannot be averaged into "
                            f"{target.name} ({why})")
    if replace(ck.config, name=target.name) == target:
        return ck.state_dict
    return grow_into(ck, build_model(target), name)


def parse_weights(items: Sequence[float], n: int) -> list[float]:
    """--weight values for n checkpoints: all of them, or all but the last (which takes the rest)."""
    if len(items) == n - 1:
        return [*items, 1 - sum(items)]
    return list(items)

