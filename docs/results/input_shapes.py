"""Input-shape study (issue 17): the same weights exported at other input sizes, scored on the
per-source carves at the original resolution (design.md's metrics, through the runtime) and
recorded in input_shapes.json; their ARM cost comes from `portrait-bench --profile arm`.

    python docs/results/input_shapes.py exported/a_int8.tflite exported/b_int8.tflite ...

The weights were trained on 256x256 squashes: a shape that wins here without retraining is worth
retraining at; one that loses may still win after it (see docs/experiments.md).
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_card import CARVED, VAL_FRACTION, _labelled, _score, _split  # noqa: E402

from portrait_mobile.atomic import write_text  # noqa: E402
from portrait_mobile.data.carve import carve  # noqa: E402
from portrait_mobile.evaluation.predictors import ArtifactPredictor  # noqa: E402
from portrait_mobile.paths import find_shared  # noqa: E402
from portrait_mobile.runtime import Segmenter  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("input_shapes.json"))
    args = ap.parse_args()
    datasets = find_shared("datasets")
    predictors = {}
    for m in args.models:
        seg = Segmenter.from_file(m, threads=1)
        key = f"{seg.contract.input_height}x{seg.contract.input_width} {m.name}"
        predictors[key] = ArtifactPredictor(seg, name=m.name)
    carves = []
    for name in CARVED:
        folder = _split(datasets, name)
        part = carve(folder, VAL_FRACTION)
        res = _score(predictors, _labelled(part))
        carves.append({"source": name, "n_images": len(part), "results": res})
        print(name, {k: round(v["fg_iou"], 2) for k, v in res.items()})
    score = {k: sum(c["results"][k]["fg_iou"] for c in carves) / len(carves) for k in predictors}
    print("carve score (mean of per-source fg IoU):", {k: round(v, 2) for k, v in score.items()})
    write_text(args.out, json.dumps({
        "schema": "portrait-mobile-input-shapes/1",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "definitions": {"source": "docs/design.md", "resolution": "original image", "units": "percent",
                        "carve": f"data.carve.is_validation(id, '<set>/<split>', {VAL_FRACTION})"},
        "models": list(predictors), "carves": carves, "carve_score": score}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
