"""A refiner artifact as the band logic's TileRunner: any file whose contract says it is an edge refiner
(`.tflite`, `.onnx`, `.mlpackage` from `portrait-export --refiner`), opened by the runtime backend of
its format, its tiles encoded and its output decoded as that contract says (layout, dtype, scale),
its tile geometry read from the contract's `tiles`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..contract import ModelContract
from ..contract_io import SUFFIXES, read_contract
from ..errors import ContractError, ModelLoadError
from ..formats import EDGE_REFINER
from ..model_io import dequantize_output, quantize_input
from ..paths import packaged_artifacts
from ..tile_grid import TileGrid
from .backends import Backend, backend_for, read_contract_for
from .band import ACCURATE_SNAP, refine_band

EXPORT_HINT = "portrait-export --refiner"


def packaged_refiner(weights_dir: str | os.PathLike) -> Path:
    """The refiner artifact packaged in `weights_dir`: the file whose contract says edge refiner (of
    one model; its formats in the packaged order, int8 .tflite before fp32). ModelLoadError when there
    is none, or refiners of two models."""
    found: dict[str, list[Path]] = {}
    problems = []
    for p in sorted(Path(weights_dir).iterdir()) if Path(weights_dir).is_dir() else []:
        if not p.name.lower().endswith(SUFFIXES):
            continue
        try:
            c = read_contract(p)
        except (ModelLoadError, ContractError) as e:
            problems.append(str(e))
            continue
        if c.role == EDGE_REFINER:
            found.setdefault(c.model_name, []).append(p)
    if not found:
        why = f" ({'; '.join(problems)})" if problems else ""
        raise ModelLoadError(f"quality 'accurate' needs a refiner and none is packaged in {weights_dir} (no file "
                             f"whose contract says {EDGE_REFINER}){why}; export one with {EXPORT_HINT} and pass it "
                             "as SegmenterOptions(refiner=...)")
    if len(found) > 1:
        raise ModelLoadError(f"refiners of {len(found)} models are packaged in {weights_dir} "
                             f"({', '.join(sorted(found))}): pass one as SegmenterOptions(refiner=...)")
    name, paths = found.popitem()
    return next((p for p in packaged_artifacts(Path(weights_dir), name) if p in paths), paths[0])


def encode_tiles(tiles: np.ndarray, contract: ModelContract) -> np.ndarray:
    """uint8 N x T x T x C tiles -> the tensor an edge refiner of `contract` takes: value / 255 in its
    layout, dtype and scale."""
    x = np.asarray(tiles, np.float32) * np.float32(1 / 255)
    if contract.input_layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    return quantize_input(np.ascontiguousarray(x), contract)


@dataclass
class TileModel:
    """A loaded tile refiner: call it on N x T x T x 4 uint8 tiles (R, G, B, coarse probability)."""

    backend: Backend
    contract: ModelContract
    batch: int = 1  # tiles per run: the exported refiners take one (a static shape)

    def __post_init__(self) -> None:
        c = self.contract
        if c.role != EDGE_REFINER or c.tiles is None:
            raise ModelLoadError(f"{self.backend.path}: its contract says {c.role} ({c.model_name}), not "
                                 f"{EDGE_REFINER}: quality 'accurate' needs a refiner ({EXPORT_HINT})")
        probe = self.encode(np.zeros((self.batch, self.grid.tile, self.grid.tile, c.input_channels), np.uint8))
        self.backend.check_input(probe.shape, probe.dtype)

    @classmethod
    def from_file(cls, path: str | os.PathLike, threads: int | None = 1) -> "TileModel":
        if not Path(path).exists():
            raise ModelLoadError(f"refiner not found: {path}")
        backend = backend_for(path, threads=threads)
        return cls(backend, read_contract_for(path, backend))

    @property
    def grid(self) -> TileGrid:
        return self.contract.tiles  # type: ignore[return-value]

    @property
    def path(self) -> Path | None:
        return self.backend.path

    def encode(self, tiles: np.ndarray) -> np.ndarray:
        return encode_tiles(tiles, self.contract)

    def __call__(self, tiles: np.ndarray) -> np.ndarray:
        t = self.grid.out_tile
        out = np.empty((len(tiles), t, t), np.float32)
        for i in range(0, len(tiles), self.batch):
            chunk = tiles[i:i + self.batch]
            y = dequantize_output(self.backend.run(self.encode(chunk)), self.contract)
            if y.size != len(chunk) * t * t or not np.isfinite(y).all():
                raise ModelLoadError(f"{self.path}: the refiner returned {np.shape(y)} with non-finite values "
                                     f"or not {len(chunk)} x {t} x {t}")
            out[i:i + len(chunk)] = y.reshape(len(chunk), t, t)
        return out

    def refine(self, image: np.ndarray, prob: np.ndarray) -> np.ndarray:
        """The accurate level on one photo: see band.refine_band (snapped to the photo's edges)."""
        return refine_band(image, prob, self, self.grid, self.batch, self.channel, snap=ACCURATE_SNAP)

    @property
    def channel(self) -> str:
        """What its 4th input channel is (band.with_channel)."""
        return self.contract.extra_channels[0]
