"""The parity gate: thresholds applied to a parity report's figures, and the refusal of a failing artifact.

`parity.py` measures (the artifact vs PyTorch on real images); this module judges. Apart so that
the shared export types (`context.py`) and the measurement import it, and not each other.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Sequence

from portrait_mobile.errors import ExportError


@dataclass(frozen=True)
class Thresholds:
    """Parity gates; an artifact that misses one is not written.

    max_abs_*: largest |artifact - PyTorch| of the probability at model resolution, on the sample
    (float precisions only; int8 is judged by masks). mask_iou: mean IoU between the artifact's mask
    and the PyTorch fp32 mask at image resolution (every target). fg_iou_drop: PyTorch fg IoU minus
    the artifact's, in points, on the labelled validation sample (every target).
    """

    onnx_max_abs: float = 1e-4
    fp32_max_abs: float = 1e-4  # TFLite / Core ML fp32
    fp16_max_abs: float = 1e-2  # TFLite / Core ML fp16 (Core ML: macOS only)
    mask_iou: float = 0.98
    fg_iou_drop: float = 0.5
    # An edge refiner's tiles (every precision; refiner_parity): mean |artifact - PyTorch| over their
    # output pixels, and the share of those pixels on the same side of 0.5.
    tile_mean_abs: float = 0.02
    tile_agreement: float = 0.98

    def max_abs_for(self, target: str, precision: str) -> float | None:
        if precision == "int8":
            return None
        if target == "onnx":
            return self.onnx_max_abs
        return self.fp32_max_abs if precision == "fp32" else self.fp16_max_abs

    def to_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def replace(self, **kw: float) -> "Thresholds":
        return replace(self, **kw)


class GateError(ExportError):
    """A parity gate refused the artifact (nothing was written); carries the measured report."""

    def __init__(self, target: str, precision: str, report: dict[str, Any]) -> None:
        self.target, self.precision, self.report = target, precision, report
        super().__init__(f"{target} {precision} refused by the parity gate: {'; '.join(report['failures'])} "
                         f"[{summarize(report)}]")


def raise_if_failed(target: str, precision: str, report: dict[str, Any]) -> None:
    if not report["passed"]:
        raise GateError(target, precision, report)


def apply_thresholds(report: dict[str, Any], *, target: str, precision: str, thresholds: Thresholds,
                     extra_failures: Sequence[str] = ()) -> dict[str, Any]:
    """Apply the thresholds to a report's figures; adds `gates`, `failures` and `passed`."""
    gates: dict[str, float] = {}
    failures = list(extra_failures)
    max_abs = thresholds.max_abs_for(target, precision)
    if max_abs is not None and "max_abs_diff" in report:
        gates["max_abs_diff"] = max_abs
        if not report["max_abs_diff"] < max_abs:
            failures.append(f"max abs diff {report['max_abs_diff']:.3g} >= {max_abs:g}")
    if "mask_iou_mean" in report:
        gates["mask_iou_mean"] = thresholds.mask_iou
        if not report["mask_iou_mean"] >= thresholds.mask_iou:
            failures.append(f"mask IoU vs PyTorch {report['mask_iou_mean']:.4f} < {thresholds.mask_iou:g}")
    if report.get("fg_iou_drop") is not None:
        gates["fg_iou_drop"] = thresholds.fg_iou_drop
        if not report["fg_iou_drop"] <= thresholds.fg_iou_drop:
            failures.append(f"fg IoU drop {report['fg_iou_drop']:.2f} points > {thresholds.fg_iou_drop:g} "
                            f"({report['fg_iou_pytorch']:.2f} -> {report['fg_iou_artifact']:.2f})")
    if "tile_mask_agreement" in report:
        gates["tile_mean_abs_diff"] = thresholds.tile_mean_abs
        if not report["mean_abs_diff"] <= thresholds.tile_mean_abs:
            failures.append(f"tiles' mean abs diff {report['mean_abs_diff']:.4f} > {thresholds.tile_mean_abs:g}")
        gates["tile_mask_agreement"] = thresholds.tile_agreement
        if not report["tile_mask_agreement"] >= thresholds.tile_agreement:
            failures.append(f"tiles' mask agreement {report['tile_mask_agreement']:.4f} < {thresholds.tile_agreement:g}")
    report["gates"] = gates
    report["failures"] = failures
    report["passed"] = not failures
    return report


def finalize(report: dict[str, Any], *, target: str, precision: str, thresholds: Thresholds,
             spec_checks: dict[str, Any], spec_failures: Sequence[str]) -> dict[str, Any]:
    """Gate the figures together with the spec checks, record both, and refuse a failing artifact."""
    report = apply_thresholds(report, target=target, precision=precision, thresholds=thresholds,
                  extra_failures=spec_failures)
    report["spec_checks"] = spec_checks
    report["spec_failures"] = list(spec_failures)
    raise_if_failed(target, precision, report)
    return report


def summarize(parity: dict[str, Any]) -> str:
    """One short line of the figures, for the summary table."""
    parts = []
    if parity.get("numeric") and "mask_iou_mean" not in parity:
        parts.append(str(parity["numeric"]))
    if "max_abs_diff" in parity:
        parts.append(f"max|d| {parity['max_abs_diff']:.2g}")
    if "tile_mask_agreement" in parity:
        parts.append(f"{parity['n_tiles']} tiles: mean|d| {parity['mean_abs_diff']:.4f}, agreement "
                     f"{parity['tile_mask_agreement']:.4f}")
    if "mask_iou_mean" in parity:
        parts.append(f"mask IoU {parity['mask_iou_mean']:.4f} (min {parity['mask_iou_min']:.3f})")
    if parity.get("fg_iou_drop") is not None:
        parts.append(f"fg IoU {parity['fg_iou_pytorch']:.2f}->{parity['fg_iou_artifact']:.2f} "
                     f"(drop {parity['fg_iou_drop']:+.2f})")
    if "spec_checks" in parity:
        parts.append("spec ok" if not parity.get("spec_failures") else "spec FAILED")
    return ", ".join(parts)
