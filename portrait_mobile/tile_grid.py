"""The tile geometry of an edge refiner: one small type, read by the band logic (runtime.band), the
refiner's config (refine.config) and its artifacts' contract (contract.ModelContract.tiles)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TileGrid:
    """The working frame is the photo with its long side brought to `work_long_side` (never enlarged),
    cut into `core` x `core` tiles; the refiner reads a tile with `margin` pixels of context on each
    side (its input is `tile` square) and writes it at 1/`out_stride` (`out_tile` square)."""

    core: int
    margin: int
    out_stride: int = 2
    work_long_side: int = 512

    def __post_init__(self) -> None:
        for name in ("core", "margin", "out_stride", "work_long_side"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool):
                raise ValueError(f"tile grid {name} is {v!r}, not an integer")
        if self.core <= 0 or self.margin < 0 or self.out_stride <= 0 or self.work_long_side <= 0:
            raise ValueError(f"invalid tile grid {self}")
        if self.core % self.out_stride or self.margin % self.out_stride:
            raise ValueError(f"core {self.core} and margin {self.margin} must be multiples of the output "
                             f"stride {self.out_stride}")

    @property
    def tile(self) -> int:
        return self.core + 2 * self.margin

    @property
    def out_tile(self) -> int:
        return self.tile // self.out_stride
