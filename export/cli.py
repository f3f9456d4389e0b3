"""portrait-export: the exported model files, each checked against PyTorch before it is written.

    portrait-export                                   # every target, default weights -> ./exported/
    portrait-export --target tflite --precision int8 fp32 --weights run/best.pt
    portrait-export --target onnx --dynamic-batch --out build/models
    portrait-export --refiner                         # the edge refiner of quality "accurate", every target
    portrait-export --target tflite --weights runs/refine/t40/best.pt   # a refiner checkpoint: known by its kind

Exit status: 0 all written; 1 an export failed or a parity gate refused an artifact (the measured
figures are printed; nothing is written for that target); 2 bad usage (flags, weights, folders).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

PROG = "portrait-export"

from portrait_mobile.cli_support import (OneLineParser, fraction, non_negative_float, positive_int,
                                         run_cli)
from portrait_mobile.paths import DEFAULT_WEIGHTS
from portrait_mobile.refine.config import DEFAULT_REFINER


def build_parser() -> argparse.ArgumentParser:
    from .context import INT8_GRANULARITY, PRECISIONS, TARGETS, ExportOptions
    from .gate import Thresholds

    d = Thresholds()
    p = OneLineParser(prog=PROG, description="Export a portrait-mobile checkpoint to ONNX, int8 TFLite and Core ML, "
                "each gated by a parity check against the PyTorch model on real images.",
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--target", nargs="+", default=["all"], metavar="T",
                   help=f"what to export: {', '.join(TARGETS)} or all")
    p.add_argument("--weights", default=None, metavar="CKPT",
                   help="checkpoint file, a segmentation model's or an edge refiner's (known by its format) "
                        f"(default: the shipped portrait_mobile/weights/{DEFAULT_WEIGHTS.name}; with --refiner, "
                        f"{DEFAULT_REFINER}.pt)")
    p.add_argument("--refiner", action="store_true",
                   help="export the edge refiner of quality 'accurate' (4-channel tiles on the coarse contour), "
                        "not the segmentation model: the shipped one, or --weights, which must then be a "
                        "refiner's checkpoint; its parity is checked on contour tiles of the parity images")
    p.add_argument("--out", default="exported", metavar="DIR", help="output folder")
    p.add_argument("--imgsz", nargs="+", type=positive_int, default=None, metavar="N",
                   help="input size H W (or one N for NxN); default: the checkpoint's")
    p.add_argument("--precision", nargs="+", default=None, choices=PRECISIONS, metavar="P",
                   help="fp32, fp16 and/or int8 for tflite (default int8) and coreml (default fp16; int8 = "
                        "8-bit weights); ONNX is always fp32")
    p.add_argument("--calib", default=None, metavar="DIR",
                   help="calibration images (folder of images, or a dataset folder DIR[:split]); default: the "
                        "statistics saved beside the weights if they fit them (the shipped weights have them), "
                        "else a deterministic sample of ../shared/datasets pfcn/train + picsart/train")
    p.add_argument("--save-calibration", action="store_true",
                   help="calibrate the int8 TFLite on images (--calib, or ../shared/datasets) and save the "
                        "statistics beside the weights (<weights>.int8-calibration.json), where later exports "
                        "of the same weights find them and need no images; run it after shipping new weights")
    p.add_argument("--calib-n", type=positive_int, default=100, metavar="N", help="calibration images to use")
    p.add_argument("--val", default=None, metavar="DIR",
                   help="parity images (with masks/ for the fg IoU figures); default: held out from the "
                        "calibration pool")
    p.add_argument("--val-n", type=positive_int, default=100, metavar="N", help="parity images to use")
    # The converters' options (context.ExportOptions): unset, a target's default applies; one that no
    # requested target takes is refused.
    opts = ExportOptions()
    p.add_argument("--dynamic-batch", action="store_true", default=argparse.SUPPRESS,
                   help="ONNX: symbolic batch dimension")
    p.add_argument("--opset", type=int, default=argparse.SUPPRESS, help=f"ONNX opset (default {opts.opset})")
    p.add_argument("--int8-granularity", choices=tuple(INT8_GRANULARITY), default=argparse.SUPPRESS,
                   help="TFLite int8 weight scales: one per output channel, one per tensor, or auto: per tensor "
                        "only for convs whose channels quantize almost as well with one scale (smaller file, "
                        f"no measured accuracy change; default {opts.int8_granularity})")
    g = p.add_argument_group("parity gates (an artifact that misses one is not written)")
    g.add_argument("--onnx-max-abs", type=non_negative_float, default=d.onnx_max_abs, metavar="X",
                   help="ONNX: max |prob - PyTorch|")
    g.add_argument("--fp32-max-abs", type=non_negative_float, default=d.fp32_max_abs, metavar="X",
                   help="TFLite/Core ML fp32: max |prob - PyTorch|")
    g.add_argument("--fp16-max-abs", type=non_negative_float, default=d.fp16_max_abs, metavar="X",
                   help="TFLite/Core ML fp16: max |prob - PyTorch| (Core ML: macOS only)")
    g.add_argument("--min-mask-iou", type=fraction, default=d.mask_iou, metavar="X",
                   help="every target: mean IoU of its mask vs the PyTorch fp32 mask")
    g.add_argument("--max-fg-iou-drop", type=non_negative_float, default=d.fg_iou_drop, metavar="PTS",
                   help="every target: PyTorch fg IoU minus the artifact's, in points, on the labelled sample")
    g.add_argument("--max-tile-mean-abs", type=non_negative_float, default=d.tile_mean_abs, metavar="X",
                   help="an edge refiner, every target: mean |prob - PyTorch| over its contour tiles' outputs")
    g.add_argument("--min-tile-agreement", type=fraction, default=d.tile_agreement, metavar="X",
                   help="an edge refiner, every target: share of its tiles' output pixels on PyTorch's side of 0.5")
    p.add_argument("--demo-assets", action="store_true",
                   help="copy the exported models and contracts into the demo apps (export/demo_assets.py)")
    return p


def _fmt_table(results) -> str:
    from .gate import summarize

    rows = [("target", "precision", "file", "KB", "time s", "status", "parity")]
    for r in results:
        status = "ok" if r.passed else "REFUSED" if r.parity.get("failures") else "FAILED"
        rows.append((r.target, r.precision, r.path.name if r.passed else f"({r.path.name} not written)",
                     f"{r.size_kb:.1f}" if r.passed else "-", f"{r.seconds:.1f}", status,
                     summarize(r.parity) if r.parity else r.error))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for j, row in enumerate(rows):
        cells = [str(c).ljust(widths[i]) if i != 3 else str(c).rjust(widths[i]) for i, c in enumerate(row[:-1])]
        lines.append("  ".join(cells + [str(row[-1])]))
        if j == 0:
            lines.append("-" * (sum(widths) + 2 * len(widths) + 6))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    # run_cli: ^C and SIGTERM stop it every time (exit 130/143; artifacts are renamed into place only
    # when checked, so nothing is half-written), and a missing torch names the extra to install.
    return run_cli(PROG, lambda: _main(argv))


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from portrait_mobile.errors import CheckpointError, DatasetError, ExportError

    from .api import export
    from .context import ExportUsageError
    from .gate import Thresholds

    imgsz = None
    if args.imgsz is not None:
        if len(args.imgsz) not in (1, 2):
            parser.error("--imgsz takes H W or a single N")
        imgsz = (args.imgsz[0], args.imgsz[-1])
    thresholds = Thresholds(onnx_max_abs=args.onnx_max_abs, fp32_max_abs=args.fp32_max_abs,
                            fp16_max_abs=args.fp16_max_abs, mask_iou=args.min_mask_iou,
                            fg_iou_drop=args.max_fg_iou_drop, tile_mean_abs=args.max_tile_mean_abs,
                            tile_agreement=args.min_tile_agreement)
    t0 = time.perf_counter()

    def progress(r) -> None:
        mark = "ok" if r.passed else "refused" if r.parity.get("failures") else "failed"
        print(f"  {r.target} {r.precision}: {mark} ({r.seconds:.1f} s)", file=sys.stderr, flush=True)

    results = None
    try:
        results = export(args.target, weights=args.weights, out_dir=args.out, precision=args.precision,
                         imgsz=imgsz, calib=args.calib, thresholds=thresholds, demo_assets=args.demo_assets,
                         val=args.val, n_calib=args.calib_n, n_val=args.val_n,
                         dynamic_batch=getattr(args, "dynamic_batch", None), opset=getattr(args, "opset", None),
                         int8_granularity=getattr(args, "int8_granularity", None), on_result=progress,
                         save_calibration=args.save_calibration, refiner=args.refiner,
                         on_note=lambda note: print(f"{PROG}: note: {note}", file=sys.stderr, flush=True))
    except (ExportUsageError, CheckpointError, DatasetError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except ExportError as e:
        results = getattr(e, "results", None)
        if results:
            _print_summary(results, args.out, time.perf_counter() - t0)
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    _print_summary(results, args.out, time.perf_counter() - t0)
    return 0


def _print_summary(results, out: str, seconds: float) -> None:
    print(_fmt_table(results))
    written = [r for r in results if r.passed]
    samples = {r.parity["sample"] for r in results if r.parity.get("sample")}
    for sample in sorted(samples):
        print(f"parity checked on: {sample}")
    for r in results:
        if r.parity.get("calibration"):
            print(f"{r.target} {r.precision} calibrated on: {r.parity['calibration']}")
    print(f"{len(written)}/{len(results)} artifacts written to {Path(out)}/ with their .json contracts "
          f"in {seconds:.1f} s")


if __name__ == "__main__":
    raise SystemExit(main())
