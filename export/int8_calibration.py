"""The int8 calibration of one export() call, as one typed object.

Where the activation ranges come from (`source`: the statistics saved beside the weights, when they
fit them, or calibration images), the ranges themselves (`Int8Ranges`), and the one step after the
gate (`--save-calibration`: the ranges of an artifact that passed are saved beside the weights, where
later exports of the same weights find them). The weights' sha256 is the export's, computed once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import calibration_stats
from .calibration_stats import CalibrationStats
from .errors import ExportUsageError
from .metadata import tool_versions
from .tflite_quantize import activation_tensors, calibrate_int8

SAVED, IMAGES = "saved statistics", "images"


@dataclass(frozen=True)
class Int8Ranges:
    """Activation ranges as ai-edge-quantizer takes them (tensor name -> {"min", "max"} arrays), and what
    they were measured on (for the summary and the sidecar)."""

    qsvs: dict[str, dict[str, np.ndarray]] = field(repr=False)
    described: str


@dataclass(frozen=True)
class Int8Calibration:
    """How this export calibrates int8: from `saved` statistics, or on images (`source`)."""

    weights_sha256: str
    input_size: tuple[int, int]
    saved: CalibrationStats | None = None  # statistics beside the weights that fit them
    no_saved_reason: str = ""  # why there are none (for the error when there are no images either)
    save_to: Path | None = None  # --save-calibration: where the ranges go once the artifact passed

    @property
    def source(self) -> str:
        return SAVED if self.saved is not None else IMAGES

    @classmethod
    def plan(cls, weights: str | Path | Any | None, weights_sha256: str, input_size: tuple[int, int], *,
             images_given: bool, save: bool) -> "Int8Calibration":
        """The calibration of export()'s `weights` (a path, a Checkpoint, None for the shipped default).

        Saved statistics are used unless images were given (`--calib`) or asked to be saved from
        (`--save-calibration`, which needs the checkpoint's file: ExportUsageError otherwise).
        """
        size = (int(input_size[0]), int(input_size[1]))
        path = checkpoint_path(weights)
        save_to = None
        if save:
            if path is None:
                raise ExportUsageError("--save-calibration saves beside the checkpoint file: pass weights as a path")
            save_to = calibration_stats.stats_path(path)
        saved, why = (None, "") if images_given or save else calibration_stats.matching(path, weights_sha256, size)
        return cls(weights_sha256, size, saved, why, save_to)

    def ranges(self, fp32: bytes, inputs: Callable[[], tuple[list[np.ndarray], str]], union: bool = False) -> Int8Ranges:
        """The ranges for the converted fp32 .tflite: the saved statistics (which must cover its
        activation tensors), else calibrated on `inputs()`: the model's input batches and what they are
        (the target's: a segmenter's calibration images, an edge refiner's contour tiles of them, whose
        ranges are merged: `union`, tflite_quantize.calibrate_int8)."""
        if self.saved is not None:
            calibration_stats.check_covers(self.saved, activation_tensors(fp32))
            return Int8Ranges(self.saved.to_qsvs(),
                              f"int8 calibration statistics saved with the weights (made on {self.saved.source})")
        batches, described = inputs()
        return Int8Ranges(calibrate_int8(fp32, batches, union=union), described)

    def after_gate(self, ranges: Int8Ranges) -> str:
        """Save the ranges if asked (only those of an artifact that passed its gate are worth reusing);
        what they were measured on, and where they were saved."""
        if self.save_to is None:
            return ranges.described
        stats = CalibrationStats.from_qsvs(ranges.qsvs, weights_sha256=self.weights_sha256, input_size=self.input_size,
                                           source=ranges.described,
                                           tools=tool_versions("litert-torch", "ai-edge-quantizer"))
        return f"{ranges.described}; statistics saved to {calibration_stats.save(stats, self.save_to)}"


def checkpoint_path(weights: str | Path | Any | None) -> Path | None:
    """The file of `export()`'s `weights` argument (None: the shipped default; a Checkpoint: none)."""
    from portrait_mobile import checkpoint

    if weights is None:
        return checkpoint.DEFAULT_WEIGHTS
    return Path(weights) if isinstance(weights, (str, Path)) else None
