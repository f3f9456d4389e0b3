"""Scoring a refiner on the carves of the training lists, with design.md's metrics at each photo's
original resolution, through the runtime's band logic (the tiles the runtime would refine)."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..data.carve import is_validation
from ..data.folder import PortraitFolder, read_mask
from ..errors import DatasetError
from ..metrics import MetricAccumulator
from ..names import path_inside
from ..runtime.band import TileGrid, TileRunner, refine_work, select_tiles
from .dataset import RefineCache, RefineSource, source_roots

VAL_PER_SOURCE = 150  # carve photos scored per source (the first by id): vitonplus alone has 400


def carve_indices(folder: PortraitFolder, fraction: float = RefineSource.val_fraction,
                  per_source: int = VAL_PER_SOURCE) -> list[int]:
    """The folder's validation carve (data.carve.is_validation, the coarse model's own rule): the
    first `per_source` carve photos by id, as `CarveSet` scores them from a cache."""
    ids = sorted((sid, i) for i, sid in enumerate(folder.ids) if is_validation(sid, folder.name, fraction))
    return [i for _, i in ids[:per_source]]


@dataclass
class CarveSet:
    """The carve photos of a cache with their labels at the original resolution."""

    indices: dict[str, list[int]]  # source -> cache indices
    labels: dict[int, np.ndarray]  # cache index -> uint8 mask at the original resolution

    @classmethod
    def from_cache(cls, cache: RefineCache, per_source: int = VAL_PER_SOURCE) -> "CarveSet":
        roots = source_roots(cache.info)
        indices: dict[str, list[int]] = {}
        labels: dict[int, np.ndarray] = {}
        for src in cache.source_names():
            idx = sorted((i for i in np.nonzero((cache.sources == src) & cache.is_val)[0]),
                         key=lambda i: cache.ids[i])[:per_source]
            if not idx:
                continue
            if src not in roots:  # load_refine_cache refuses such a cache; a hand-made one may not be checked
                raise DatasetError(f"the refine cache's photos of {src!r} come from no source its info lists "
                                   f"({', '.join(roots) or 'none'})")
            indices[src] = [int(i) for i in idx]
            for i in indices[src]:
                # The id and the folder come from the cache file (its ids are checked as it loads): the
                # mask read must still be the dataset's own.
                labels[int(i)] = read_mask(path_inside(roots[src] / "masks", f"{cache.ids[i]}.png", "carve mask"))
        return cls(indices, labels)


def score(cache: RefineCache, carve: CarveSet, grid: TileGrid, runner: TileRunner | None,
          batch: int = 64) -> dict[str, float]:
    """fg IoU and boundary IoU per source (percent) and their carve score (the mean of the sources'
    boundary IoU); `runner` None scores the coarse probability itself. Also the mean tile count."""
    out: dict[str, float] = {}
    tiles = []
    for src, idx in carve.indices.items():
        acc = MetricAccumulator()
        for i in idx:
            item = cache.item(i)
            img, prob = np.ascontiguousarray(item[..., :3]), np.ascontiguousarray(item[..., 3])
            if runner is None:
                pred = prob.astype(np.float32) * np.float32(1 / 255)
            else:
                pred = refine_work(img, prob, runner, grid, batch)
                tiles.append(len(select_tiles(prob, grid)))
            label = carve.labels[i]
            h, w = label.shape
            acc.update(cv2.resize(pred, (w, h), interpolation=cv2.INTER_LINEAR), label)
        r = acc.result()
        out[f"fg_iou/{src}"] = r.fg_iou
        out[f"boundary_iou/{src}"] = r.boundary_iou
    out["score"] = float(np.mean([v for k, v in out.items() if k.startswith("boundary_iou/")]))
    if tiles:
        out["tiles_mean"] = float(np.mean(tiles))
    return out
