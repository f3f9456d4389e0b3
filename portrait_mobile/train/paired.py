"""How far apart two checkpoints really are on the validation carve: the difference of their carve
scores with its standard error, paired image by image.

Both checkpoints are scored on the same photos, so most of a carve's noise (which photos happen to be
hard) cancels in the per-image differences; what is left is the noise the choice between them is made
on. The carve score is linear in the per-image scores (`selection_score`: the unweighted mean of the
per-source means), so its paired standard error is exact, with no resampling:
SE = sqrt(sum_s var(d_s) / n_s) / S over the S sources.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z95 = 1.96  # a normal 95% interval: the means are over 59-403 photos a source


@dataclass(frozen=True)
class Difference:
    """other - base, in the scores' units (fg IoU points), with its paired standard error."""
    mean: float
    se: float
    n: int

    @property
    def half_width(self) -> float:
        return Z95 * self.se

    def __str__(self) -> str:
        return f"{self.mean:+.2f} +/- {self.half_width:.2f}"


@dataclass(frozen=True)
class PairedComparison:
    """The carve score's difference and each source's, between two checkpoints' per-image scores."""
    score: Difference
    by_source: dict[str, Difference]


def _difference(d: np.ndarray) -> Difference:
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    return Difference(float(d.mean()), se, len(d))


def paired_comparison(base: np.ndarray, other: np.ndarray, sources: np.ndarray) -> PairedComparison:
    """`other - base` for per-image scores of the same images, in the same order, with each image's
    source; the score is over sources as `selection_score` takes it (over all images for one source)."""
    base, other, sources = np.asarray(base, float), np.asarray(other, float), np.asarray(sources)
    if not (base.shape == other.shape == sources.shape) or base.ndim != 1:
        raise ValueError(f"per-image scores must be paired: {base.shape}, {other.shape}, {sources.shape} images")
    if len(base) == 0:
        raise ValueError("no images to compare")
    d = other - base
    names = sorted(set(sources.tolist()))
    by_source = {s: _difference(d[sources == s]) for s in names}
    if len(names) == 1:
        return PairedComparison(_difference(d), by_source)
    parts = list(by_source.values())
    mean = float(np.mean([p.mean for p in parts]))
    se = float(np.sqrt(sum(p.se ** 2 for p in parts)) / len(parts))
    return PairedComparison(Difference(mean, se, len(d)), by_source)
