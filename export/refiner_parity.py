"""The edge refiner's parity: an artifact against the PyTorch refiner on real contour tiles.

The tiles are those the runtime would refine (`portrait_mobile.runtime.band`): the parity sample's
photos at the working frame, around the contour of the packaged coarse model's mask (the segmenter
the refiner runs beside at quality "accurate", and was trained on). The artifact runs as the runtime
runs it, a `runtime.refiner.TileModel` on its own contract, so a wrong layout, dtype or scale in the
contract fails here. Figures (`gate.apply_thresholds` judges them):

- max_abs_diff / mean_abs_diff: |artifact - PyTorch| of the tiles' probabilities, over every output
  pixel of every tile; tile_mask_agreement: the share of those pixels on the same side of 0.5.
- mask_iou_mean / mask_iou_min: IoU of the refined photo masks (the tiles blended back, at the
  photo's resolution) made with each, per photo.
- fg_iou_* / fg_iou_drop and boundary_iou_*: the refined masks against the labels, when the sample
  has them (design.md's metrics).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from portrait_mobile.contract import ModelContract
from portrait_mobile.data.folder import Sample
from portrait_mobile.metrics import boundary_iou, iou
from portrait_mobile.runtime.backends import Backend
from portrait_mobile.runtime.band import blend_tiles, gather_tiles, refiner_input, select_tiles
from portrait_mobile.runtime.refiner import TileModel
from portrait_mobile.tile_grid import TileGrid

Coarse = Callable[[np.ndarray], np.ndarray]  # RGB uint8 photo -> the coarse model's probability
CALIBRATION_TILES = 256  # int8 calibration: tiles drawn (seeded) from the calibration photos' contours
TORCH_BATCH = 256


def packaged_coarse(threads: int = 1) -> Coarse:
    """The packaged segmenter's low-resolution probability: what the refiner is fed beside."""
    from portrait_mobile.runtime import Segmenter
    from portrait_mobile.runtime.options import SegmenterOptions

    return Segmenter.default(SegmenterOptions(threads=threads)).predict_lowres


def contour_tiles(image: np.ndarray, coarse_prob: np.ndarray, grid: TileGrid, channel: str) -> dict[str, Any]:
    """One photo as the runtime refines it: the working frame's 4th channel, the origins of the
    contour's tiles and their uint8 inputs (N x T x T x 4)."""
    img_w, prob_w = refiner_input(image, coarse_prob, grid, channel)
    origins = select_tiles(prob_w, grid)
    return {"prob": prob_w, "origins": origins, "tiles": gather_tiles(img_w, prob_w, origins, grid),
            "shape": image.shape[:2]}


def torch_runner(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The fp32 PyTorch refiner on uint8 tiles, N x t x t (batched)."""
    import torch

    def run(tiles: np.ndarray) -> np.ndarray:
        outs = []
        with torch.inference_mode():
            for i in range(0, len(tiles), TORCH_BATCH):
                x = torch.from_numpy(np.ascontiguousarray(tiles[i:i + TORCH_BATCH])).permute(0, 3, 1, 2).float() / 255
                outs.append(model(x)[:, 0].numpy())
        return np.concatenate(outs) if outs else np.zeros((0,), np.float32)

    return run


def refined_mask(photo: dict[str, Any], outputs: np.ndarray, grid: TileGrid) -> np.ndarray:
    """The refined binary mask at the photo's resolution from the tiles' outputs."""
    import cv2

    p = photo["prob"].astype(np.float32) * np.float32(1 / 255)
    if len(photo["origins"]):
        p = blend_tiles(p, outputs, photo["origins"], grid)
    h, w = photo["shape"]
    return cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR) > 0.5


class TileReference:
    """The PyTorch refiner on the parity sample's contour tiles, computed once and shared by every target."""

    def __init__(self, model: Any, contract: ModelContract, samples: Sequence[Sample], source: str,
                 coarse: Coarse) -> None:
        self.contract = contract  # how the PyTorch refiner is fed
        self.grid: TileGrid = contract.tiles  # type: ignore[assignment]
        self.channel = contract.extra_channels[0]
        self.samples = list(samples)
        self.source = source
        self.coarse = coarse
        self.photos = [contour_tiles(s.image, coarse(s.image), self.grid, self.channel) for s in self.samples]
        self.counts = [len(p["tiles"]) for p in self.photos]
        self.tiles = (np.concatenate([p["tiles"] for p in self.photos]) if sum(self.counts) else
                      np.zeros((0, self.grid.tile, self.grid.tile, 4), np.uint8))
        self.probs = torch_runner(model)(self.tiles)
        self.masks = self._masks(self.probs)
        self.labelled = bool(self.samples) and all(s.mask is not None for s in self.samples)
        self.scores = self._scores(self.masks) if self.labelled else {}

    def _split(self, outputs: np.ndarray) -> list[np.ndarray]:
        return np.split(outputs, np.cumsum(self.counts)[:-1]) if self.counts else []

    def _masks(self, outputs: np.ndarray) -> list[np.ndarray]:
        return [refined_mask(p, o, self.grid) for p, o in zip(self.photos, self._split(outputs))]

    def _scores(self, masks: list[np.ndarray]) -> dict[str, float]:
        return {"fg_iou": 100.0 * float(np.mean([iou(m, s.mask) for m, s in zip(masks, self.samples)])),
                "boundary_iou": 100.0 * float(np.mean([boundary_iou(m, s.mask) for m, s in zip(masks, self.samples)]))}

    def calibration_inputs(self, images: Sequence[np.ndarray], count: int = CALIBRATION_TILES,
                           seed: int = 0) -> list[np.ndarray]:
        """`count` contour tiles of `images` (seeded draw), each a float32 [1, T, T, 4] batch in [0, 1]: the
        fp32 .tflite's input for int8 calibration."""
        tiles = [contour_tiles(im, self.coarse(im), self.grid, self.channel)["tiles"] for im in images]
        pool = np.concatenate(tiles) if tiles else np.zeros((0,), np.uint8)
        if not len(pool):
            return []
        pick = np.sort(np.random.default_rng(seed).choice(len(pool), size=min(count, len(pool)), replace=False))
        return [pool[i:i + 1].astype(np.float32) / np.float32(255) for i in pick]

    def compare(self, backend: Backend, contract: ModelContract, *, target: str) -> dict[str, Any]:
        """Run the artifact (opened by its runtime backend) on the reference tiles: the figures."""
        if not len(self.tiles):
            raise ValueError(f"{target}: the parity sample has no contour tile to compare on")
        got = TileModel(backend, contract)(self.tiles)
        d = np.abs(got.astype(np.float64) - self.probs)
        masks = self._masks(got)
        ious = [iou(a, b) for a, b in zip(masks, self.masks)]
        report: dict[str, Any] = {
            "n_images": len(self.samples), "n_tiles": int(len(self.tiles)), "sample": self.source,
            "max_abs_diff": float(d.max()), "mean_abs_diff": float(d.mean()),
            "tile_mask_agreement": float(((got >= 0.5) == (self.probs >= 0.5)).mean()),
            "mask_iou_mean": float(np.mean(ious)), "mask_iou_min": float(np.min(ious)),
        }
        if self.labelled:
            art = self._scores(masks)
            report.update(fg_iou_pytorch=self.scores["fg_iou"], fg_iou_artifact=art["fg_iou"],
                          fg_iou_drop=self.scores["fg_iou"] - art["fg_iou"],
                          boundary_iou_pytorch=self.scores["boundary_iou"], boundary_iou_artifact=art["boundary_iou"])
        return report
