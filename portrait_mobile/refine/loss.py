"""The refiner's edge loss: boundary-weighted BCE on the tile's output plus a Lovasz hinge on its
core (the part the runtime keeps), optionally over the hardest tiles of the batch only. Built from
portrait_mobile.train.losses' band and hinge."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..runtime.band import TileGrid
from .config import FEATURE_STRIDE
from ..train.losses import boundary_band, lovasz_hinge


@dataclass(frozen=True)
class RefineLossConfig:
    band_weight: float = 4.0  # extra BCE weight within band_radius of the label's contour
    band_radius: int = 3  # pixels at half the working resolution (scaled to the output's)
    margin_weight: float = 0.25  # the margin's pixels are read as context; their output is dropped
    lovasz_weight: float = 0.5
    # Share of the batch's tiles the loss is averaged over, those with the highest loss (online hard
    # example mining): most tiles hold a clean edge the refiner already gets right. 1 = every tile.
    hard_fraction: float = 1.0

    def __post_init__(self) -> None:
        if (self.band_weight < 0 or self.band_radius < 1 or not 0 <= self.margin_weight <= 1
                or self.lovasz_weight < 0 or not 0 < self.hard_fraction <= 1):
            raise ValueError(f"invalid refine loss config {self}")


def core_slice(grid: TileGrid) -> slice:
    """The core of an output tile (rows or columns)."""
    m = grid.margin // grid.out_stride
    return slice(m, grid.out_tile - m)


def refine_loss(logits: torch.Tensor, target: torch.Tensor, grid: TileGrid,
                cfg: RefineLossConfig) -> dict[str, torch.Tensor]:
    """logits, target: N x 1 x t x t (target soft in [0, 1]). All terms and their sum under 'total'."""
    core = core_slice(grid)
    place = torch.full_like(target[:1], cfg.margin_weight)
    place[..., core, core] = 1.0
    radius = cfg.band_radius * FEATURE_STRIDE // grid.out_stride
    w = place * (1.0 + cfg.band_weight * boundary_band(target, radius))
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    per_tile = {"bce": (bce * w).flatten(1).sum(1) / w.flatten(1).sum(1)}
    total = per_tile["bce"]
    if cfg.lovasz_weight > 0:
        per_tile["lovasz"] = lovasz_hinge(logits[..., core, core], target[..., core, core])
        total = total + cfg.lovasz_weight * per_tile["lovasz"]
    keep = slice(None)
    if cfg.hard_fraction < 1:
        k = max(1, round(cfg.hard_fraction * len(total)))
        keep = torch.topk(total.detach(), k).indices
    terms = {name: v[keep].mean() for name, v in per_tile.items()}
    terms["total"] = total[keep].mean()
    return terms
