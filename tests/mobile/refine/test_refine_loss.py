"""The refiner's loss: the margin counts less than the core, the band more than the rest."""
from __future__ import annotations

import pytest
import torch

from portrait_mobile.refine.config import get_refiner_config
from portrait_mobile.refine.loss import RefineLossConfig, core_slice, refine_loss

GRID = get_refiner_config("refine-t48").grid()


def test_core_slice_is_the_written_part() -> None:
    assert core_slice(GRID) == slice(2, 22)


def test_an_error_in_the_margin_costs_less_than_in_the_core() -> None:
    target = torch.zeros(1, 1, 24, 24)
    target[..., :, 12:] = 1.0
    right = (target * 2 - 1) * 8
    cfg = RefineLossConfig(lovasz_weight=0.0)
    wrong_margin, wrong_core = right.clone(), right.clone()
    wrong_margin[..., 0, 0] = 8.0  # a background pixel called person, in the margin
    wrong_core[..., 5, 5] = 8.0  # the same, in the core
    assert refine_loss(wrong_margin, target, GRID, cfg)["total"] < refine_loss(wrong_core, target, GRID, cfg)["total"]


def test_lovasz_term_and_total() -> None:
    target = (torch.rand(2, 1, 24, 24) > 0.5).float()
    terms = refine_loss(torch.randn(2, 1, 24, 24, requires_grad=True), target, GRID, RefineLossConfig())
    assert set(terms) == {"bce", "lovasz", "total"}
    terms["total"].backward()
    with pytest.raises(ValueError):
        RefineLossConfig(band_radius=0)


def test_the_band_covers_the_same_pixels_of_the_photo_at_either_output_stride() -> None:
    # A wrong pixel 5 working pixels from the contour is in the band (6 working pixels) at both strides.
    cfg = RefineLossConfig(lovasz_weight=0.0, band_weight=8.0)
    for name, s in (("refine-t40g", 2), ("refine-t40gs", 1)):
        grid = get_refiner_config(name).grid()
        t = grid.out_tile
        target = torch.zeros(1, 1, t, t)
        target[..., :, t // 2:] = 1.0
        right = (target * 2 - 1) * 8
        near, far = right.clone(), right.clone()
        near[..., 10 // s, (20 - 5) // s] = 8.0
        far[..., 10 // s, (20 - 15) // s] = 8.0
        assert refine_loss(near, target, grid, cfg)["bce"] > 2 * refine_loss(far, target, grid, cfg)["bce"]


def test_hard_fraction_averages_the_loss_over_the_worst_tiles_only() -> None:
    target = torch.zeros(4, 1, 24, 24)
    target[..., :, 12:] = 1.0
    logits = ((target * 2 - 1) * 4).repeat(1, 1, 1, 1)
    logits[1, ..., 5:15, 5:10] = 4.0  # tile 1: a patch of background called person
    logits[3, ..., 5:20, 2:10] = 4.0  # tile 3: a larger one
    every = refine_loss(logits, target, GRID, RefineLossConfig())
    per_tile = [refine_loss(logits[i:i + 1], target[i:i + 1], GRID, RefineLossConfig())["total"] for i in range(4)]
    assert every["total"] == pytest.approx(float(sum(per_tile) / 4), rel=1e-5)
    half = refine_loss(logits, target, GRID, RefineLossConfig(hard_fraction=0.5))
    assert half["total"] == pytest.approx(float((per_tile[1] + per_tile[3]) / 2), rel=1e-5)
    assert half["bce"] > every["bce"] and set(half) == {"bce", "lovasz", "total"}
    # Only the kept tiles get a gradient.
    x = logits.clone().requires_grad_(True)
    refine_loss(x, target, GRID, RefineLossConfig(hard_fraction=0.5))["total"].backward()
    assert [bool(x.grad[i].abs().sum() > 0) for i in range(4)] == [False, True, False, True]
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(ValueError):
            RefineLossConfig(hard_fraction=bad)
