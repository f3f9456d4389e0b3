"""`export()`: checkpoint -> ONNX / TFLite / Core ML artifacts, each gated by its parity check.

    from portrait_export.api import export
    results = export(["onnx", "tflite"], weights="run/best.pt", out_dir="exported")

Each artifact is written only if its check passes (temp file, check, rename); its sidecar JSON
(`<artifact>.json`) holds the contract, the parity report and how it was made.

The weights are a segmentation model's checkpoint or an edge refiner's (quality "accurate"; its
kind read from the file): `export(..., refiner=True)` exports the shipped refiner, or asserts that
`weights` is one.
"""
from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from portrait_mobile import interrupts
from portrait_mobile.errors import CheckpointError, DatasetError, ExportError
from portrait_mobile.formats import EDGE_REFINER, EXPORT_FORMATS
from portrait_mobile.writable import OutputError, check_creatable_dir

from .context import (DEFAULT_PRECISION, MAX_IMGSZ, PRECISIONS, SUPPORTED_PRECISIONS, TARGETS, ExportContext,
                   ExportResult, ExportUsageError, resolve_options)
from .gate import GateError, Thresholds

__all__ = ["export", "ExportResult", "Thresholds", "plan", "TARGETS", "PRECISIONS"]


def plan(targets: Iterable[str] | str, precision: Sequence[str] | str | None = None) -> list[tuple[str, str]]:
    """(target, precision) pairs to make, in order. ONNX is always fp32 (--precision does not apply)."""
    if isinstance(targets, str):
        targets = [targets]
    names: list[str] = []
    for t in targets:
        t = t.lower()
        expanded = list(TARGETS) if t == "all" else [t]
        for x in expanded:
            if x not in TARGETS:
                raise ExportUsageError(f"unknown target {t!r} (choose from {', '.join(TARGETS)}, all)")
            if x not in names:
                names.append(x)
    if not names:
        raise ExportUsageError("no target given")
    if isinstance(precision, str):
        precision = [precision]
    precs = [p.lower() for p in precision] if precision else []
    for p in precs:
        if p not in PRECISIONS:
            raise ExportUsageError(f"unknown precision {p!r} (choose from {', '.join(PRECISIONS)})")
    out: list[tuple[str, str]] = []
    for t in names:
        chosen = [p for p in dict.fromkeys(precs) if p in SUPPORTED_PRECISIONS[t]]
        if len(SUPPORTED_PRECISIONS[t]) == 1 or not chosen:
            chosen = [DEFAULT_PRECISION[t]]
        out += [(t, p) for p in chosen]
    return out


def prepare_model(checkpoint: Any, imgsz: tuple[int, int] | None) -> Any:
    """The eval-mode fp32 model with BatchNorm folded, at `imgsz` if given (weights are size-free; an
    edge refiner's input is its tile, fixed by its config)."""
    from portrait_mobile.model import build_model

    if checkpoint.role == EDGE_REFINER:
        if imgsz is not None:
            raise ExportUsageError(f"--imgsz: an edge refiner's input is its tile ({checkpoint.config.tile}x"
                                   f"{checkpoint.config.tile}, its config {checkpoint.config.name})")
        return copy.deepcopy(checkpoint.build()).fuse_for_export().eval()
    cfg = checkpoint.config
    if imgsz is not None:
        try:
            cfg = cfg.with_input_size(int(imgsz[0]), int(imgsz[1]))
        except ValueError as e:
            raise ExportUsageError(f"--imgsz: {e}") from None
    model = build_model(cfg)
    try:
        model.load_state_dict(checkpoint.state_dict)
    except RuntimeError as e:
        raise CheckpointError(f"weights do not match config {cfg.name}: {str(e).splitlines()[0]}") from None
    model.eval()
    return copy.deepcopy(model).fuse_for_export().eval()


def load_weights(weights: str | Path | Any | None, refiner: bool) -> Any:
    """The checkpoint to export: `weights` (a path, of either kind, or a loaded one), else the shipped
    segmentation model's, or with `refiner` the shipped refiner's. ExportUsageError when `refiner` is
    asked of a segmentation model's checkpoint."""
    from portrait_mobile.checkpoint import WeightsFile, load_any, load_checkpoint

    if isinstance(weights, WeightsFile):
        ckpt = weights
    elif weights is not None:
        ckpt = load_any(weights)
    elif refiner:
        from portrait_mobile.refine.checkpoint import DEFAULT_REFINER_WEIGHTS, RefinerCheckpoint

        ckpt = RefinerCheckpoint.load(DEFAULT_REFINER_WEIGHTS)
    else:
        ckpt = load_checkpoint(None)
    if refiner and ckpt.role != EDGE_REFINER:
        raise ExportUsageError(f"--refiner exports an edge refiner, and {weights} is a {ckpt.role}'s checkpoint")
    return ckpt


def weights_source(weights: str | Path | Any | None, ckpt: Any) -> str | Path | Any | None:
    """What Int8Calibration.plan looks beside for saved statistics: `weights`, or the shipped file of
    the checkpoint's kind."""
    if weights is not None or ckpt.role != EDGE_REFINER:
        return weights
    from portrait_mobile.refine.checkpoint import DEFAULT_REFINER_WEIGHTS

    return DEFAULT_REFINER_WEIGHTS


def check_writable(out_dir: Path) -> None:
    try:
        check_creatable_dir(out_dir, "--out")
    except OutputError as e:
        raise ExportUsageError(str(e)) from None


def export(targets: Iterable[str] | str = "all", weights: str | Path | Any | None = None,
           out_dir: str | Path = "exported", precision: Sequence[str] | str | None = None,
           imgsz: tuple[int, int] | None = None, calib: str | Path | None = None,
           thresholds: Thresholds | None = None, demo_assets: bool = False, *, val: str | Path | None = None,
           n_calib: int = 100, n_val: int = 100, dynamic_batch: bool | None = None, opset: int | None = None,
           int8_granularity: str | None = None, raise_on_failure: bool = True,
           on_result: Callable[[ExportResult], None] | None = None,
           save_calibration: bool = False, refiner: bool = False,
           on_note: Callable[[str], None] | None = None) -> list[ExportResult]:
    """Export `weights` (a checkpoint path of either kind, a loaded checkpoint, or None for the shipped
    default: the segmentation model's, or with `refiner` the edge refiner's).

    Every target is attempted; a failed one is reported in its ExportResult (passed=False, nothing
    written). With `raise_on_failure` an ExportError naming every failure (and carrying `.results`)
    is raised at the end. Bad arguments raise ExportUsageError; a bad checkpoint CheckpointError;
    missing images DatasetError.

    TFLite int8 without `calib` uses the statistics saved beside the checkpoint when they fit its
    weights (the shipped weights have them), so it needs no images; `save_calibration` calibrates on
    images and saves the statistics there, once the int8 artifact passed its gate
    (`int8_calibration.Int8Calibration`).

    `dynamic_batch`, `opset` and `int8_granularity` are the converters' options (context.ExportOptions;
    None: the default): each goes to the targets whose row takes it, and one that none of `targets`
    takes is an ExportUsageError.

    `on_note` gets a one-line note when a file of the model card's name in `out_dir` is not the card and
    is kept (`metadata.copy_model_card`; None: a warning).
    """
    from .calibration import load_image_sets
    from .context import weights_sha256
    from .exporter import export_target
    from .int8_calibration import IMAGES, Int8Calibration
    from .parity import Reference

    jobs = plan(targets, precision)
    thresholds = thresholds or Thresholds()
    options = resolve_options([t for t, _ in jobs], {"dynamic_batch": dynamic_batch or None, "opset": opset,
                                                     "int8_granularity": int8_granularity})
    need_calib = any(p in EXPORT_FORMATS[t].calibrated for t, p in jobs)
    if save_calibration and not need_calib:
        raise ExportUsageError("--save-calibration saves the int8 calibration: it needs the tflite target at "
                               "int8 precision (e.g. --target tflite)")
    if imgsz is not None and (len(imgsz) != 2 or min(int(v) for v in imgsz) <= 0):
        raise ExportUsageError(f"--imgsz needs two positive sizes H W, got {list(imgsz)}")
    if imgsz is not None and max(int(v) for v in imgsz) > MAX_IMGSZ:
        raise ExportUsageError(f"--imgsz {imgsz[0]} {imgsz[1]}: at most {MAX_IMGSZ} per side")
    out = Path(out_dir)
    check_writable(out)
    demo_root = _demo_root() if demo_assets else None
    ckpt = load_weights(weights, refiner)
    model = prepare_model(ckpt, imgsz)
    sha256 = weights_sha256(ckpt)
    calibration = (Int8Calibration.plan(weights_source(weights, ckpt), sha256, model.config.input_size,
                                        images_given=calib is not None, save=save_calibration)
                   if need_calib else None)
    images = load_image_sets(calib, val, n_calib=n_calib, n_val=n_val,
                             need_calib=calibration is not None and calibration.source == IMAGES,
                             no_stats_reason=calibration.no_saved_reason if calibration else "")
    samples = images.validation_samples()
    if ckpt.role == EDGE_REFINER:
        from .refiner_parity import TileReference, packaged_coarse

        reference = TileReference(model, ckpt.contract(), samples, images.val_source, packaged_coarse())
    else:
        reference = Reference(model, samples, images.val_source)
    ctx = ExportContext(checkpoint=ckpt, model=model, out_dir=out, thresholds=thresholds, images=images,
                        reference=reference, options=options, weights_sha256=sha256, calibration=calibration)
    results: list[ExportResult] = []
    for target, prec in jobs:
        t0 = time.perf_counter()
        try:
            res = export_target(ctx, target, prec)
        except GateError as e:
            res = _failed(ctx, target, prec, t0, str(e), e.report)
        except (ExportError, DatasetError) as e:
            res = _failed(ctx, target, prec, t0, str(e), {})
        except Exception as e:  # a converter crash must not hide the other targets' results
            res = _failed(ctx, target, prec, t0, f"{target} {prec}: {type(e).__name__}: {e}", {})
        interrupts.check()  # a signal a converter dropped, or turned into its own error, stops here
        results.append(res)
        if on_result is not None:
            on_result(res)
    failed = [r for r in results if not r.passed]
    if any(r.passed and r.contract is not None and r.contract.model_card for r in results):
        from .metadata import copy_model_card

        copy_model_card(out, on_note)  # the card the artifacts' metadata names travels with them
    if demo_root is not None and not failed:
        from . import demo_assets as da

        da.copy_to_demos(results, demo_root)
    if failed and raise_on_failure:
        err = ExportError("; ".join(r.error for r in failed))
        err.results = results  # type: ignore[attr-defined]
        raise err
    return results


def _failed(ctx: ExportContext, target: str, prec: str, t0: float, msg: str, report: dict) -> ExportResult:
    path = ctx.artifact_path(target, prec)
    from portrait_mobile.contract_io import sidecar_path

    return ExportResult(target, prec, path, sidecar_path(path), None, report, 0, time.perf_counter() - t0,
                        passed=False, error=msg)


def _demo_root() -> Path:
    """The checkout whose demo apps --demo-assets fills, found before any export runs: an install from
    a wheel has none, and says so at once."""
    from .demo_assets import DemoAssetError, default_repo_root

    try:
        return default_repo_root()
    except DemoAssetError as e:
        raise ExportUsageError(f"--demo-assets: {e}") from None
