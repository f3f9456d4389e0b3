"""A refiner artifact as the band logic's TileRunner: a .tflite tile model through LiteRT, with its
geometry and I/O encoding read from the `<artifact>.refiner.json` written beside it.

(Phase 1 of issue 25: the refiner's contract joins ModelContract and the formats table with the
exporter skeleton; until then this sidecar says what the file is.)
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelLoadError
from ..litert import new_interpreter
from .band import TileGrid, refine_band

SIDECAR_SUFFIX = ".refiner.json"
EXPORT_HINT = "python -m portrait_export.refine_tflite CHECKPOINT --cache CACHE --out FILE.tflite"


def refiner_sidecar(path: str | os.PathLike) -> Path:
    p = Path(path)
    return p.with_name(p.stem + SIDECAR_SUFFIX)


def packaged_refiner(weights_dir: str | os.PathLike) -> Path:
    """The refiner artifact packaged in `weights_dir`: the .tflite beside the one `*.refiner.json`
    there (the description names nothing else: no second home for the refiner's file name)."""
    found = sorted(Path(weights_dir).glob(f"*{SIDECAR_SUFFIX}"))
    models = [p.with_name(p.name[: -len(SIDECAR_SUFFIX)] + ".tflite") for p in found]
    models = [m for m in models if m.is_file()]
    if not models:
        raise ModelLoadError(f"quality 'accurate' needs a refiner and none is packaged in {weights_dir} "
                             f"(no *.tflite with its {SIDECAR_SUFFIX}); export one with {EXPORT_HINT} "
                             "and pass it as SegmenterOptions(refiner=...)")
    if len(models) > 1:
        raise ModelLoadError(f"{len(models)} refiners are packaged in {weights_dir} "
                             f"({', '.join(m.name for m in models)}): pass one as SegmenterOptions(refiner=...)")
    return models[0]


@dataclass
class TileModel:
    """A loaded tile refiner: call it on N x T x T x 4 uint8 tiles (N = `batch` or fewer)."""

    path: Path
    grid: TileGrid
    batch: int
    interpreter: Any
    info: dict[str, Any]

    @classmethod
    def from_file(cls, path: str | os.PathLike, threads: int | None = 1) -> "TileModel":
        path = Path(path)
        side = refiner_sidecar(path)
        if not path.is_file():
            raise ModelLoadError(f"refiner not found: {path}")
        try:
            info = json.loads(side.read_text())
            g = info["grid"]
            grid = TileGrid(int(g["core"]), int(g["margin"]), int(g["out_stride"]), int(g["work_long_side"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelLoadError(f"{side}: not a readable refiner description ({type(e).__name__}: {e})") from None
        it = new_interpreter(path, threads=threads)
        inp = it.get_input_details()[0]
        shape = [int(s) for s in inp["shape"]]
        if len(shape) != 4 or shape[1:] != [grid.tile, grid.tile, 4] or inp["dtype"] not in (np.uint8, np.int8):
            raise ModelLoadError(f"{path}: input {np.dtype(inp['dtype']).name} {shape}, expected uint8 or int8 "
                                 f"[N, {grid.tile}, {grid.tile}, 4] as {side.name} says")
        scale, zero = inp["quantization"]
        if abs(scale * 255 - 1) > 1e-4 or zero != (-128 if inp["dtype"] == np.int8 else 0):
            raise ModelLoadError(f"{path}: input quantization ({scale:.6g}, {zero}) is not the tiles' uint8 "
                                 "values / 255")
        return cls(path, grid, shape[0], it, info)

    def __call__(self, tiles: np.ndarray) -> np.ndarray:
        it = self.interpreter
        inp, out = it.get_input_details()[0], it.get_output_details()[0]
        x = np.ascontiguousarray(tiles, np.uint8)
        if inp["dtype"] == np.int8:  # the same values / 255 with zero point -128
            x = (x ^ np.uint8(0x80)).view(np.int8)
        it.set_tensor(inp["index"], x)
        it.invoke()
        y = it.get_tensor(out["index"])
        scale, zero = out["quantization"]
        y = (y.astype(np.float32) - zero) * np.float32(scale) if scale else y.astype(np.float32)
        return y.reshape(len(tiles), self.grid.out_tile, self.grid.out_tile)

    def refine(self, image: np.ndarray, prob: np.ndarray) -> np.ndarray:
        """The accurate level on one photo: see band.refine_band."""
        return refine_band(image, prob, self, self.grid, self.batch)
