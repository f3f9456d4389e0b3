"""portrait_bench.photo_cost: a photo at quality accurate = the coarse model + the refiner per contour tile."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from portrait_bench.model_specs import ModelSpec
from portrait_bench.photo_cost import (FALLBACK_TILES_512, PhotoCost, TileCounts, count_tiles, frame_prob, pairs,
                                       photo_costs)
from portrait_mobile.contract import ModelContract, refiner_fields
from portrait_mobile.contract_io import read_contract
from portrait_mobile.tile_grid import TileGrid
from support.runtime_models import red_person

GRID = TileGrid(40, 0, 2, 512)


def _spec(path: Path, label: str, contract: ModelContract | None) -> ModelSpec:
    return ModelSpec(path=path, label=label, precision="int8", family=label, contract=contract)


def _refiner_spec(tmp_path: Path) -> ModelSpec:
    return _spec(tmp_path / "r.tflite", "r", ModelContract(model_name="r", version="1", **refiner_fields(GRID)))


def test_a_photos_cost_is_coarse_plus_tiles_times_the_tile() -> None:
    c = TileCounts(512, 31.5, 50, 264, "test")
    p = PhotoCost("coarse", "r", c, 28_400_000, 363_000, 40_180_000)
    assert p.mean_instructions == pytest.approx(28_400_000 + 31.5 * 363_000)
    assert p.max_instructions == 28_400_000 + 50 * 363_000
    assert p.ratio(p.mean_instructions) == pytest.approx(39_834_500 / 40_180_000)
    assert p.to_dict()["ratio_to_reference_max"] == pytest.approx(46_550_000 / 40_180_000)
    assert photo_costs(_spec(Path("c"), "c", None), _spec(Path("r"), "r", None), [c], {"c": 10, "r": 2}, None)[0] \
        .mean_instructions == pytest.approx(10 + 31.5 * 2)


def test_pairs_take_the_first_segmenter_as_the_coarse_model(tiny_model: Path, tmp_path: Path) -> None:
    seg = _spec(tiny_model, "tiny", read_contract(tiny_model))
    ref = _refiner_spec(tmp_path)
    assert pairs([ref, seg]) == [(seg, ref)]
    assert pairs([ref]) == [] and pairs([seg]) == []


def test_tiles_are_counted_on_the_coarse_contour_at_each_frame(tiny_model: Path, tmp_path: Path) -> None:
    photos = []
    for i, (h, w) in enumerate([(400, 300), (300, 400)]):
        img, _ = red_person(h, w, seed=i)
        photos.append(tmp_path / f"{i}.png")
        cv2.imwrite(str(photos[-1]), img[..., ::-1])
    seg = _spec(tiny_model, "tiny", read_contract(tiny_model))
    at512, at1080 = count_tiles(seg, GRID, photos, (512, 1920))
    assert (at512.long_side, at512.photos, at1080.long_side) == (512, 2, 1920)
    # The contour's tiles grow with the frame: a 400-pixel photo stays 400 at the working frame (the
    # runtime never enlarges) and is 1920 as a 1080p frame.
    assert 4 <= at512.mean <= at512.max and 3 * at512.mean < at1080.mean
    p, img = np.full((10, 20), 0.5, np.float32), np.zeros((300, 400, 3), np.uint8)
    assert frame_prob(img, p, 1920, "coarse_probability").shape == (1440, 1920)
    assert frame_prob(img, p, 512, "guided_probability", enlarge=False).shape == (300, 400)


def test_without_photos_a_stated_count_stands_in(tiny_model: Path) -> None:
    seg = _spec(tiny_model, "tiny", read_contract(tiny_model))
    (c,) = count_tiles(seg, GRID, [], (512,))
    assert (c.mean, c.photos) == (FALLBACK_TILES_512, 0) and "stated" in c.source
