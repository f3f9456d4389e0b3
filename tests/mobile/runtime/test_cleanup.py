"""The runtime's cleanup of a mask (postprocess.clean_regions, SegmenterOptions.cleanup): small detached
person regions and small enclosed holes, on hand-made masks, through the Segmenter, video and the CLI."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from portrait_mobile.runtime import (DEFAULT_CLEANUP, NO_CLEANUP, RegionCleanup, Segmenter, SegmenterOptions,
                                     VideoSegmenter, clean_regions)
from portrait_mobile.runtime.cli import main as cli_main
from support.runtime_models import TINY_H, TINY_W


def _person(h: int = 100, w: int = 100) -> np.ndarray:
    """A 60x40 person with a 1-px soft edge of 0.3 on every side."""
    prob = np.zeros((h, w), np.float32)
    prob[19:81, 19:61] = 0.3
    prob[20:80, 20:60] = 0.9
    return prob


def test_a_clean_mask_is_returned_as_it_is_and_as_a_copy() -> None:
    prob = _person()
    out = clean_regions(prob)
    np.testing.assert_array_equal(out, prob)
    assert out is not prob
    for empty in (np.zeros((50, 40), np.float32), np.ones((50, 40), np.float32)):
        np.testing.assert_array_equal(clean_regions(empty), empty)


def test_a_small_detached_region_goes_with_its_soft_edge() -> None:
    prob = _person()
    prob[4:10, 84:90] = 0.3  # 36 px at 0.8 after the next line: 1.5% of the person
    prob[5:9, 85:89] = 0.8
    out = clean_regions(prob)
    assert out[4:10, 84:90].max() == 0  # the region and its edge
    np.testing.assert_array_equal(out[:, :70], prob[:, :70])  # the person and its edge untouched
    # min_region 0 keeps every region; a region above the fraction is kept too (a second person).
    np.testing.assert_array_equal(clean_regions(prob, RegionCleanup(min_region=0.0)), prob)
    np.testing.assert_array_equal(clean_regions(prob, RegionCleanup(min_region=0.005)), prob)


def test_a_second_person_a_third_the_size_is_kept() -> None:
    prob = _person()
    prob[40:80, 70:90] = 0.9  # 800 px against 2,400
    np.testing.assert_array_equal(clean_regions(prob), prob)


def test_a_small_enclosed_hole_is_filled_and_real_gaps_are_not() -> None:
    prob = _person()
    prob[50, 40] = 0.1  # 1 px against 2,400 (limit 4.8 px)
    prob[49, 40] = prob[51, 40] = 0.6  # its soft ring
    out = clean_regions(prob)
    assert out[50, 40] == 1.0 and out[49, 40] == 1.0 and out[51, 40] == 1.0
    np.testing.assert_array_equal(out[:45], prob[:45])  # the rest as it was
    assert out[20, 40] == pytest.approx(0.9) and out[19, 40] == pytest.approx(0.3)
    # A gap between arm and body (larger than the limit) and a notch open to the frame's side stay.
    gap = _person()
    gap[40:60, 35:45] = 0.0
    np.testing.assert_array_equal(clean_regions(gap), gap)
    notch = np.zeros((60, 60), np.float32)
    notch[:, :40] = 0.9
    notch[59, 20] = 0.0  # touches the bottom side: background that leaves the frame, not a hole
    np.testing.assert_array_equal(clean_regions(notch), notch)
    np.testing.assert_array_equal(clean_regions(prob, RegionCleanup(max_hole=0.0)), prob)


def test_a_diagonal_crack_does_not_make_a_hole_part_of_the_outside() -> None:
    # Background pixels in a diagonal line from inside the person to its edge: each touches the next by a
    # corner only, which the 8-connected person holds, so each is a hole of its own (and filled).
    prob = _person()
    for k in range(21):
        prob[50 - k, 40 - k] = 0.0  # (30, 20) touches the edge at (30, 19) by a side: outside
    out = clean_regions(prob, RegionCleanup(min_region=0.0, max_hole=0.002))
    assert out[50, 40] == 1.0 and out[40, 30] == 1.0 and out[31, 21] == 1.0
    assert out[30, 20] == 0.0


@pytest.mark.parametrize("kw", [{"min_region": -0.1}, {"min_region": 1.5}, {"max_hole": float("nan")},
                                {"max_hole": True}, {"min_region": "0.1"}])
def test_bad_fractions_are_refused(kw: dict) -> None:
    with pytest.raises(ValueError, match="must be a fraction in \\[0, 1\\]"):
        RegionCleanup(**kw)
    with pytest.raises(ValueError, match="cleanup must be a RegionCleanup"):
        SegmenterOptions(cleanup=0.1)  # type: ignore[arg-type]


def _scene() -> tuple[np.ndarray, tuple[slice, slice], tuple[int, int]]:
    """At the tiny model's size: a red person, a red speck far from it, a one-pixel hole inside it."""
    img = np.zeros((TINY_H, TINY_W, 3), np.uint8)
    img[10:58, 6:34, 0] = 255
    img[2:4, 42:44, 0] = 255
    img[30, 20] = 0
    return img, (slice(2, 4), slice(42, 44)), (30, 20)


def test_the_segmenter_cleans_by_default(tiny_model: Path) -> None:
    img, speck, hole = _scene()
    seg = Segmenter.from_file(tiny_model)
    assert seg.options.cleanup == DEFAULT_CLEANUP
    out = seg.segment(img)
    assert out[speck].max() < 0.5 and out[hole] > 0.5
    raw = Segmenter.from_file(tiny_model, SegmenterOptions(cleanup=NO_CLEANUP)).segment(img)
    assert raw[speck].min() > 0.5 and raw[hole] < 0.5
    np.testing.assert_array_equal(seg.finish(img, seg.predict_lowres(img), cleanup=NO_CLEANUP), raw)
    np.testing.assert_array_equal(out, clean_regions(seg.predict_lowres(img)))  # same size: no resize


def test_the_accurate_level_leaves_holes_to_its_refiner() -> None:
    assert DEFAULT_CLEANUP.for_level("fast") == DEFAULT_CLEANUP == DEFAULT_CLEANUP.for_level("balanced")
    assert DEFAULT_CLEANUP.for_level("accurate") == RegionCleanup(min_region=DEFAULT_CLEANUP.min_region, max_hole=0.0)


def test_the_accurate_level_drops_specks_and_keeps_holes(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ai_edge_litert")  # the packaged refiner is a .tflite
    img, speck, hole = _scene()
    seg = Segmenter.from_file(tiny_model, SegmenterOptions(quality="accurate"))
    seen = []
    monkeypatch.setattr(seg.refiner, "refine", lambda image, prob: seen.append(prob.copy()) or prob)
    seg.segment(img)
    assert seen[0][speck].max() < 0.5 and seen[0][hole] < 0.5  # the refiner gets the hole to judge


def test_video_follows_its_options_cleanup(tiny_model: Path) -> None:
    img, speck, _ = _scene()
    seg = Segmenter.from_file(tiny_model)
    assert VideoSegmenter(seg, smoothing=0.0).process(img)[speck].max() < 0.5
    raw = VideoSegmenter(seg, SegmenterOptions(smoothing_ms=0.0, cleanup=NO_CLEANUP)).process(img)
    assert raw[speck].min() > 0.5


def test_cli_cleans_by_default_and_its_flags_turn_it_off(tiny_model: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    img, speck, hole = _scene()
    src = tmp_path / "s.png"
    cv2.imwrite(str(src), img[..., ::-1])
    for out, flags in (("a", []), ("b", ["--min-region", "0", "--max-hole", "0"])):
        assert cli_main([str(src), "--model", str(tiny_model), "--effect", "mask", "--out", str(tmp_path / out),
                         "-q", *flags]) == 0
    a, b = (cv2.imread(str(tmp_path / d / "s_mask.png"), cv2.IMREAD_GRAYSCALE) for d in "ab")
    assert a[speck].max() < 128 and a[hole] >= 128
    assert b[speck].min() >= 128 and b[hole] < 128
    with pytest.raises(SystemExit) as e:
        cli_main([str(src), "--model", str(tiny_model), "--out", str(tmp_path / "c"), "--min-region", "2"])
    assert e.value.code == 2 and "--min-region: expected a number in [0, 1], got '2'" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
