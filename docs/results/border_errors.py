"""Where the masks go wrong at the frame's borders: on the validation carves (design.md's metrics at the
original resolution), the error pixels of each model in the strips along the four borders (a
portrait's torso and shoulders leave the frame there), split into misses and false alarms, and what
the model would score if the label replaced its mask in those strips (the most a border fix can buy).
Recorded in border_errors.json; docs/experiments.md, session 29.

    python docs/results/border_errors.py exported/portrait-sd-256_int8.tflite [more .tflite/.onnx] \
        [--sets pfcn/train ccp/train] [--strip 0.05]

MediaPipe (../shared/anchors) is measured beside them.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_card import _split  # noqa: E402

from portrait_mobile.atomic import write_text  # noqa: E402
from portrait_mobile.data.carve import carve  # noqa: E402
from portrait_mobile.evaluation.predictors import ArtifactPredictor  # noqa: E402
from portrait_mobile.metrics import THRESHOLD, boundary_iou, iou  # noqa: E402
from portrait_mobile.paths import find_shared  # noqa: E402
from portrait_mobile.reference.mediapipe import MediaPipePredictor, mediapipe_path  # noqa: E402
from portrait_mobile.runtime import Segmenter  # noqa: E402

BORDERS = ("left", "right", "top", "bottom")


def strips(h: int, w: int, share: float) -> dict[str, tuple[slice, slice]]:
    r, c = max(1, round(h * share)), max(1, round(w * share))
    return {"left": (slice(None), slice(0, c)), "right": (slice(None), slice(w - c, w)),
            "top": (slice(0, r), slice(None)), "bottom": (slice(h - r, h), slice(None))}


def score_set(predict, folder, share: float) -> dict:
    errors = {b: {"missed": 0, "false": 0} for b in BORDERS}
    total = {"missed": 0, "false": 0}
    plain, oracle = [], []
    for i in range(len(folder)):
        s = folder[i]
        gt = s.mask > 127
        pred = predict(s.image) > THRESHOLD
        total["missed"] += int((gt & ~pred).sum())
        total["false"] += int((pred & ~gt).sum())
        fixed = pred.copy()
        for b, sl in strips(*gt.shape, share).items():
            errors[b]["missed"] += int((gt[sl] & ~pred[sl]).sum())
            errors[b]["false"] += int((pred[sl] & ~gt[sl]).sum())
            fixed[sl] = gt[sl]
        plain.append((iou(pred, gt), boundary_iou(pred, gt)))
        oracle.append((iou(fixed, gt), boundary_iou(fixed, gt)))
    p, o = np.mean(plain, 0) * 100, np.mean(oracle, 0) * 100
    return {"n_images": len(folder), "fg_iou": p[0], "boundary_iou": p[1], "error_pixels": total,
            "border_error_pixels": errors, "label_in_strips": {"fg_iou": o[0], "boundary_iou": o[1]}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--sets", nargs="+", default=["pfcn/train", "ccp/train"])
    ap.add_argument("--strip", type=float, default=0.05, help="strip width, a share of the image side")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("border_errors.json"))
    args = ap.parse_args()
    predictors = {m.name: ArtifactPredictor(Segmenter.from_file(m, threads=1), name=m.name) for m in args.models}
    predictors["mediapipe"] = MediaPipePredictor(mediapipe_path(None), num_threads=1)
    datasets = find_shared("datasets")
    results = []
    for name in args.sets:
        folder = carve(_split(datasets, name))
        for key, p in predictors.items():
            r = {"model": key, "set": folder.name, **score_set(p.predict, folder, args.strip)}
            results.append(r)
            print(f"{key} on {folder.name}: fg {r['fg_iou']:.2f} boundary {r['boundary_iou']:.2f}; bottom strip "
                  f"missed {r['border_error_pixels']['bottom']['missed']:,} px; label in the strips: fg "
                  f"{r['label_in_strips']['fg_iou']:.2f} boundary {r['label_in_strips']['boundary_iou']:.2f}")
    report = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "definitions": {"source": "docs/design.md", "threshold": THRESHOLD, "strip": args.strip,
                              "carve": "data.carve.carve", "units": "percent; error counts in pixels"},
              "results": results}
    write_text(args.out, json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
