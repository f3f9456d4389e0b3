"""Losses: BCE + Dice on the coarse map, boundary-weighted BCE (+ Dice) on the refined map,
and an optional distillation term towards a teacher's soft map."""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LossConfig:
    boundary_weight: float = 4.0  # extra BCE weight inside the boundary band
    boundary_radius: int = 5  # band half-width in pixels at the model's input resolution
    dice_weight: float = 1.0
    coarse_weight: float = 0.5
    teacher_weight: float = 0.5
    # Where a label exists the teacher is only trusted where it agrees with it: MediaPipe marks a horse
    # as a person on voc_person, and a pixel pulled both ways settles at p ~ 0.6, on the threshold.
    # "agree" (default), "none" (teacher only on unlabelled images) or "all" (the old behaviour).
    teacher_on_labels: str = "agree"
    # Edge terms on the refined map (0 = off): the Lovasz hinge optimises IoU directly (SINet's
    # recipe); the edge term matches the spatial gradients of prediction and label in the band.
    lovasz_weight: float = 0.0
    edge_weight: float = 0.0
    # On a photo labelled only for its main subject (ccp), a person the teacher sees farther than
    # this many pixels from the labelled subject is taken from the teacher, not the label's "background":
    # the label would otherwise teach the model to erase passers-by.
    partial_label_margin: int = 8

    def __post_init__(self) -> None:
        if self.teacher_on_labels not in TEACHER_ON_LABELS:
            raise ValueError(f"teacher_on_labels must be one of {TEACHER_ON_LABELS}, got {self.teacher_on_labels!r}")

    def at_size(self, size: int, reference: int) -> "LossConfig":
        """The pixel radii for a training resolution of `size` when they were set for `reference`."""
        scale = lambda r: max(1, round(r * size / reference))  # noqa: E731
        return replace(self, boundary_radius=scale(self.boundary_radius),
                       partial_label_margin=scale(self.partial_label_margin))


TEACHER_ON_LABELS = ("agree", "none", "all")


def teacher_pixel_weight(mask: torch.Tensor, teacher: torch.Tensor, mask_weight: torch.Tensor,
                         teacher_weight: torch.Tensor, mode: str) -> torch.Tensor:
    """B x 1 x H x W weight of the distillation term: teacher_weight on unlabelled images; on labelled
    ones 0, 1 where teacher and label agree (both sides of 0.5), or 1, by `mode`."""
    labelled = (mask_weight > 0)[:, None, None, None]
    if mode == "all":
        on_labels = torch.ones_like(mask)
    elif mode == "agree":
        on_labels = ((teacher > 0.5) == (mask > 0.5)).to(mask.dtype)
    else:
        on_labels = torch.zeros_like(mask)
    return teacher_weight[:, None, None, None] * torch.where(labelled, on_labels, torch.ones_like(mask))


def _window_max(x: torch.Tensor, k: int, dim: int) -> torch.Tensor:
    """Max over each window of k along `dim` (the input is k - 1 longer than the output), by doubling:
    log2(k) + 1 elementwise maxima instead of k."""
    n = x.shape[dim] - k + 1
    w = 1
    while 2 * w <= k:
        x = torch.maximum(x.narrow(dim, 0, x.shape[dim] - w), x.narrow(dim, w, x.shape[dim] - w))
        w *= 2
    # x[i] is now the max of a window of w >= k / 2; two of them overlap to cover k.
    return torch.maximum(x.narrow(dim, 0, n), x.narrow(dim, k - w, n)) if w < k else x.narrow(dim, 0, n)


def dilate(binary: torch.Tensor, radius: int) -> torch.Tensor:
    """Square (2r+1)^2 max filter (max_pool2d with stride 1, padding r) as two 1-D passes of doubling
    maxima: the square 11x11 pools were 40% of a 1-thread training step, and max_pool2d even with a
    1-D window still a quarter of it."""
    k = 2 * radius + 1
    x = F.pad(binary, (radius, radius, radius, radius), value=float("-inf"))
    return _window_max(_window_max(x, k, -1), k, -2)


def boundary_band(target: torch.Tensor, radius: int) -> torch.Tensor:
    """1 within `radius` pixels of the target's person/background contour, else 0."""
    binary = (target > 0.5).float()
    # Dilation and erosion in one pooled pass over both maps.
    both = dilate(torch.cat([binary, -binary], 1), radius)
    return both[:, :1] + both[:, 1:]


def complete_partial_labels(mask: torch.Tensor, teacher: torch.Tensor, partial_label: torch.Tensor | None,
                            teacher_weight: torch.Tensor, margin: int) -> torch.Tensor:
    """The label, with the teacher's people away from the labelled subject filled in where the label
    marks only that subject (`partial_label` 1) and the teacher saw this photo (`teacher_weight` > 0:
    not after a background swap, which removed the passers-by along with their background)."""
    if partial_label is None:
        return mask
    use = ((partial_label > 0) & (teacher_weight > 0))[:, None, None, None]
    near_subject = dilate((mask > 0.5).to(mask.dtype), margin) > 0
    others = (teacher > 0.5) & ~near_subject & use
    return torch.where(others, teacher, mask)


def lovasz_hinge(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample Lovasz hinge (Berman et al. 2018): a convex surrogate of 1 - IoU of the person class.

    `target` is binarised at 0.5 (the hinge needs hard labels).
    """
    b = logits.shape[0]
    logits, labels = logits.reshape(b, -1).float(), (target.reshape(b, -1) > 0.5).float()
    signs = 2 * labels - 1
    errors = 1 - logits * signs
    errors_sorted, order = torch.sort(errors, dim=1, descending=True)
    gt_sorted = torch.gather(labels, 1, order)
    gts = gt_sorted.sum(1, keepdim=True)
    intersection = gts - gt_sorted.cumsum(1)
    union = gts + (1 - gt_sorted).cumsum(1)
    jaccard = 1 - intersection / union
    grad = torch.cat([jaccard[:, :1], jaccard[:, 1:] - jaccard[:, :-1]], 1)  # Lovasz extension
    return (F.relu(errors_sorted) * grad).sum(1)


def _gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def edge_loss(logits: torch.Tensor, target: torch.Tensor, radius: int,
              band: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample L1 between the spatial gradients of the predicted probability and of the label,
    averaged over the boundary band: sharp, well-placed edges, not just the right side of 0.5.
    `band`: boundary_band(target, radius), when the caller has it already."""
    p = torch.sigmoid(logits.float())
    band = boundary_band(target, radius) if band is None else band
    (pgx, pgy), (tgx, tgy) = _gradients(p), _gradients(target)
    diff = F.pad((pgx - tgx).abs(), (0, 1)) + F.pad((pgy - tgy).abs(), (0, 0, 0, 1))
    return (diff * band).flatten(1).sum(1) / band.flatten(1).sum(1).clamp_min(1.0)


def _per_sample_mean(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1).mean(1)


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Per-sample soft Dice loss."""
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    inter = (p * t).sum(1)
    return 1.0 - (2 * inter + eps) / (p.sum(1) + t.sum(1) + eps)


def boundary_weighted_bce(logits: torch.Tensor, target: torch.Tensor, radius: int,
                          band_weight: float, band: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample BCE where pixels in the boundary band count (1 + band_weight) times.
    `band`: boundary_band(target, radius), when the caller has it already."""
    band = boundary_band(target, radius) if band is None else band
    w = 1.0 + band_weight * band
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (bce * w).flatten(1).sum(1) / w.flatten(1).sum(1)


def _weighted(per_sample: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return (per_sample * w).sum() / w.sum().clamp_min(1.0)


def portrait_loss(refined: torch.Tensor, coarse: torch.Tensor, mask: torch.Tensor, teacher: torch.Tensor,
                  mask_weight: torch.Tensor, teacher_weight: torch.Tensor,
                  cfg: LossConfig, partial_label: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """All terms (each a scalar) and their weighted sum under 'total'. `partial_label`: B, 1 where the
    label marks only the main subject (see complete_partial_labels)."""
    refined = refined.float()
    coarse = coarse.float()
    mask = complete_partial_labels(mask, teacher, partial_label, teacher_weight, cfg.partial_label_margin)
    band = boundary_band(mask, cfg.boundary_radius)  # once a batch: the BCE weight and the edge term share it
    small = F.adaptive_avg_pool2d(mask, coarse.shape[-2:])
    coarse_gt = _per_sample_mean(F.binary_cross_entropy_with_logits(coarse, small, reduction="none")) \
        + cfg.dice_weight * dice_loss(coarse, small)
    refined_gt = boundary_weighted_bce(refined, mask, cfg.boundary_radius, cfg.boundary_weight, band) \
        + cfg.dice_weight * dice_loss(refined, mask)
    terms = {
        "coarse": _weighted(coarse_gt, mask_weight),
        "refined": _weighted(refined_gt, mask_weight),
    }
    total = cfg.coarse_weight * terms["coarse"] + terms["refined"]
    if cfg.lovasz_weight > 0:
        terms["lovasz"] = _weighted(lovasz_hinge(refined, mask), mask_weight)
        total = total + cfg.lovasz_weight * terms["lovasz"]
    if cfg.edge_weight > 0:
        terms["edge"] = _weighted(edge_loss(refined, mask, cfg.boundary_radius, band), mask_weight)
        total = total + cfg.edge_weight * terms["edge"]
    if cfg.teacher_weight > 0:
        # No data-dependent branch (no host sync): a batch without teacher pixels adds exactly 0.
        pw = teacher_pixel_weight(mask, teacher, mask_weight, teacher_weight, cfg.teacher_on_labels)
        bce = F.binary_cross_entropy_with_logits(refined, teacher, reduction="none")
        # Normalised by each image's pixel count, so an image with few trusted pixels counts less.
        distill = (bce * pw).flatten(1).mean(1)
        terms["teacher"] = _weighted(distill, teacher_weight)
        total = total + cfg.teacher_weight * terms["teacher"]
    terms["total"] = total
    return terms
