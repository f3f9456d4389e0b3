"""The learning-rate scaling rule for large batches; torch-free, so `portrait-train --help` needs no torch."""
from __future__ import annotations

import math

from ..errors import PortraitError

REFERENCE_BATCH = 32  # the batch size the recipes' learning rates were tuned at
LR_SCALES = ("none", "sqrt", "linear")


def scaled_lr(lr: float, batch_size: int, scale: str) -> float:
    """`lr` for `batch_size`: unchanged, or scaled from REFERENCE_BATCH by the square root (AdamW's
    usual rule) or linearly."""
    if scale not in LR_SCALES:
        raise PortraitError(f"lr_scale must be one of {LR_SCALES}, got {scale!r}")
    ratio = batch_size / REFERENCE_BATCH
    return lr * {"none": 1.0, "sqrt": math.sqrt(ratio), "linear": ratio}[scale]
