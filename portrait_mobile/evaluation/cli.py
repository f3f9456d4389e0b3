"""portrait-eval: design.md's metrics for checkpoints, exported artifacts and the MediaPipe reference.

Example (the benchmark split, our shipped weights beside the reference):
    portrait-eval --data ../shared/datasets/pfcn:test --reference mediapipe
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from ..cli_support import OneLineParser, non_negative_int, positive_int, run_cli, thread_count
from ..errors import CheckpointError, ModelLoadError, PortraitError
from ..metrics import BOUNDARY_RATIO, THRESHOLD

PROG = "portrait-eval"


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog=PROG, description="Evaluate portrait segmentation models with the metrics of docs/design.md "
                "(fg IoU, 2-class mIoU, boundary IoU; original resolution, threshold 0.5).",
                epilog="example: portrait-eval --data ../shared/datasets/pfcn:test --reference mediapipe")
    p.add_argument("--data", action="append", required=True, metavar="PATH[:SPLIT]",
                   help="labelled folder (images/, masks/, <split>.txt), e.g. ../shared/datasets/pfcn:test; "
                        "repeatable")
    p.add_argument("--weights", action="append", default=[], metavar="CKPT",
                   help="PyTorch checkpoint; repeatable (default: the shipped weights, unless --model or "
                        "--only-reference is given)")
    p.add_argument("--model", action="append", default=[], metavar="PATH",
                   help="exported artifact (.onnx/.tflite/.mlpackage) run through portrait_mobile.runtime; "
                        "repeatable")
    p.add_argument("--refine", action="store_true",
                   help="run --model artifacts with the runtime's guided-filter edge refinement "
                        "(Segmenter.segment(refine=True)): --quality balanced")
    p.add_argument("--quality", choices=("fast", "balanced", "accurate"), default=None,
                   help="run --model artifacts at this runtime quality level (SegmenterOptions.quality; "
                        "accurate: the packaged learned refiner, or --refiner) (default: fast)")
    p.add_argument("--refiner", metavar="PATH", help="--quality accurate: the refiner artifact (portrait-export --refiner)")
    p.add_argument("--no-cleanup", action="store_true",
                   help="run --model artifacts without the runtime's cleanup of small detached regions and holes "
                        "(SegmenterOptions.cleanup): the model's mask as it is, as --weights and --reference are scored")
    p.add_argument("--reference", choices=["mediapipe"], help="also evaluate this reference model")
    p.add_argument("--anchors", type=Path, metavar="DIR",
                   help="folder with the reference .tflite (default: ../shared/anchors next to the cwd or "
                        "the repository)")
    p.add_argument("--only-reference", action="store_true", help="evaluate the reference model alone")
    p.add_argument("--threads", type=thread_count, metavar="N", help="CPU threads per model (default: backend's)")
    p.add_argument("--carve", action="store_true",
                   help="only the validation carve of each --data list, the images portrait-train holds out and "
                        "checkpoints are chosen on (data.carve), e.g. --data ../shared/datasets/pfcn:train --carve")
    p.add_argument("--limit", type=positive_int, metavar="N", help="only the first N images of each set")
    p.add_argument("--worst", type=non_negative_int, default=0, metavar="N",
                   help="list the N images with the lowest fg IoU per model and set")
    p.add_argument("--json", action="store_true", help="print machine-readable results to stdout (no table)")
    p.add_argument("--out", type=Path, metavar="FILE.json", help="also write the JSON results to this file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _load_artifact(path: Path, threads: int | None, quality: str, refiner: str | None = None,
                   cleanup: bool = True) -> Any:
    from .predictors import ArtifactPredictor

    if not path.exists():
        raise ModelLoadError(f"model artifact not found: {path}")
    try:
        from ..runtime import Segmenter  # type: ignore[attr-defined]
    except ImportError as e:
        raise ModelLoadError(f"--model needs portrait_mobile.runtime.Segmenter, which this install lacks ({e})") \
            from None
    try:
        from ..runtime.options import SegmenterOptions
        from ..runtime.postprocess import DEFAULT_CLEANUP, NO_CLEANUP

        options = SegmenterOptions(threads=threads, quality=quality, refiner=refiner,
                                   cleanup=DEFAULT_CLEANUP if cleanup else NO_CLEANUP)
        segmenter = Segmenter.from_file(path, options)
    except PortraitError:
        raise
    except Exception as e:  # backends (onnxruntime, LiteRT, coremltools) raise many types for a bad file
        raise ModelLoadError(f"cannot load {path} ({type(e).__name__}: {e})") from None
    # The names the results JSON (and docs/results/render_readme.py) know each level by; accurate
    # names its refiner's file.
    suffix = {"fast": "", "balanced": " +refine",
              "accurate": f" +accurate {segmenter.refiner.path.name if segmenter.refiner else ''}".rstrip()}[quality]
    return ArtifactPredictor(segmenter, name=f"{path.name}{suffix}{'' if cleanup else ' (no cleanup)'}")


def _load_predictors(args: argparse.Namespace) -> list[Any]:
    from ..reference.mediapipe import MediaPipePredictor, mediapipe_path
    from .predictors import TorchPredictor

    predictors: list[Any] = []
    if not args.only_reference:
        weights: list[Path | None] = list(args.weights)
        if not weights and not args.model:
            weights = [None]
        if weights:  # checkpoints need torch (the train extra); --model artifacts only the runtime
            from ..checkpoint import load_checkpoint
        for w in weights:
            try:
                ckpt = load_checkpoint(w)
            except CheckpointError as e:
                if w is None:
                    raise CheckpointError(f"{e} (pass --weights CKPT or --model PATH)") from None
                raise
            predictors.append(TorchPredictor(ckpt, name=None if w is None else Path(w).name,
                                             num_threads=args.threads))
        if args.refine and args.quality not in (None, "balanced"):
            raise ValueError(f"--refine is --quality balanced, not {args.quality}")
        if args.refiner is not None and args.quality != "accurate":
            raise ValueError("--refiner is the refiner of --quality accurate")
        quality = args.quality or ("balanced" if args.refine else "fast")
        predictors.extend(_load_artifact(Path(m), args.threads, quality, args.refiner, not args.no_cleanup)
                          for m in args.model)
    if args.reference == "mediapipe":
        predictors.append(MediaPipePredictor(mediapipe_path(args.anchors, flag="--anchors"),
                                             num_threads=args.threads))
    return predictors


def _table(results: list[Any]) -> str:
    header = ["model", "set", "n", "fg IoU", "mIoU", "boundary IoU", "params", "s"]
    rows = [[r.model, r.dataset, str(r.metrics.n_images), f"{r.metrics.fg_iou:.2f}", f"{r.metrics.miou:.2f}",
             f"{r.metrics.boundary_iou:.2f}", "-" if r.params is None else f"{r.params:,}", f"{r.seconds:.1f}"]
            for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    # Text columns left-aligned, numbers right-aligned so digits line up.
    fmt = lambda cells: "  ".join(c.ljust(w) if i < 2 else c.rjust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(cells, widths)))
    lines = [fmt(header), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)]
    for r in results:
        if r.worst:
            worst = ", ".join(f"{s.id} ({s.fg_iou:.1f})" for s in r.worst)
            lines.append(f"worst fg IoU, {r.model} on {r.dataset}: {worst}")
    return "\n".join(lines)


def _inputs(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """Every file the run reads, as (flag, path): models with their sidecars, checkpoints (the shipped
    one by default), and each set's list, images/ and masks/."""
    from ..contract_io import sidecar_path
    from ..data.folder import parse_source
    from ..paths import DEFAULT_WEIGHTS

    weights = args.weights or ([] if args.model or args.only_reference else [DEFAULT_WEIGHTS])
    named: list[tuple[str, Any]] = [("--weights", w) for w in weights]
    for flag, path in [*(("--model", m) for m in args.model), ("--refiner", args.refiner)]:
        if path:
            named += [(flag, path), (flag, sidecar_path(path))]
    for spec in args.data:
        root, split = parse_source(spec)
        named += [("--data", root / f"{split}.txt" if split else None), ("--data", root / "images"),
                  ("--data", root / "masks")]
    return named


def run(args: argparse.Namespace) -> dict[str, Any]:
    from ..atomic import write_text
    from ..writable import check_output_file, refuse_collisions
    from ..data.carve import carve
    from ..data.folder import PortraitFolder, parse_source
    from .evaluate import evaluate

    if args.only_reference and not args.reference:
        raise PortraitError("--only-reference needs --reference mediapipe")
    if args.only_reference and (args.weights or args.model):
        raise PortraitError("--only-reference cannot be combined with --weights or --model")
    # Open every set and model, and check --out, first: a typo should fail in a second, not after an
    # hour of evaluation; and --out must not replace (or write into) a file the run reads.
    if args.out is not None:
        refuse_collisions(_inputs(args), [("--out", args.out)])
        check_output_file(args.out, "--out")
    folders = [PortraitFolder(*parse_source(spec)) for spec in args.data]
    if args.carve:
        folders = [carve(f) for f in folders]
    predictors = _load_predictors(args)
    progress = not args.no_progress and sys.stderr.isatty()
    results = [evaluate(p, f, progress=progress, limit=args.limit, worst=max(0, args.worst))
               for p in predictors for f in folders]
    report = {
        "definitions": {"source": "docs/design.md", "threshold": THRESHOLD, "boundary_ratio": BOUNDARY_RATIO,
                        "fg_iou": "mean over images", "miou": "2-class, confusion summed over the set",
                        "boundary_iou": "mean over images", "units": "percent"},
        "results": [r.to_dict() for r in results],
    }
    text = json.dumps(report, indent=2)
    # Printed before the file is written, so a write that fails still leaves the results on screen.
    print(text if args.json else _table(results), flush=True)
    if args.out is not None:
        write_text(args.out, text + "\n")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(PROG, lambda: run(args) and 0)


if __name__ == "__main__":
    sys.exit(main())
