"""design.md's metrics on tiny masks whose answers are worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from portrait_mobile.metrics import (MetricAccumulator, binarize, boundary_iou, boundary_width, confusion, inner_boundary,
                                     iou, miou_from_confusion)


def square(h: int, w: int, rows: slice, cols: slice) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[rows, cols] = 255
    return m


# 4x4: gt the top-left 2x2, prediction the top row. TP 2, FP 2, FN 2, TN 10.
GT4 = square(4, 4, slice(0, 2), slice(0, 2))
PRED4 = square(4, 4, slice(0, 1), slice(0, 4))


def test_binarize_threshold_and_dtypes() -> None:
    prob = np.array([[0.49, 0.5], [0.0, 1.0]], np.float32)
    assert binarize(prob).tolist() == [[False, True], [False, True]]  # 0.5 is person, as in runtime.binary_mask
    assert binarize(np.array([[0, 255]], np.uint8)).tolist() == [[False, True]]
    assert binarize(np.array([[0, 1]], np.uint8)).tolist() == [[False, True]]
    assert binarize(prob[..., None]).shape == (2, 2)
    with pytest.raises(ValueError):
        binarize(np.zeros((2, 2, 3), np.float32))


def test_iou_and_confusion_by_hand() -> None:
    assert iou(PRED4, GT4) == pytest.approx(2 / 6)
    assert confusion(PRED4, GT4).tolist() == [[10, 2], [2, 2]]
    mean, person, background = miou_from_confusion(confusion(PRED4, GT4))
    assert person == pytest.approx(2 / 6)
    assert background == pytest.approx(10 / 14)
    assert mean == pytest.approx((2 / 6 + 10 / 14) / 2)


def test_empty_masks() -> None:
    empty = np.zeros((4, 4), np.uint8)
    assert iou(empty, empty) == 1.0  # both empty: exactly right, not NaN
    assert iou(PRED4, empty) == 0.0
    assert iou(empty, GT4) == 0.0
    assert boundary_iou(empty, empty) == 1.0
    assert boundary_iou(PRED4, empty) == 0.0


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="resize"):
        iou(np.zeros((4, 5), np.float32), GT4)


def test_boundary_width() -> None:
    assert boundary_width(600, 800) == 20  # 2% of a 1000 px diagonal
    assert boundary_width(4, 4) == 1  # rounds to 0, clamped to 1
    assert boundary_width(100, 100) == 3


def test_inner_band_of_a_square_is_its_ring() -> None:
    m = square(9, 9, slice(2, 7), slice(2, 7))  # 5x5 square inside the image
    band = inner_boundary(m, 1)
    assert band.sum() == 25 - 9
    assert not band[4, 4]  # the 3x3 interior is not boundary
    assert not band[0, 0]  # background is never in the inner band


def test_image_border_counts_as_contour() -> None:
    # A mask cut by the image border (a portrait's shoulders) has a band along that border.
    band = inner_boundary(np.full((4, 4), 255, np.uint8), 1)
    assert band.sum() == 16 - 4


def test_band_is_a_disc_not_a_square() -> None:
    # One background pixel inside a full mask: the band around it is cv2's 5x5 ellipse (17 pixels, the
    # hole itself excluded), not the 5x5 square (24) of chessboard distance; see inner_boundary's docstring.
    m = np.full((11, 11), 255, np.uint8)
    m[5, 5] = 0
    band = inner_boundary(m, 2)
    assert band[3:8, 3:8].sum() == 16


def test_boundary_iou_of_a_shifted_square() -> None:
    gt = square(9, 9, slice(2, 7), slice(2, 7))
    pred = square(9, 9, slice(2, 7), slice(3, 8))  # shifted one pixel right
    # d = 1. Rings of 16 pixels each share their top and bottom rows' 4 common columns: 8 / (16 + 16 - 8).
    assert boundary_iou(pred, gt) == pytest.approx(8 / 24)
    assert iou(pred, gt) == pytest.approx(20 / 30)
    assert boundary_iou(gt, gt) == 1.0


def test_accumulator_sums_confusion_over_the_set() -> None:
    acc = MetricAccumulator()
    assert acc.update(PRED4.astype(np.float32) / 255, GT4)[0] == pytest.approx(2 / 6)
    acc.update(np.zeros((4, 4), np.float32), np.zeros((4, 4), np.uint8))  # both empty: IoU 1, 16 TN
    r = acc.result()
    assert r.n_images == 2
    assert r.fg_iou == pytest.approx(100 * (2 / 6 + 1) / 2)  # per-image mean
    # Set-level confusion TP 2, FP 2, FN 2, TN 26: the empty image only adds background.
    assert r.person_iou == pytest.approx(100 * 2 / 6)
    assert r.background_iou == pytest.approx(100 * 26 / 30)
    assert r.miou == pytest.approx(100 * (2 / 6 + 26 / 30) / 2)
    assert r.boundary_iou == pytest.approx(100 * (boundary_iou(PRED4, GT4) + 1) / 2)


def test_accumulator_without_images() -> None:
    with pytest.raises(ValueError):
        MetricAccumulator().result()
