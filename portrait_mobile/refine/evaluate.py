"""The three quality levels side by side on a labelled folder, scored with design.md's metrics at
each photo's original resolution, and timed on one core: fast (the coarse model), balanced (the
runtime's guided filter), accurate (the learned refiner on the contour's tiles, snapped to the photo's
edges there)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from ..data.folder import PortraitFolder
from ..metrics import MetricAccumulator
from ..model_io import resize_prob
from ..runtime.band import (ACCURATE_SNAP, COARSE, FEATHER, TileGrid, TileRunner, refine_band, refiner_input,
                            select_tiles)
from ..runtime.postprocess import NO_CLEANUP, RegionCleanup, clean_regions, refine_edges

LEVELS = ("fast", "balanced", "accurate")


@dataclass
class LevelReport:
    metrics: dict[str, dict[str, Any]]  # level -> MetricResult.to_dict()
    tiles_mean: float
    tiles_max: int
    n_images: int
    extra: dict[str, Any] = field(default_factory=dict)


def score_levels(folder: PortraitFolder, coarse: Callable[[np.ndarray], np.ndarray], runner: TileRunner,
                 grid: TileGrid, batch: int, progress: bool = True, channel: str = COARSE,
                 indices: Sequence[int] | None = None, feather: int = FEATHER,
                 cleanup: RegionCleanup = NO_CLEANUP) -> LevelReport:
    """coarse: photo -> the coarse model's probability at its own resolution (Segmenter.predict_lowres);
    channel: the refiner's 4th input (band.with_channel); indices: the photos scored (default all);
    feather: the accurate level's hand-over width (band.feather_weight); cleanup: the runtime's cleanup
    of the coarse mask, as each level runs it (RegionCleanup.for_level)."""
    accs = {lvl: MetricAccumulator() for lvl in LEVELS}
    tiles = []
    indices = range(len(folder)) if indices is None else indices
    for i in tqdm(indices, desc="levels", unit="img", disable=not progress):
        s = folder[i]
        h, w = s.image.shape[:2]
        raw = coarse(s.image)
        p = clean_regions(raw, cleanup.for_level("fast"))
        accs["fast"].update(resize_prob(p, h, w), s.mask)
        accs["balanced"].update(refine_edges(s.image, p), s.mask)
        p = clean_regions(raw, cleanup.for_level("accurate"))
        accs["accurate"].update(refine_band(s.image, p, runner, grid, batch, channel, ACCURATE_SNAP, feather),
                                s.mask)
        tiles.append(len(select_tiles(refiner_input(s.image, p, grid, channel)[1], grid)))
    return LevelReport({k: a.result().to_dict() for k, a in accs.items()}, float(np.mean(tiles)),
                       int(np.max(tiles)), len(indices))


def time_levels(images: list[np.ndarray], coarse: Callable[[np.ndarray], np.ndarray], runner: TileRunner,
                grid: TileGrid, batch: int, size: tuple[int, int], rounds: int = 3,
                channel: str = COARSE, cleanup: RegionCleanup = NO_CLEANUP) -> dict[str, float]:
    """Median ms per photo of each level's whole path (coarse model and `cleanup` included) at `size`
    (w, h), interleaved photo by photo so the levels share the machine's state."""
    fast, accurate = cleanup.for_level("fast"), cleanup.for_level("accurate")
    frames = [cv2.resize(im, size, interpolation=cv2.INTER_LINEAR) for im in images]
    times: dict[str, list[float]] = {lvl: [] for lvl in LEVELS}
    paths = {
        "fast": lambda im: resize_prob(clean_regions(coarse(im), fast), im.shape[0], im.shape[1]),
        "balanced": lambda im: refine_edges(im, clean_regions(coarse(im), fast)),
        "accurate": lambda im: refine_band(im, clean_regions(coarse(im), accurate), runner, grid, batch, channel,
                                           ACCURATE_SNAP),
    }
    for _ in range(rounds):
        for im in frames:
            for lvl in LEVELS:
                t0 = time.perf_counter()
                paths[lvl](im)
                times[lvl].append((time.perf_counter() - t0) * 1000)
    return {lvl: float(np.median(v)) for lvl, v in times.items()}
