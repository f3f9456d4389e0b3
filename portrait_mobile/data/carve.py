"""The validation carve: the share of each training list that training holds out and checkpoints are
chosen on (docs/experiments.md's rule). One home for the rule, so the trainer, the refiner, the
evaluation CLI and the result scripts carve the same photos."""
from __future__ import annotations

import hashlib

from .folder import PortraitFolder

VAL_FRACTION = 0.1  # portrait-train's default --val-fraction: the carve the shipped models were chosen on


def is_validation(sample_id: str, source: str, fraction: float = VAL_FRACTION) -> bool:
    """Deterministic carve of a validation split out of a training list (stable across runs/machines);
    `source` is the list's name as PortraitFolder.name gives it, e.g. 'pfcn/train'."""
    h = int(hashlib.sha1(f"{source}/{sample_id}".encode()).hexdigest()[:8], 16)
    return (h % 10_000) < fraction * 10_000


def carve(folder: PortraitFolder, fraction: float = VAL_FRACTION) -> PortraitFolder:
    """The folder's validation carve as a folder of its own (named '<set>/<split> carve')."""
    return folder.subset([i for i in folder.ids if is_validation(i, folder.name, fraction)], "carve")
