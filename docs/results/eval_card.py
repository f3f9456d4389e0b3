"""Measure what the model card reports beyond the README's table, and record it in card_eval.json.

- Framings: PFCN test as it is (3:4), centre-cropped to 9:16 and top-cropped to 1:1 (phone frames
  the training never saw), for the packaged int8 model and MediaPipe, with design.md's metrics on
  the cropped image and mask.
- Per-source carves: the validation carve portrait-train takes out of each training list
  (`data.carve.is_validation`, the default --val-fraction), never trained on, scored at the original
  resolution like PFCN test (docs/experiments.md's carve figures are at 256x256, a proxy).
- The image counts of every source, for the card's training-data section.

Run by docs/results/refresh.sh after the packaged int8 model is refreshed; needs ../shared.
"""
from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from portrait_mobile.atomic import write_text
from portrait_mobile.data.carve import VAL_FRACTION, carve
from portrait_mobile.data.folder import PortraitFolder
from portrait_mobile.evaluation.predictors import ArtifactPredictor
from portrait_mobile.reference.mediapipe import MediaPipePredictor
from portrait_mobile.metrics import BOUNDARY_RATIO, THRESHOLD, MetricAccumulator
from portrait_mobile.paths import DEFAULT_INT8, find_shared
from portrait_mobile.runtime import Segmenter

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PACKAGED = DEFAULT_INT8
CARVED = ("pfcn/train", "picsart/train", "voc_person/train", "ccp/train", "vitonplus/train")
UNLABELLED = ("picsart_unlabeled", "ccp_unlabeled")
TEST = "pfcn/test"

Crop = Callable[[int, int], tuple[int, int, int, int]]  # (h, w) -> (y0, y1, x0, x1)


def _centre(aspect_w: int, aspect_h: int) -> Crop:
    def crop(h: int, w: int) -> tuple[int, int, int, int]:
        if w * aspect_h > h * aspect_w:  # too wide: trim the sides
            cw = h * aspect_w // aspect_h
            x0 = (w - cw) // 2
            return 0, h, x0, x0 + cw
        ch = w * aspect_h // aspect_w
        y0 = (h - ch) // 2
        return y0, y0 + ch, 0, w
    return crop


def _top_square(h: int, w: int) -> tuple[int, int, int, int]:
    s = min(h, w)
    x0 = (w - s) // 2
    return 0, s, x0, x0 + s  # a square from the top: head and shoulders, as a 1:1 video frame


FRAMINGS: dict[str, Crop | None] = {"as is (3:4)": None, "9:16 centre crop": _centre(9, 16),
                                    "1:1 top crop": _top_square}


def _split(datasets: Path, name: str) -> PortraitFolder:
    folder, _, split = name.partition("/")
    return PortraitFolder(datasets / folder, split or None)


def _score(predictors: dict[str, object], samples: Iterable[tuple[np.ndarray, np.ndarray]]) -> dict:
    accs = {k: MetricAccumulator() for k in predictors}
    for image, mask in samples:
        for k, p in predictors.items():
            accs[k].update(p.predict(image), mask)  # type: ignore[attr-defined]
    return {k: a.result().to_dict() for k, a in accs.items()}


def _framed(folder: PortraitFolder, crop: Crop | None) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    for i in range(len(folder)):
        s = folder[i]
        assert s.mask is not None
        if crop is None:
            yield s.image, s.mask
            continue
        y0, y1, x0, x1 = crop(*s.mask.shape)
        yield np.ascontiguousarray(s.image[y0:y1, x0:x1]), np.ascontiguousarray(s.mask[y0:y1, x0:x1])


def _labelled(folder: PortraitFolder) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    for i in range(len(folder)):
        s = folder[i]
        assert s.mask is not None
        yield s.image, s.mask


def measure(datasets: Path, anchors: Path, model: Path, progress: bool = True) -> dict:
    seg = Segmenter.from_file(model, threads=1)
    predictors = {"ours": ArtifactPredictor(seg, name=model.name),
                  "mediapipe": MediaPipePredictor(anchors, num_threads=1)}
    test = _split(datasets, TEST)
    framings = []
    for label, crop in FRAMINGS.items():
        framings.append({"framing": label, "set": TEST, "n_images": len(test),
                         "results": _score(predictors, _framed(test, crop))})
        if progress:
            print(f"eval_card: {label}: ours {framings[-1]['results']['ours']['fg_iou']:.2f}, "
                  f"MediaPipe {framings[-1]['results']['mediapipe']['fg_iou']:.2f}")
    carves, sources = [], []
    for name in CARVED:
        folder = _split(datasets, name)
        part = carve(folder, VAL_FRACTION)
        sources.append({"name": name, "labelled": True, "n_images": len(folder), "n_carve": len(part)})
        carves.append({"source": name, "n_images": len(part), "results": _score(predictors, _labelled(part))})
        if progress:
            print(f"eval_card: {name} carve ({len(part)}): ours {carves[-1]['results']['ours']['fg_iou']:.2f}, "
                  f"MediaPipe {carves[-1]['results']['mediapipe']['fg_iou']:.2f}")
    for name in UNLABELLED:
        unl = PortraitFolder(datasets / name, None, labelled=False)
        sources.append({"name": name, "labelled": False, "n_images": len(unl), "n_carve": 0})
    sources.append({"name": TEST, "labelled": True, "n_images": len(test), "n_carve": 0})
    return {
        "schema": "portrait-mobile-card-eval/1",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "definitions": {"source": "docs/design.md", "threshold": THRESHOLD, "boundary_ratio": BOUNDARY_RATIO,
                        "resolution": "original (cropped) image", "units": "percent",
                        "carve": f"data.carve.is_validation(id, '<set>/<split>', {VAL_FRACTION})"},
        "models": {"ours": model.name, "ours_version": seg.contract.version,
                   "mediapipe": predictors["mediapipe"].name},
        "framings": framings,
        "carves": carves,
        "sources": sources,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=PACKAGED)
    ap.add_argument("--datasets", type=Path, default=None)
    ap.add_argument("--anchors", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=HERE / "card_eval.json")
    a = ap.parse_args()
    doc = measure(find_shared("datasets", a.datasets), find_shared("anchors", a.anchors), a.model)
    write_text(a.out, json.dumps(doc, indent=1) + "\n")
    print(f"eval_card: wrote {a.out}")


if __name__ == "__main__":
    main()
