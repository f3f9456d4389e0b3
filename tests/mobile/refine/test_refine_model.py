"""The tile refiner: shapes, an untrained refiner keeps the coarse contour, BN folding is exact."""
from __future__ import annotations

import copy

import pytest
import torch

from portrait_mobile.refine.config import DEFAULT_REFINER, RefinerConfig, get_refiner_config
from portrait_mobile.refine.model import build_refiner


def test_shapes_and_output_stride() -> None:
    m = build_refiner("refine-t40g").eval()  # a half-resolution refiner (the shipped one is sub-pixel)
    cfg = m.config
    assert (cfg.tile, cfg.out_tile) == (40, 20)
    y = m(torch.rand(3, 4, cfg.tile, cfg.tile))
    assert y.shape == (3, 1, 20, 20) and (0 <= y).all() and (y <= 1).all()
    assert build_refiner("refine-t48")(torch.rand(1, 4, 48, 48)).shape == (1, 1, 24, 24)


def test_untrained_refiner_keeps_the_coarse_contour() -> None:
    # The head starts at zero: the output is sigmoid(gain * (2p - 1)) of the coarse probability
    # averaged over each 2x2 block, whatever the image.
    m = build_refiner("refine-t40g").eval()
    x = torch.rand(2, 4, 40, 40)
    p = torch.nn.functional.avg_pool2d(x[:, 3:4], 2)
    expected = torch.sigmoid(m.config.base_gain * (2 * p - 1))
    torch.testing.assert_close(m(x), expected)
    assert ((m(x) >= 0.5) == (p >= 0.5)).all()


def test_fuse_for_export_keeps_the_output() -> None:
    m = build_refiner()
    with torch.no_grad():
        for prm in m.parameters():
            prm.add_(0.05 * torch.randn_like(prm))
    m.train()
    m(torch.rand(8, 4, 40, 40))  # BN statistics that are not the identity
    m.eval()
    x = torch.rand(2, 4, 40, 40)
    fused = copy.deepcopy(m).fuse_for_export()
    torch.testing.assert_close(fused(x), m(x), atol=1e-5, rtol=1e-4)


def test_configs_refuse_bad_geometry() -> None:
    assert get_refiner_config(DEFAULT_REFINER).grid().tile == 40
    with pytest.raises(ValueError):
        RefinerConfig("bad", core=30)
    with pytest.raises(ValueError):
        RefinerConfig("bad", margin=3)
    with pytest.raises(ValueError):
        get_refiner_config("nope")
    with pytest.raises(ValueError):
        RefinerConfig.from_dict({"name": "x", "colour": 1})


def test_the_sub_pixel_refiner_writes_at_the_working_resolution() -> None:
    m = build_refiner("refine-t40gs").eval()
    cfg = m.config
    assert (cfg.tile, cfg.out_tile, cfg.grid().out_stride) == (40, 40, 1)
    # Untrained, its output is the coarse logit of each pixel itself, not of a 2x2 block.
    x = torch.rand(2, 4, 40, 40)
    torch.testing.assert_close(m(x), torch.sigmoid(cfg.base_gain * (2 * x[:, 3:4] - 1)))
    # Head channel i*2+j writes pixel (i, j) of every 2x2 block, and only it.
    with torch.no_grad():
        m.head.bias[1] = 5.0
    moved = (m.forward_logits(x) - cfg.base_gain * (2 * x[:, 3:4] - 1)).abs() > 1e-4
    expected = torch.zeros(40, 40, dtype=torch.bool)
    expected[0::2, 1::2] = True
    assert (moved == expected).all()


def test_output_stride_must_be_one_or_the_features() -> None:
    with pytest.raises(ValueError, match="output_stride"):
        RefinerConfig("bad", output_stride=4)
