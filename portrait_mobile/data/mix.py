"""What each training source is worth in an epoch, and which sources label only part of a photo.

Torch-free, so the CLI can parse and print a mix without importing the trainer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import DatasetError

# A source drawn more than 4 times an epoch would be learned by heart long before the rest.
MAX_SHARE = 4.0

# Datasets whose masks mark only the main subject: Clothing Co-Parsing leaves passers-by as
# background (../shared/datasets/README.md). Keyed by the dataset folder's name, the part of a cache
# source name before "/" (a source named "ccp/train" belongs to "ccp").
PARTIAL_LABEL_SETS: frozenset[str] = frozenset({"ccp"})


def dataset_of(source: str) -> str:
    """'ccp/train' -> 'ccp'; an unsplit source is its own dataset."""
    return source.split("/", 1)[0]


def is_partial_label(source: str) -> bool:
    return dataset_of(source) in PARTIAL_LABEL_SETS


@dataclass(frozen=True)
class SourceMix:
    """Share of each source's training samples drawn into an epoch (a fresh draw every epoch).

    1 takes every sample once; 0.25 a quarter of them, so a large narrow set (vitonplus: 4,000
    studio shots of one pose family) stays a minority of the mix without being thrown away; 2 every
    sample twice, so a small set whose carve is the weakest (voc_person: 624 photos) weighs more
    without starving the rest. Keys are cache source names or dataset names ("vitonplus" covers
    "vitonplus/train"); unnamed sources get 1.
    """

    shares: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, share in self.shares.items():
            if not (isinstance(share, (int, float)) and math.isfinite(share) and 0 < share <= MAX_SHARE):
                raise DatasetError(f"mix share of {name!r} must be in (0, {MAX_SHARE:g}], got {share!r}")

    def share(self, source: str) -> float:
        return self.shares.get(source, self.shares.get(dataset_of(source), 1.0))

    def check_sources(self, known: list[str]) -> None:
        """Every name in the mix must match a source of the cache: a typo would silently weigh 1."""
        names = set(known) | {dataset_of(s) for s in known}
        unknown = sorted(set(self.shares) - names)
        if unknown:
            raise DatasetError(f"--mix names {unknown}, not sources of the cache ({', '.join(sorted(known))})")

    def count(self, source: str, n: int) -> int:
        """Samples an epoch draws from a source of n: round(share x n), at least 1."""
        return max(1, round(self.share(source) * n))

    def draw(self, sources: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Indices of one epoch's samples (shuffled): round(share x n) of each source. Below 1 without
        repeats; above, every sample as many whole times as fit and the rest drawn without repeats, so
        no sample comes more than once beyond any other of its source."""
        picked = []
        for src in sorted(set(sources.tolist())):
            idx = np.flatnonzero(sources == src)
            whole, rest = divmod(self.count(src, len(idx)), len(idx))
            picked += [idx] * whole
            if rest:  # no draw when none is needed: the random stream of a share-1 source is as before
                picked.append(rng.choice(idx, size=rest, replace=False))
        out = np.concatenate(picked)
        rng.shuffle(out)
        return out

    def epoch_size(self, sources: np.ndarray) -> int:
        return sum(self.count(s, int((sources == s).sum())) for s in set(sources.tolist()))

    def to_dict(self) -> dict[str, float]:
        return dict(self.shares)


@dataclass(frozen=True)
class HardDraw:
    """Extra draws of the labelled samples the model gets most wrong, on top of the mix's epoch.

    The carves' errors are a tail of whole-photo failures (docs/experiments.md, session 32) that a
    uniform epoch shows once among thousands of easy photos. Each source adds round(share x its mix
    draw) samples, drawn with replacement in proportion to their hardness (1 - fg IoU of the current
    weights, re-scored every `every` epochs); unlabelled samples have no hardness and are never drawn
    extra. Drawing within each source keeps the sources' balance.
    """

    share: float = 0.0
    every: int = 5

    def __post_init__(self) -> None:
        if not (math.isfinite(self.share) and 0 <= self.share <= 4):
            raise DatasetError(f"hard-example share must be in [0, 4], got {self.share!r}")
        if self.every < 1:
            raise DatasetError(f"hard-example re-scoring interval must be >= 1 epoch, got {self.every!r}")

    @property
    def active(self) -> bool:
        return self.share > 0

    def counts(self, sources: np.ndarray, labelled: np.ndarray, mix: SourceMix) -> dict[str, int]:
        """Extra samples per source: fixed for the run, so the epoch's length does not move with the scores."""
        out = {}
        for src in sorted(set(sources.tolist())):
            sel = sources == src
            if self.active and labelled[sel].any():
                out[src] = round(self.share * mix.count(src, int(sel.sum())))
        return {k: v for k, v in out.items() if v > 0}

    def size(self, sources: np.ndarray, labelled: np.ndarray, mix: SourceMix) -> int:
        return sum(self.counts(sources, labelled, mix).values())

    def draw(self, sources: np.ndarray, hardness: np.ndarray, mix: SourceMix, rng: np.random.Generator) -> np.ndarray:
        """Indices of the extra samples; `hardness` is NaN where a sample has no label."""
        if len(hardness) != len(sources):
            raise DatasetError(f"{len(hardness)} hardness scores for {len(sources)} samples")
        labelled = np.isfinite(hardness)
        picked = [np.zeros(0, np.int64)]
        for src, k in self.counts(sources, labelled, mix).items():
            idx = np.flatnonzero((sources == src) & labelled)
            w = np.clip(hardness[idx], 0, None)
            p = w / w.sum() if w.sum() > 0 else None  # nothing wrong in this source: uniform
            picked.append(rng.choice(idx, size=k, replace=True, p=p))
        return np.concatenate(picked)


def parse_mix(items: list[str]) -> SourceMix:
    """['vitonplus=0.25', 'ccp_unlabeled=0.5'] -> SourceMix."""
    shares: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise DatasetError(f"--mix expects NAME=SHARE, got {item!r}")
        try:
            shares[name] = float(value)
        except ValueError:
            raise DatasetError(f"--mix {item!r}: the share must be a number in (0, {MAX_SHARE:g}]") from None
    return SourceMix(shares)


# The campaign's mix (docs/experiments.md, session 23): every labelled portrait, selfie and
# full-body photo each epoch; the studio set at a quarter (about 900 of its 3,600 training images,
# ~15% of an epoch), the street-photo teacher set at half.
CAMPAIGN_MIX = SourceMix({"vitonplus": 0.25, "ccp_unlabeled": 0.5})
