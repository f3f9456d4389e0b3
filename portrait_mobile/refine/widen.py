"""Widen a trained refiner into one with more channels that computes exactly what it did (Net2Net's
"wider" move, Chen et al. 2016, with a zeroed fan-out instead of split units): every old channel keeps
its weights; a new channel keeps the wider model's own initialisation for what it reads, and every
weight through which an old channel would read a new one starts at zero. Nothing the old channels
compute changes until training moves those zeros; their gradients are not zero, so it does."""
from __future__ import annotations

from typing import Mapping

import torch
from torch import nn


def widen_into(model: nn.Module, old: Mapping[str, torch.Tensor]) -> None:
    """Load `old` (a state dict of the same layout, no dimension larger) into `model`, widening as
    above; ValueError names the first tensor that does not fit."""
    new = model.state_dict()
    if set(new) != set(old):
        missing, extra = sorted(set(new) - set(old)), sorted(set(old) - set(new))
        raise ValueError(f"another layout: {'missing ' + missing[0] if missing else 'unexpected ' + extra[0]}")
    out = {}
    for key, t in new.items():
        o = old[key]
        if o.dim() != t.dim() or any(a > b for a, b in zip(o.shape, t.shape)):
            raise ValueError(f"{key}: {tuple(o.shape)} does not fit in {tuple(t.shape)}")
        w = t.clone()
        if t.dim() == 4 and t.shape[1] > o.shape[1]:  # a conv that now also reads new channels
            w[: o.shape[0], o.shape[1]:] = 0
        w[tuple(slice(0, n) for n in o.shape)] = o
        out[key] = w
    model.load_state_dict(out)


def subpixel_head(old: Mapping[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """`old` with a one-channel 1x1 head (the output on the features' grid) recast as `model`'s
    sub-pixel head (k*k channels, one per output pixel of a feature pixel): each copies the old
    correction, a nearest-neighbour upsampling of it; other tensors as they are."""
    new = model.state_dict()
    out = dict(old)
    w, b, t = old.get("head.weight"), old.get("head.bias"), new.get("head.weight")
    if w is not None and b is not None and t is not None and w.shape[0] == 1 and t.shape[0] > 1 \
            and w.shape[1:] == t.shape[1:]:
        out["head.weight"] = w.expand_as(t).clone()
        out["head.bias"] = b.expand(t.shape[0]).clone()
    return out
