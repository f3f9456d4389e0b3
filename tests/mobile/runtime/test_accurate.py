"""Quality "accurate" through the API, video and the CLI, with the packaged int8 refiner: the learned
refiner runs only on the contour's tiles, so away from the contour the mask is the fast level's."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from portrait_mobile.errors import ModelLoadError
from portrait_mobile.paths import WEIGHTS_DIR
from portrait_mobile.runtime import Segmenter, VideoSegmenter
from portrait_mobile.runtime.cli import main as cli_main
from portrait_mobile.runtime.options import SegmenterOptions
from portrait_mobile.runtime.refiner import TileModel, packaged_refiner
from support.runtime_models import iou, red_person

pytest.importorskip("ai_edge_litert")


def test_a_refiner_is_packaged_and_its_contract_describes_it() -> None:
    tm = TileModel.from_file(packaged_refiner(WEIGHTS_DIR))
    assert (tm.grid.core, tm.grid.margin, tm.grid.out_stride, tm.grid.work_long_side) == (40, 0, 1, 512)
    c = tm.contract
    assert (c.role, c.precision, c.input_dtype, c.extra_channels) == ("edge-refiner", "int8", "int8", ("guided_probability",))
    assert not list(WEIGHTS_DIR.glob("*.refiner.json"))  # the stand-in description is retired


def test_a_refiner_is_not_a_segmenter_nor_the_reverse(tiny_model: Path) -> None:
    with pytest.raises(ModelLoadError, match="says edge-refiner .*not a segmentation model"):
        Segmenter.from_file(packaged_refiner(WEIGHTS_DIR))
    with pytest.raises(ModelLoadError, match="says segmenter .*not edge-refiner"):
        TileModel.from_file(tiny_model)


def test_packaged_refiner_lookup_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="none is packaged"):
        packaged_refiner(tmp_path)


def test_accurate_changes_only_the_contour(tiny_model: Path) -> None:
    img, gt = red_person(300, 240)
    fast = Segmenter.from_file(tiny_model).segment(img)
    acc = Segmenter.from_file(tiny_model, SegmenterOptions(quality="accurate"))
    out = acc.segment(img)
    assert out.shape == fast.shape and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    assert iou(out >= 0.5, gt) > 0.9
    # Far from the contour (more than a tile from it) the fast mask is kept as it is (to uint8 rounding).
    edge = cv2.Canny((fast >= 0.5).astype(np.uint8) * 255, 1, 1) > 0
    far = cv2.dilate(edge.astype(np.uint8), np.ones((2 * 60 + 1, 2 * 60 + 1), np.uint8)) == 0
    assert far.any() and np.abs(out[far] - fast[far]).max() < 0.01
    # refine=True still asks for the guided filter.
    np.testing.assert_array_equal(acc.segment(img, refine=True), Segmenter.from_file(tiny_model).segment(img, refine=True))


def test_video_keeps_smoothing_at_the_accurate_level(tiny_model: Path) -> None:
    img, _ = red_person(200, 160)
    acc = Segmenter.from_file(tiny_model, SegmenterOptions(quality="accurate"))
    video = VideoSegmenter(acc)
    a = video.segment_for_video(img, 0.0)
    b = video.segment_for_video(img, 33.0)
    assert a.shape == b.shape == img.shape[:2]
    with pytest.raises(ModelLoadError, match="refiner"):
        VideoSegmenter(Segmenter.from_file(tiny_model), SegmenterOptions(quality="accurate"))


def test_cli_quality_accurate(tiny_model: Path, tmp_path: Path) -> None:
    img, _ = red_person(200, 160)
    src = tmp_path / "p.png"
    cv2.imwrite(str(src), img[..., ::-1])
    assert cli_main([str(src), "--model", str(tiny_model), "--effect", "mask", "--out", str(tmp_path / "o"),
                     "-q", "--quality", "accurate"]) == 0
    got = cv2.imread(str(tmp_path / "o" / "p_mask.png"), cv2.IMREAD_GRAYSCALE)
    want = Segmenter.from_file(tiny_model, SegmenterOptions(quality="accurate")).segment(img)
    np.testing.assert_array_equal(got, (want * 255 + 0.5).astype(np.uint8))


def test_a_bad_refiner_is_said_once_and_a_refiner_checkpoint_by_its_kind(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The default model fell back to its .pt after a refiner error and joined both errors: the same
    message twice; a refiner .pt was called 'not a portrait-mobile checkpoint'."""
    pytest.importorskip("torch")
    img, _ = red_person(60, 50)
    src = tmp_path / "p.png"
    cv2.imwrite(str(src), img[..., ::-1])
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\x00" * 64)
    for refiner, says in [(junk, "junk.tflite"), (WEIGHTS_DIR / "refine-t40gs.pt", "is an edge-refiner checkpoint")]:
        rc = cli_main([str(src), "--effect", "mask", "--out", str(tmp_path / "o"), "-q", "--quality", "accurate",
                       "--refiner", str(refiner)])
        err = capsys.readouterr().err
        assert rc != 0 and says in err and err.count(str(refiner)) == 1, err
        assert not (tmp_path / "o").exists()
