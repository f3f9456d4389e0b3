"""What quality "accurate" costs on a whole photo: the coarse model once, plus the edge refiner once for
each tile its contour crosses, counted on the ARM profiles at the refiner's working frame and at 1080p.

A refiner's instruction count is one tile's (one invoke); how many tiles a photo needs depends on the
photo. The tile counts come from real photos: the PFCN test images (../shared/datasets), each run
through the coarse model being counted (on the host: LiteRT's x86 outputs are the ARM ones, checked by
the profiles' parity), its probability brought to the frame and cut into the refiner's grid
(portrait_mobile.runtime.band, as the runtime does). Two frames: the refiner's own (its contract's
`tiles.work_long_side`, 512), and 1080p (the photo as a 1920-pixel-long camera frame, refined at that
resolution with the same tiles). Without the datasets a stated count stands in (FALLBACK_TILES).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from portrait_mobile.formats import EDGE_REFINER, SEGMENTER
from portrait_mobile.tile_grid import TileGrid
from portrait_bench.model_specs import ModelSpec

FRAME_1080P = 1920  # long side of a 1080p frame
# Without photos: the mean tile count of the pfcn/train carve at 512 (docs/refine.md), scaled with the
# frame's long side (a contour's length in pixels grows with it).
FALLBACK_TILES_512 = 32


@dataclass(frozen=True)
class TileCounts:
    """Tiles the coarse contour crosses on photos at one frame size."""

    long_side: int
    mean: float
    max: int
    photos: int
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"long_side": self.long_side, "mean": self.mean, "max": self.max, "photos": self.photos,
                "source": self.source}


@dataclass(frozen=True)
class PhotoCost:
    """One photo at quality accurate on one ARM core: coarse + tiles x the refiner's count."""

    coarse: str
    refiner: str
    tiles: TileCounts
    coarse_instructions: int
    tile_instructions: int
    reference_instructions: int | None

    @property
    def mean_instructions(self) -> float:
        return self.coarse_instructions + self.tiles.mean * self.tile_instructions

    @property
    def max_instructions(self) -> float:
        return self.coarse_instructions + self.tiles.max * self.tile_instructions

    def ratio(self, instructions: float) -> float | None:
        return instructions / self.reference_instructions if self.reference_instructions else None

    def to_dict(self) -> dict[str, Any]:
        return {"coarse": self.coarse, "refiner": self.refiner, "tiles": self.tiles.to_dict(),
                "coarse_instructions": self.coarse_instructions, "tile_instructions": self.tile_instructions,
                "mean_instructions": self.mean_instructions, "max_instructions": self.max_instructions,
                "ratio_to_reference_mean": self.ratio(self.mean_instructions),
                "ratio_to_reference_max": self.ratio(self.max_instructions)}


def pairs(specs: list[ModelSpec]) -> list[tuple[ModelSpec, ModelSpec]]:
    """(coarse model, refiner) to count as a photo: each refiner with the first segmenter given."""
    coarse = next((s for s in specs if s.contract is not None and s.contract.role == SEGMENTER), None)
    if coarse is None:
        return []
    return [(coarse, s) for s in specs if s.contract is not None and s.contract.role == EDGE_REFINER]


def frame_prob(image: np.ndarray, prob: np.ndarray, long_side: int, channel: str, enlarge: bool = True) -> np.ndarray:
    """The refiner's 4th channel (uint8) at the photo's frame of `long_side` pixels, from the photo and
    its coarse probability (any size); with `enlarge` False a smaller photo keeps its size (the
    runtime's working frame)."""
    from portrait_mobile.runtime.band import to_u8, with_channel

    height, width = image.shape[:2]
    s = long_side / max(height, width)
    if not enlarge:
        s = min(1.0, s)
    fh, fw = max(1, round(height * s)), max(1, round(width * s))
    shrink = prob.shape[0] > fh or prob.shape[1] > fw
    p = to_u8(cv2.resize(prob, (fw, fh), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR))
    if (fh, fw) != (height, width):
        image = cv2.resize(image, (fw, fh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    return with_channel(image, p, channel)


def count_tiles(coarse: ModelSpec, grid: TileGrid, photos: list[Path], long_sides: tuple[int, ...],
                channel: str = "coarse_probability") -> list[TileCounts]:
    """Tiles per photo at each frame, from the coarse model's contour on `photos` (else FALLBACK_TILES_512),
    after the cleanup the accurate level runs (SegmenterOptions.cleanup). At the refiner's own working
    frame a photo is brought to it as the runtime does (never enlarged); at any other (1080p) the photo
    is that frame."""
    from portrait_mobile.runtime import Segmenter, clean_regions
    from portrait_mobile.runtime.band import select_tiles
    from portrait_mobile.runtime.image_input import read_image

    if not photos:
        src = f"no PFCN test images here: a stated {FALLBACK_TILES_512} tiles at 512 (the pfcn/train carve's mean), " \
              "scaled with the frame's long side"
        return [TileCounts(s, FALLBACK_TILES_512 * s / 512, round(FALLBACK_TILES_512 * s / 512), 0, src)
                for s in long_sides]
    seg = Segmenter.from_file(coarse.path, threads=1)
    cleanup = seg.options.cleanup.for_level("accurate")
    counts: dict[int, list[int]] = {s: [] for s in long_sides}
    for p in photos:
        img = read_image(p)
        prob = clean_regions(seg.predict_lowres(img), cleanup)
        for s in long_sides:
            p = frame_prob(img, prob, s, channel, enlarge=s != grid.work_long_side)
            counts[s].append(len(select_tiles(p, replace(grid, work_long_side=s))))
    src = f"{len(photos)} PFCN test images through {coarse.label}"
    return [TileCounts(s, float(np.mean(c)), int(np.max(c)), len(photos), src) for s, c in counts.items()]


def parity_tiles(coarse: ModelSpec, refiner: ModelSpec, photos: list[Path]) -> np.ndarray:
    """One contour tile of each photo (the first the runtime would refine), encoded as the refiner's
    contract says: the refiner's real inputs for the ARM-vs-x86 parity and its count."""
    from portrait_mobile.runtime import Segmenter
    from portrait_mobile.runtime.band import gather_tiles, refiner_input, select_tiles
    from portrait_mobile.runtime.image_input import read_image
    from portrait_mobile.runtime.refiner import encode_tiles

    seg = Segmenter.from_file(coarse.path, threads=1)
    grid = refiner.contract.tiles
    out = []
    for p in photos:
        img = read_image(p)
        img_w, prob_w = refiner_input(img, seg.predict_lowres(img), grid, refiner.contract.extra_channels[0])
        origins = select_tiles(prob_w, grid)
        if len(origins):
            out.append(encode_tiles(gather_tiles(img_w, prob_w, origins[:1], grid), refiner.contract)[0])
    return np.stack(out) if out else np.zeros((0,), np.uint8)


def photo_costs(coarse: ModelSpec, refiner: ModelSpec, counts: list[TileCounts], instructions: dict[str, int],
                reference: int | None) -> list[PhotoCost]:
    """The photo's count at each frame from the models' counted instructions (label -> count)."""
    return [PhotoCost(coarse.label, refiner.label, c, instructions[coarse.label], instructions[refiner.label],
                      reference) for c in counts]
