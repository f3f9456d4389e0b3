"""int8 calibration statistics saved beside a checkpoint, so its int8 export needs no images.

ai-edge-quantizer calibrates by running the fp32 .tflite on images and recording each activation
tensor's range (min/max); `quantize(calibration_result)` then only needs those ranges. Storing them
beside the weights (`<checkpoint>.int8-calibration.json`; the package ships the one of its default
weights) makes `portrait-export` work on a machine without the calibration images, and every such
export of the same weights identical.

The file is keyed to the weights' sha256 and the input size: statistics of other weights are stale
and refused (`matching` returns None, `load` raises). This module is the file; an export's use of it
(saved statistics or images, saving after the gate) is `int8_calibration.Int8Calibration`. Regenerate after new weights, with the
calibration images at hand (../shared/datasets, or --calib DIR):

    portrait-export --target tflite --save-calibration               # the shipped weights
    portrait-export --target tflite --weights run/best.pt --calib my_photos --save-calibration
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from portrait_mobile.atomic import write_text
from portrait_mobile.errors import ExportError
from portrait_mobile.file_input import parse_json

from .errors import ExportUsageError

SUFFIX = ".int8-calibration.json"
FORMAT = 1


@dataclass(frozen=True)
class CalibrationStats:
    """Per-tensor activation ranges of one model's fp32 .tflite, as ai-edge-quantizer records them."""

    weights_sha256: str
    input_size: tuple[int, int]
    source: str  # what was calibrated on, for the export summary
    ranges: dict[str, dict[str, Any]] = field(repr=False)  # tensor name -> {"min": [...], "max": [...], "shape"}
    tools: dict[str, str] = field(default_factory=dict)
    format: int = FORMAT

    @classmethod
    def from_qsvs(cls, qsvs: dict[str, dict[str, Any]], *, weights_sha256: str, input_size: tuple[int, int],
                  source: str, tools: dict[str, str] | None = None) -> "CalibrationStats":
        ranges = {}
        for name, v in qsvs.items():
            lo, hi = np.asarray(v["min"], np.float32), np.asarray(v["max"], np.float32)
            ranges[name] = {"shape": list(lo.shape), "min": lo.ravel().tolist(), "max": hi.ravel().tolist()}
        return cls(weights_sha256, (int(input_size[0]), int(input_size[1])), source, ranges, dict(tools or {}))

    def to_qsvs(self) -> dict[str, dict[str, np.ndarray]]:
        """The calibration result as `Quantizer.quantize` takes it."""
        return {name: {"min": np.asarray(r["min"], np.float32).reshape(r["shape"]),
                       "max": np.asarray(r["max"], np.float32).reshape(r["shape"])}
                for name, r in self.ranges.items()}

    def to_json(self) -> str:
        d = asdict(self)
        d["input_size"] = list(self.input_size)
        return json.dumps(d, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "CalibrationStats":
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, d: Any) -> "CalibrationStats":
        """ValueError, KeyError or TypeError for anything but a well-formed statistics document."""
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError(f"unknown format {d.get('format') if isinstance(d, dict) else type(d).__name__!r}")
        ranges = d["ranges"]
        if not isinstance(ranges, dict) or not ranges:
            raise ValueError("no tensor ranges")
        for name, r in ranges.items():
            shape = r["shape"]
            if not isinstance(shape, list) or not all(isinstance(v, int) and v >= 0 for v in shape):
                raise ValueError(f"tensor {name[-60:]!r}: shape {shape!r} is not a list of sizes")
            n = math.prod(shape)  # exact: numpy's product would wrap around on absurd sizes
            if not (isinstance(r["min"], list) and isinstance(r["max"], list)) or len(r["min"]) != n \
                    or len(r["max"]) != n:
                raise ValueError(f"tensor {name[-60:]!r}: min/max do not match shape {shape}")
        h, w = d["input_size"]
        return cls(str(d["weights_sha256"]), (int(h), int(w)), str(d["source"]), ranges,
                   dict(d.get("tools") or {}), FORMAT)


def stats_path(checkpoint_path: str | Path) -> Path:
    """Where the statistics of a checkpoint live: beside it, `<stem>.int8-calibration.json`."""
    p = Path(checkpoint_path)
    return p.with_name(p.stem + SUFFIX)


def load(path: str | Path) -> CalibrationStats:
    """Read a statistics file; ExportUsageError (a bad input: the CLI exits 2) if unreadable or malformed."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ExportUsageError(f"cannot read int8 calibration statistics {p}: {e.strerror or e}") from None
    doc = parse_json(data, ExportUsageError, f"{p} is not a valid int8 calibration statistics file")
    try:
        return CalibrationStats.from_dict(doc)
    except (ValueError, KeyError, TypeError) as e:
        raise ExportUsageError(f"{p} is not a valid int8 calibration statistics file: {e}") from None


def stale_reason(stats: CalibrationStats, sha256: str, input_size: tuple[int, int]) -> str | None:
    """Why `stats` cannot quantize these weights at this size, or None when they can."""
    if stats.weights_sha256 != sha256:
        return (f"they were made for other weights (sha256 {stats.weights_sha256[:12]}, these are "
                f"{sha256[:12]})")
    if tuple(stats.input_size) != tuple(input_size):
        return f"they were made at {stats.input_size[0]}x{stats.input_size[1]}, not {input_size[0]}x{input_size[1]}"
    return None


def matching(checkpoint_path: str | Path | None, sha256: str,
             input_size: tuple[int, int]) -> tuple[CalibrationStats | None, str]:
    """(the statistics beside the checkpoint if they fit these weights and size, why not otherwise)."""
    if checkpoint_path is None:
        return None, "no checkpoint file"
    p = stats_path(checkpoint_path)
    if not p.is_file():
        return None, f"no {p.name} beside the weights"
    stats = load(p)
    why = stale_reason(stats, sha256, input_size)
    if why is not None:
        return None, f"{p} is stale: {why}; regenerate it with `portrait-export --target tflite --save-calibration`"
    return stats, ""


def save(stats: CalibrationStats, path: str | Path) -> Path:
    """Write the statistics to `path` (atomically; see `stats_path`); returns it."""
    write_text(path, stats.to_json())
    return Path(path)


def check_covers(stats: CalibrationStats, needed: set[str]) -> None:
    """ExportError unless `stats` has a range for every activation tensor the quantizer needs."""
    missing = sorted(needed - set(stats.ranges))
    if missing:
        raise ExportError(f"tflite int8: the calibration statistics lack {len(missing)} of the converted model's "
                          f"{len(needed)} activation tensors (e.g. {missing[0][-80:]!r}): they were made with "
                          f"another converter version ({stats.tools or 'unknown'}); regenerate them with "
                          "--save-calibration, or pass --calib DIR")
