"""Run one predictor over one labelled folder and collect design.md's metrics."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from ..data.folder import PortraitFolder
from ..errors import DatasetError
from ..metrics import MetricAccumulator, MetricResult
from .predictors import Predictor


@dataclass(frozen=True)
class ImageScore:
    id: str
    fg_iou: float  # percent
    boundary_iou: float  # percent


@dataclass
class EvalResult:
    model: str
    dataset: str
    metrics: MetricResult
    per_image: list[ImageScore]
    seconds: float  # wall time of the whole run, decoding and metrics included
    params: int | None = None
    worst: list[ImageScore] = field(default_factory=list)  # lowest fg IoU first

    def to_dict(self, per_image: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {"model": self.model, "set": self.dataset, "params": self.params,
                             "seconds": round(self.seconds, 3), **self.metrics.to_dict(),
                             "worst": [vars(s) for s in self.worst]}
        if per_image:
            d["per_image"] = [vars(s) for s in self.per_image]
        return d


def evaluate(predictor: Predictor, folder: PortraitFolder, progress: bool = True, limit: int | None = None,
             worst: int = 0) -> EvalResult:
    """Metrics of `predictor` on the first `limit` images of `folder` (all when None).

    `worst` > 0 also keeps that many lowest-fg-IoU images, the ones worth looking at first.
    Raises DatasetError for an unlabelled folder or an unreadable/mismatched image or mask.
    """
    if not folder.labelled:
        raise DatasetError(f"{folder.root}: evaluation needs masks")
    n = len(folder) if limit is None else max(0, min(limit, len(folder)))
    if n == 0:
        raise DatasetError(f"{folder.name}: no images to evaluate")
    acc = MetricAccumulator()
    scores: list[ImageScore] = []
    start = time.perf_counter()
    # leave=False: the table printed afterwards is the result; a finished bar is only noise.
    with tqdm(total=n, desc=f"{predictor.name} on {folder.name}", unit="img", disable=not progress,
              leave=False) as bar:
        for i in range(n):
            sample = folder[i]
            assert sample.mask is not None  # labelled folder
            fg, b = acc.update(predictor.predict(sample.image), sample.mask)
            scores.append(ImageScore(sample.id, 100.0 * fg, 100.0 * b))
            bar.update()
    seconds = time.perf_counter() - start
    return EvalResult(model=predictor.name, dataset=folder.name, metrics=acc.result(), per_image=scores,
                      seconds=seconds, params=getattr(predictor, "params", None),
                      worst=sorted(scores, key=lambda s: s.fg_iou)[:max(0, worst)])
