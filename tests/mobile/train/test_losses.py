"""The losses: boundary weighting really weights the band; Dice/BCE behave; distillation term."""
from __future__ import annotations

import pytest
import torch

from portrait_mobile.train.losses import LossConfig, boundary_band, boundary_weighted_bce, dice_loss, portrait_loss


def _square_mask(size: int = 64) -> torch.Tensor:
    m = torch.zeros(1, 1, size, size)
    m[..., 8:size - 8, 8:size - 8] = 1
    return m


def test_boundary_band_is_the_contour_ring() -> None:
    band = boundary_band(_square_mask(), radius=2)
    assert band[0, 0, 32, 32] == 0  # deep inside
    assert band[0, 0, 0, 0] == 0  # far outside
    # Edge at row 8: the ring spans rows 6..9 (2 outside, 2 inside).
    assert [int(band[0, 0, r, 32]) for r in range(4, 12)] == [0, 0, 1, 1, 1, 1, 0, 0]


def test_boundary_errors_cost_more_than_interior_errors() -> None:
    target = _square_mask()
    band = boundary_band(target, 2).bool()
    good = target * 20 - 10  # confident and right everywhere
    edge_err, inner_err = good.clone(), good.clone()
    n = int(band.sum())
    edge_err[band] = -good[band]  # wrong on the band
    interior = (~band) & (target > 0.5)
    idx = interior.flatten().nonzero()[:n, 0]  # the same number of wrong pixels inside
    inner_err.view(-1)[idx] = -good.view(-1)[idx]
    weighted_edge = boundary_weighted_bce(edge_err, target, 2, 4.0)
    weighted_inner = boundary_weighted_bce(inner_err, target, 2, 4.0)
    assert weighted_edge > 2 * weighted_inner
    # Without weighting the two cost the same.
    assert torch.isclose(boundary_weighted_bce(edge_err, target, 2, 0.0),
                         boundary_weighted_bce(inner_err, target, 2, 0.0), rtol=0.05)


def test_dice() -> None:
    t = _square_mask()
    assert dice_loss(t * 40 - 20, t).item() < 1e-3
    assert dice_loss(-t * 40 + 20, t).item() > 0.95


def test_portrait_loss_terms_and_weights() -> None:
    t = _square_mask()
    refined = torch.zeros(2, 1, 64, 64, requires_grad=True)
    coarse = torch.zeros(2, 1, 16, 16, requires_grad=True)
    mask = t.repeat(2, 1, 1, 1)
    out = portrait_loss(refined, coarse, mask, mask, torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]),
                        LossConfig())
    assert set(out) == {"coarse", "refined", "teacher", "total"}
    out["total"].backward()
    assert refined.grad.abs().sum() > 0 and coarse.grad.abs().sum() > 0
    # No teacher anywhere: the teacher term is exactly 0.
    out = portrait_loss(refined, coarse, mask, mask, torch.ones(2), torch.zeros(2), LossConfig())
    assert out["teacher"].item() == 0


def test_teacher_only_where_it_agrees_with_the_label() -> None:
    """A labelled pixel that the teacher calls otherwise gets no distillation weight; an unlabelled
    image gets the teacher everywhere."""
    from portrait_mobile.train.losses import teacher_pixel_weight

    label = _square_mask().repeat(2, 1, 1, 1)
    teacher = label.clone()
    teacher[:, :, :8] = 1 - teacher[:, :, :8]  # the teacher is wrong in the top rows
    w = teacher_pixel_weight(label, teacher, torch.tensor([1.0, 0.0]), torch.ones(2), "agree")
    assert w[0, :, :8].max() == 0 and w[0, :, 8:].min() == 1
    assert w[1].min() == 1  # no label: trust the teacher
    assert teacher_pixel_weight(label, teacher, torch.ones(2), torch.ones(2), "none").max() == 0
    assert teacher_pixel_weight(label, teacher, torch.ones(2), torch.ones(2), "all").min() == 1
    # And in the loss: a wrong teacher on a labelled image leaves the loss as without a teacher.
    logits = torch.zeros(2, 1, 64, 64)
    coarse = torch.zeros(2, 1, 16, 16)
    only_wrong = (1 - label)
    out = portrait_loss(logits, coarse, label, only_wrong, torch.ones(2), torch.ones(2), LossConfig())
    assert out["teacher"].item() == 0


def test_lovasz_hinge_on_hand_made_masks() -> None:
    from portrait_mobile.train.losses import lovasz_hinge

    t = _square_mask()
    right, wrong, unsure = t * 20 - 10, -(t * 20 - 10), torch.zeros_like(t)
    assert lovasz_hinge(right, t).item() == 0  # every pixel beyond the margin on its side
    assert lovasz_hinge(wrong, t).item() > lovasz_hinge(unsure, t).item() > 0.5
    # Half the person missed costs more than a few background pixels called person.
    half = right.clone()
    half[..., :, :32] = -10
    speck = right.clone()
    speck[..., :2, :2] = 10
    assert lovasz_hinge(half, t).item() > lovasz_hinge(speck, t).item()


def test_edge_loss_wants_sharp_edges_in_place() -> None:
    from portrait_mobile.train.losses import edge_loss

    t = _square_mask()
    sharp = t * 40 - 20
    blurred = torch.nn.functional.avg_pool2d(sharp, 9, stride=1, padding=4)
    shifted = torch.roll(sharp, 3, dims=-1)
    assert edge_loss(sharp, t, 3).item() < 1e-6
    assert edge_loss(blurred, t, 3).item() > 0.05
    assert edge_loss(shifted, t, 3).item() > edge_loss(blurred, t, 3).item()


def test_edge_terms_enter_the_total_only_when_weighted() -> None:
    t = _square_mask().repeat(2, 1, 1, 1)
    refined, coarse = torch.zeros(2, 1, 64, 64), torch.zeros(2, 1, 16, 16)
    base = portrait_loss(refined, coarse, t, t, torch.ones(2), torch.zeros(2), LossConfig())
    both = portrait_loss(refined, coarse, t, t, torch.ones(2), torch.zeros(2),
                         LossConfig(lovasz_weight=0.5, edge_weight=1.0))
    assert "lovasz" not in base and "edge" not in base
    expected = base["total"] + 0.5 * both["lovasz"] + both["edge"]
    assert torch.allclose(both["total"], expected)


def test_separable_band_equals_the_square_pools() -> None:
    """The band from two 1-D passes is the band the square 11x11 pools gave, on hand-made and random masks."""
    import torch.nn.functional as F

    from portrait_mobile.train.losses import dilate

    def square_band(target: torch.Tensor, radius: int) -> torch.Tensor:
        binary = (target > 0.5).float()
        k = 2 * radius + 1
        return F.max_pool2d(binary, k, stride=1, padding=radius) + F.max_pool2d(-binary, k, stride=1, padding=radius)

    torch.manual_seed(0)
    disc = torch.zeros(1, 1, 64, 64)
    yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    disc[0, 0] = (((yy - 30) ** 2 + (xx - 20) ** 2) < 300).float()
    corner = torch.zeros(1, 1, 64, 64)
    corner[..., :10, :7] = 1  # touching the frame: the padding must not make a band there
    noisy = (torch.rand(3, 1, 64, 64) > 0.7).float()
    soft = torch.rand(2, 1, 64, 64)  # soft targets are binarised at 0.5 first
    for m in (_square_mask(), disc, corner, noisy, soft):
        for r in (1, 2, 3, 4, 5, 7, 8):
            assert torch.equal(boundary_band(m, r), square_band(m, r))
            assert torch.equal(dilate(m, r), F.max_pool2d(m, 2 * r + 1, stride=1, padding=r))


def test_loss_with_the_band_given_equals_the_band_computed() -> None:
    from portrait_mobile.train.losses import edge_loss

    t = _square_mask().repeat(2, 1, 1, 1)
    logits = torch.randn(2, 1, 64, 64)
    band = boundary_band(t, 3)
    assert torch.equal(boundary_weighted_bce(logits, t, 3, 4.0), boundary_weighted_bce(logits, t, 3, 4.0, band))
    assert torch.equal(edge_loss(logits, t, 3), edge_loss(logits, t, 3, band))


def _street_photo() -> tuple[torch.Tensor, torch.Tensor]:
    """A labelled subject at the left, a passer-by at the right that only the teacher marks."""
    label = torch.zeros(1, 1, 64, 64)
    label[..., 10:60, 8:24] = 1
    teacher = label.clone()
    teacher[..., 20:50, 48:56] = 0.9  # the passer-by, far from the subject
    teacher[..., 10:60, 24:27] = 0.8  # a teacher halo hugging the subject's edge
    return label, teacher


def test_partial_labels_take_passers_by_from_the_teacher() -> None:
    from portrait_mobile.train.losses import complete_partial_labels

    label, teacher = _street_photo()
    done = complete_partial_labels(label, teacher, torch.ones(1), torch.ones(1), margin=4)
    assert done[0, 0, 30, 52] == pytest.approx(0.9)  # the passer-by is a person now
    assert done[0, 0, 30, 25] == 0  # next to the subject the label's edge stands
    assert torch.equal(done[..., :, :40], label[..., :, :40])
    # A fully labelled source, or a photo whose background was swapped (the passer-by is gone): no change.
    assert torch.equal(complete_partial_labels(label, teacher, torch.zeros(1), torch.ones(1), 4), label)
    assert torch.equal(complete_partial_labels(label, teacher, torch.ones(1), torch.zeros(1), 4), label)
    assert torch.equal(complete_partial_labels(label, teacher, None, torch.ones(1), 4), label)


def test_partial_label_loss_does_not_teach_erasing_people() -> None:
    """A prediction that marks the passer-by costs less than one that erases them, on a partial label;
    on a full label (where the background is really background) it is the other way round."""
    label, teacher = _street_photo()
    coarse = torch.zeros(1, 1, 16, 16)
    keeps = (torch.maximum(label, (teacher > 0.85).float()) * 20 - 10)
    erases = label * 20 - 10
    cfg = LossConfig(partial_label_margin=4)

    def total(pred: torch.Tensor, partial: float) -> float:
        return portrait_loss(pred, coarse, label, teacher, torch.ones(1), torch.ones(1), cfg,
                             torch.tensor([partial]))["total"].item()

    assert total(keeps, 1.0) < total(erases, 1.0)
    assert total(keeps, 0.0) > total(erases, 0.0)


def test_loss_radii_follow_the_training_size() -> None:
    cfg = LossConfig(boundary_radius=5, partial_label_margin=8)
    small = cfg.at_size(160, 256)
    assert (small.boundary_radius, small.partial_label_margin) == (3, 5)
    assert cfg.at_size(256, 256) == cfg
    assert cfg.at_size(32, 256).boundary_radius == 1
