"""`SegmenterOptions`: how a Segmenter (and a VideoSegmenter on it) runs, in one typed object, as MediaPipe
Tasks' ImageSegmenterOptions: the engine, its threads, the quality level, and the video smoothing.

Video smoothing is an exponential moving average whose time constant is in milliseconds of the video,
so a 60 fps and a 24 fps clip of one scene are smoothed alike: between frames `dt` ms apart the
previous mask keeps the weight `exp(-dt / smoothing_ms)`. A per-frame weight `a` (the older
`smoothing=0.6`) is the time constant `smoothing_ms_for(a)`: the same weight at `REFERENCE_FPS`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .backends import check_threads
from .postprocess import DEFAULT_CLEANUP, RegionCleanup, check_number

# fast: the model's mask, upsampled; balanced: + the guided-filter edge refinement at full resolution
# (postprocess.refine_edges); accurate: + the learned refiner on the tiles the mask's contour crosses, at
# 512 on the long side, then the guided filter inside those tiles at up to 1024 (runtime.band, runtime.refiner).
QUALITIES = ("fast", "balanced", "accurate")
REFERENCE_FPS = 30.0  # the frame rate a per-frame smoothing weight refers to
DEFAULT_SMOOTHING = 0.6  # per-frame weight at REFERENCE_FPS (web_demo/js/smoothing.js has the same)


def smoothing_ms_for(weight: float, fps: float = REFERENCE_FPS) -> float:
    """The time constant (ms) that gives the previous mask `weight` between frames at `fps`; 0 = off."""
    weight = check_number(weight, "smoothing", lambda v: 0.0 <= v < 1.0, "in [0, 1)")
    return 0.0 if weight == 0 else -1000.0 / fps / math.log(weight)


def smoothing_weight(smoothing_ms: float, dt_ms: float) -> float:
    """The previous mask's weight between two frames `dt_ms` apart (0 when smoothing is off)."""
    return math.exp(-dt_ms / smoothing_ms) if smoothing_ms > 0 else 0.0


@dataclass(frozen=True)
class SegmenterOptions:
    """engine: a runtime backend name (portrait_mobile.formats.BACKENDS; an unknown one is a
    ModelLoadError when a model is loaded), None: from the file type.
    threads: the engine's threads, None: its default. quality: one of QUALITIES. smoothing_ms: video,
    the mask EMA's time constant in ms (0 = off). motion_aware: video, smooth less where the frame
    changed. keep_largest: keep only the largest person region. cleanup: the small detached regions and
    enclosed holes taken out of every mask (postprocess.RegionCleanup; NO_CLEANUP: the model's mask as
    it is). refiner: quality "accurate", the refiner artifact (any file whose contract says
    edge-refiner), None: the one packaged with the weights."""

    engine: str | None = None
    threads: int | None = None
    quality: str = "fast"
    smoothing_ms: float = smoothing_ms_for(DEFAULT_SMOOTHING)
    motion_aware: bool = True
    keep_largest: bool = False
    refiner: str | None = None
    cleanup: RegionCleanup = DEFAULT_CLEANUP

    def __post_init__(self) -> None:
        # Stored as Python numbers: np.int64(2) threads and np.float32 smoothing are as good as int and float.
        object.__setattr__(self, "threads", check_threads(self.threads))
        if self.quality not in QUALITIES:
            raise ValueError(f"unknown quality {self.quality!r}; expected one of {', '.join(QUALITIES)}")
        object.__setattr__(self, "smoothing_ms", check_number(self.smoothing_ms, "smoothing_ms",
                                                              lambda v: math.isfinite(v) and v >= 0,
                                                              "a finite number >= 0"))
        if not isinstance(self.cleanup, RegionCleanup):
            raise ValueError(f"cleanup must be a RegionCleanup, got {self.cleanup!r}")

    @property
    def refine(self) -> bool:
        """Whether segment() refines the edges with the guided filter (quality "balanced")."""
        return self.quality == "balanced"
