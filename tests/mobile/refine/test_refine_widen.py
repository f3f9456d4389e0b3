"""Widening a trained refiner (refine/widen.py): the wider network computes what the narrow one did,
and its new channels learn."""
from __future__ import annotations

import pytest
import torch

from portrait_mobile.refine.model import build_refiner
from portrait_mobile.refine.widen import widen_into


def trained_like(name: str) -> torch.nn.Module:
    """A refiner whose every weight and BN statistic is non-trivial (its head is zero at init)."""
    torch.manual_seed(0)
    m = build_refiner(name)
    with torch.no_grad():
        for t in m.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.rand_like(t) * 0.5 + 0.25)
    return m.eval()


def test_the_widened_refiner_computes_what_the_narrow_one_did() -> None:
    narrow = trained_like("refine-t40g")
    wide = build_refiner("refine-t40g-w48")
    widen_into(wide, narrow.state_dict())
    wide.eval()
    x = torch.rand(3, 4, 40, 40)
    with torch.no_grad():
        torch.testing.assert_close(wide(x), narrow(x), rtol=0, atol=1e-6)
    # The new channels are there, differ from zero, and get gradients through the zeroed fan-out.
    assert wide.stem.conv.weight.shape[0] == 24 and wide.stem.conv.weight[16:].abs().sum() > 0
    assert (wide.head.weight[:, 16:] == 0).all()
    wide.train()
    wide(x).mean().backward()
    assert wide.head.weight.grad[:, 16:].abs().sum() > 0


def test_a_wider_or_other_refiner_is_refused() -> None:
    wide = build_refiner("refine-t40g-w48").state_dict()
    with pytest.raises(ValueError, match="does not fit"):
        widen_into(build_refiner("refine-t40g"), wide)
    other = dict(wide)
    other.pop(next(iter(other)))
    with pytest.raises(ValueError, match="another layout: missing"):
        widen_into(build_refiner("refine-t40g-w48"), other)


def test_a_half_resolution_head_starts_a_sub_pixel_one_as_its_nearest_upsampling() -> None:
    from portrait_mobile.refine.widen import subpixel_head

    half = trained_like("refine-t40g")
    full = build_refiner("refine-t40gs")
    widen_into(full, subpixel_head(half.state_dict(), full))
    full.eval()
    x = torch.rand(3, 4, 40, 40)
    g = half.config.base_gain
    with torch.no_grad():
        base_half = g * (2 * torch.nn.functional.avg_pool2d(x[:, 3:4], 2) - 1)
        correction = half.forward_logits(x) - base_half
        got = full.forward_logits(x) - g * (2 * x[:, 3:4] - 1)
    torch.testing.assert_close(got, torch.nn.functional.interpolate(correction, scale_factor=2, mode="nearest"),
                               rtol=1e-5, atol=1e-4)  # trained_like makes large logits
    # Other layouts pass through untouched, for widen_into to judge.
    assert subpixel_head(half.state_dict(), build_refiner("refine-t40g"))["head.weight"].shape == (1, 16, 1, 1)
