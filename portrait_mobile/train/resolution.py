"""Progressive resolution: most epochs at a low training resolution, the last ones at the model's input.

The model is fully convolutional, so it trains at 160 or 192 as well as at 256, at 2-2.5x the images
per second; the last share of the epochs at the input size lets its filters settle at the scale the
runtime feeds it. Torch-free: the CLI parses a schedule without importing the trainer.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import PortraitError

# Five stride-2 stages: a side must divide by 32, and below 64 the deepest 3x3 convs see < 2 pixels.
SIZE_MULTIPLE = 32
MIN_SIZE = 64


@dataclass(frozen=True)
class ResolutionStage:
    size: int  # square training side in pixels
    share: float  # share of the run's epochs


@dataclass(frozen=True)
class ResolutionSchedule:
    """Stages in order; an empty schedule trains every epoch at the cache's own size."""

    stages: tuple[ResolutionStage, ...] = ()

    def __post_init__(self) -> None:
        for st in self.stages:
            if st.size < MIN_SIZE or st.size % SIZE_MULTIPLE:
                raise PortraitError(f"training size {st.size}: expected a multiple of {SIZE_MULTIPLE} "
                                    f"of at least {MIN_SIZE}")
            if not 0 < st.share <= 1:
                raise PortraitError(f"training size {st.size}: its share of the epochs must be in (0, 1]")
        if self.stages and abs(sum(st.share for st in self.stages) - 1) > 1e-6:
            raise PortraitError("the shares of the resolution schedule must add up to 1, got "
                                f"{sum(st.share for st in self.stages):g}")

    def size_at(self, epoch: int, epochs: int, default: int) -> int:
        """Training side for 0-based `epoch` of `epochs` (re-planned runs pass their new total)."""
        if not self.stages:
            return default
        progress, start = (epoch + 0.5) / max(1, epochs), 0.0
        for st in self.stages:
            start += st.share
            if progress < start:
                return st.size
        return self.stages[-1].size

    def largest(self, default: int) -> int:
        return max((st.size for st in self.stages), default=default)

    def to_list(self) -> list[list[float]]:
        return [[st.size, st.share] for st in self.stages]


def parse_schedule(items: list[str]) -> ResolutionSchedule:
    """['160:0.6', '192:0.2', '256:0.2'] -> ResolutionSchedule."""
    stages = []
    for item in items:
        size, sep, share = item.partition(":")
        try:
            stages.append(ResolutionStage(int(size), float(share) if sep else 1.0))
        except ValueError:
            raise PortraitError(f"--res-schedule expects SIZE:SHARE (e.g. 160:0.6), got {item!r}") from None
    return ResolutionSchedule(tuple(stages))
