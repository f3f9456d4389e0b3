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
