"""The refiner's configuration: tile geometry and widths, one named config per shipped refiner.

Torch-free: the runtime's band logic reads the geometry from here (or from an artifact's contract).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from ..config import MAX_CHANNELS, _check_ints
from ..contract import EXTRA_CHANNELS, MAX_INPUT_SIDE, MAX_WORK_SIDE
from ..names import check_file_stem
from ..registry import Registry, config_from_dict
from ..tile_grid import TileGrid

# The working resolution: the photo's long side is brought to this many pixels (never enlarged)
# before the refiner runs; the refined mask is resized back to the photo.
WORK_LONG_SIDE = 512
# The network's features run at 1/FEATURE_STRIDE of the tile; its output at 1/output_stride (2: the
# features' own grid; 1: a sub-pixel head writes 2x2 output pixels per feature pixel).
FEATURE_STRIDE = 2
OUTPUT_STRIDE = 2
# The coarse logit's gain: far above any use (float32's sigmoid is 1 from about 17), far below the
# gains whose logits overflow the fp16/int8 exports (and an inf one makes 0 * gain at p = 0.5 a NaN).
MAX_BASE_GAIN = 100.0


@dataclass(frozen=True)
class RefinerConfig:
    """One tile refiner.

    core: side of the tile the refiner writes (the grid step); margin: context on each side that it
    reads but does not write, so the model's input is core + 2 * margin square.
    widths: channels at 1/2 and 1/4 of the tile (features at full resolution cost more ARM
    instructions than the whole budget allows, docs/refine.md).
    output_stride: 2, the output on the features' half-resolution grid (a mask at 256 on the long
    side bounds boundary IoU near 96); 1, at the working resolution through a sub-pixel head (a 1x1
    conv to 4 channels and a pixel shuffle: each feature pixel writes its 2x2 output pixels), for the
    price of that one small layer.
    base_gain: the coarse probability enters the output as the logit base_gain * (2p - 1), and the
    network adds a correction to it (0 at init): an untrained refiner leaves the 0.5 contour alone.
    prob_channel: what that 4th channel is (runtime.band.with_channel): the coarse probability, or it
    through the guided filter at the working frame.
    """

    name: str
    core: int = 40
    margin: int = 0
    widths: tuple[int, int] = (16, 32)
    context_dilations: tuple[int, ...] = (1, 2, 4)
    base_gain: float = 4.0
    output_stride: int = OUTPUT_STRIDE
    work_long_side: int = WORK_LONG_SIDE
    prob_channel: str = EXTRA_CHANNELS[0]

    def __post_init__(self) -> None:
        check_file_stem(self.name, "refiner config name")
        # Read from checkpoints anyone can make (as ModelConfig): a huge width or tile must fail here,
        # by name, not as a 160 GB allocation in torch; a NaN gain would ship a refiner of NaN masks.
        _check_ints(self.name, "core", (self.core,), 1, MAX_INPUT_SIDE)
        _check_ints(self.name, "margin", (self.margin,), 0, MAX_INPUT_SIDE)
        _check_ints(self.name, "widths", self.widths, 1, MAX_CHANNELS)
        _check_ints(self.name, "context_dilations", self.context_dilations, 1, 64)
        _check_ints(self.name, "work_long_side", (self.work_long_side,), 1, MAX_WORK_SIDE)
        if len(self.context_dilations) > 16:
            raise ValueError(f"{self.name}: at most 16 context_dilations, got {len(self.context_dilations)}")
        if (isinstance(self.base_gain, bool) or not isinstance(self.base_gain, (int, float))
                or not (math.isfinite(self.base_gain) and 0 < self.base_gain <= MAX_BASE_GAIN)):
            raise ValueError(f"{self.name}: base_gain must be a number in (0, {MAX_BASE_GAIN:g}], got {self.base_gain!r}")
        if self.tile > MAX_INPUT_SIDE:  # its artifacts' contract could not describe it
            raise ValueError(f"{self.name}: the tile side {self.tile} is more than {MAX_INPUT_SIDE}")
        if self.core <= 0 or self.core % 4:
            raise ValueError(f"{self.name}: core must be a positive multiple of 4, got {self.core}")
        if self.margin < 0 or self.margin % 2:
            raise ValueError(f"{self.name}: margin must be an even number >= 0, got {self.margin}")
        if len(self.widths) != 2 or min(self.widths) <= 0:
            raise ValueError(f"{self.name}: widths must be two positive channel counts")
        if self.tile % 4:
            raise ValueError(f"{self.name}: the tile side {self.tile} must be a multiple of 4")
        if type(self.output_stride) is not int or self.output_stride not in (1, FEATURE_STRIDE):
            raise ValueError(f"{self.name}: output_stride must be 1 or {FEATURE_STRIDE}, got {self.output_stride}")
        if self.prob_channel not in EXTRA_CHANNELS:
            raise ValueError(f"{self.name}: prob_channel must be one of {', '.join(EXTRA_CHANNELS)}")

    @property
    def tile(self) -> int:
        """Side of the model's square input."""
        return self.core + 2 * self.margin

    @property
    def input_size(self) -> tuple[int, int]:
        """(h, w) of the model's input, as a ModelConfig has it (the exporter names files by it)."""
        return self.tile, self.tile

    @property
    def out_tile(self) -> int:
        """Side of the model's square output (the tile at 1/output_stride)."""
        return self.tile // self.output_stride

    def grid(self) -> TileGrid:
        return TileGrid(self.core, self.margin, self.output_stride, self.work_long_side)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RefinerConfig":
        return config_from_dict(cls, d, "refiner config")


DEFAULT_REFINER = "refine-t40gs"
_REGISTRY: Registry[RefinerConfig] = Registry("refiner config", error=ValueError)
register = _REGISTRY.register
get_refiner_config = _REGISTRY.get
refiner_config_names = _REGISTRY.names


# 40-px tiles, no margin, 16/32 channels, dilations 1-2-4: 0.363 M ARM instructions a tile on cortex-a76
# (int8), about 30 tiles on a PFCN photo at 512. A context margin costs (core + 2m)^2 / core^2 more a
# tile: the budget chose width over margin (docs/refine.md). refine-t40 reads the coarse mask itself.
register(RefinerConfig("refine-t40"))
# refine-t40 fed the coarse mask through the guided filter at the working frame (the same network and
# ARM count a tile; on the carves 62.53 against refine-t40's 61.05, docs/refine.md); shipped until
# session 31.
register(RefinerConfig("refine-t40g", prob_channel="guided_probability"))
# Earlier runs, kept so their histories load: 8/16 wide with a 4-pixel margin, and 16/32 with it.
register(RefinerConfig("refine-t48", margin=4, widths=(8, 16), context_dilations=(1, 2)))
register(RefinerConfig("refine-t48-wide", margin=4))
# Session 26's capacity probe: refine-t40g at 24/48 channels (docs/refine.md, "Session 26").
register(RefinerConfig("refine-t40g-w48", widths=(24, 48), prob_channel="guided_probability"))
# The shipped refiner (session 31): refine-t40g writing at the working resolution through a sub-pixel
# head, 0.385 M instructions a tile (docs/refine.md, "Session 30").
register(RefinerConfig(DEFAULT_REFINER, output_stride=1, prob_channel="guided_probability"))
