"""The one parity check every target runs: the artifact vs the PyTorch fp32 model on real images.

Each artifact is driven exactly as the runtime drives it, by construction: opened by the backend
its format's row names (`open_artifact`, `portrait_mobile.runtime.backends`) and run through a
`Segmenter` on its own contract (`Segmenter.predict_lowres`), so a wrong layout, scale or dtype in
the contract fails here instead of in an app. Figures:

- max_abs_diff / mean_abs_diff: |artifact - PyTorch| of the probability at model resolution.
- mask_iou_mean / mask_iou_min: IoU of the two binary masks at image resolution (design.md's
  "export fidelity"), per image.
- fg_iou_pytorch / fg_iou_artifact / fg_iou_drop: fg IoU (design.md) against the ground truth of the
  labelled sample, in points; drop = PyTorch - artifact.

This module measures; `gate.py` judges the figures (once, in `gate.finalize`).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from portrait_mobile.contract import ModelContract, pytorch_contract
from portrait_mobile.data.folder import Sample
from portrait_mobile.errors import ModelLoadError
from portrait_mobile.formats import EXPORT_FORMATS
from portrait_mobile.metrics import iou
from portrait_mobile.model_io import output_to_prob, resize_prob, to_model_input
from portrait_mobile.runtime.backends import Backend, backend_for
from portrait_mobile.runtime.segmenter import Segmenter

# Runs the artifact on one input already in the contract's layout/dtype; returns the raw output.
RawPredict = Callable[[np.ndarray], np.ndarray]


def open_artifact(path: Any, target: str, threads: int | None = None) -> Backend:
    """The artifact opened as the runtime opens it: the backend of its target's row in the formats registry."""
    return backend_for(path, EXPORT_FORMATS[target].backend, threads=threads)


class _FunctionBackend(Backend):
    """A raw predict function as a backend (for an engine the runtime does not run, and for tests)."""

    name = "function"

    def __init__(self, predict: RawPredict) -> None:
        super().__init__(None)
        self._predict = predict

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._predict(x))


class Reference:
    """PyTorch fp32 predictions on the validation sample, computed once and shared by every target."""

    def __init__(self, model: Any, samples: Sequence[Sample], source: str = "") -> None:
        import torch

        self.samples = list(samples)
        self.source = source
        self.contract = pytorch_contract(model.config)  # how the PyTorch model is fed
        self.labelled = bool(self.samples) and all(s.mask is not None for s in self.samples)
        self.probs: list[np.ndarray] = []  # model resolution
        self.masks: list[np.ndarray] = []  # bool, image resolution
        fg: list[float] = []
        with torch.inference_mode():
            for s in self.samples:
                x = torch.from_numpy(to_model_input(s.image, self.contract))
                prob = output_to_prob(model(x).numpy(), self.contract)
                self.probs.append(prob)
                mask = resize_prob(prob, *s.image.shape[:2]) > 0.5
                self.masks.append(mask)
                if self.labelled:
                    fg.append(iou(mask, s.mask))
        self.fg_iou = 100.0 * float(np.mean(fg)) if fg else None

    def compare(self, predict: Backend | RawPredict, contract: ModelContract, *, target: str) -> dict[str, Any]:
        """`compare` on this reference (what the exporter calls: the refiner's reference has its own)."""
        return compare(self, predict, contract, target=target)


def compare(reference: Reference, predict: Backend | RawPredict, contract: ModelContract, *,
            target: str) -> dict[str, Any]:
    """Run the artifact (its runtime backend, or a raw predict function) on the reference sample through
    the runtime's Segmenter: the figures (`gate.finalize` judges them)."""
    if not reference.samples:
        raise ValueError("parity needs at least one image")
    backend = predict if isinstance(predict, Backend) else _FunctionBackend(predict)
    segmenter = Segmenter(backend, contract)
    diffs_max, diffs_mean, mask_ious, fg = [], [], [], []
    expected = (contract.output_height or contract.input_height, contract.output_width or contract.input_width)
    for s, ref_prob, ref_mask in zip(reference.samples, reference.probs, reference.masks):
        try:
            prob = segmenter.predict_lowres(s.image)
        except ModelLoadError as e:  # an output the contract cannot decode
            raise ValueError(f"{target}: {e}: layout or size mismatch") from None
        if prob.shape != ref_prob.shape or prob.shape != expected:
            raise ValueError(f"{target} output is {prob.shape[0]}x{prob.shape[1]}, "
                             f"expected {expected[0]}x{expected[1]}: layout or size mismatch")
        d = np.abs(prob.astype(np.float64) - ref_prob)
        diffs_max.append(float(d.max()) if np.isfinite(d).all() else math.inf)
        diffs_mean.append(float(d.mean()) if np.isfinite(d).all() else math.inf)
        mask = resize_prob(np.nan_to_num(prob, nan=0.0), *s.image.shape[:2]) > 0.5
        mask_ious.append(iou(mask, ref_mask))
        if reference.labelled:
            fg.append(iou(mask, s.mask))
    report: dict[str, Any] = {
        "n_images": len(reference.samples),
        "sample": reference.source,
        "max_abs_diff": max(diffs_max),
        "mean_abs_diff": float(np.mean(diffs_mean)),
        "mask_iou_mean": float(np.mean(mask_ious)),
        "mask_iou_min": float(np.min(mask_ious)),
    }
    if reference.labelled:
        art = 100.0 * float(np.mean(fg))
        report.update(fg_iou_pytorch=reference.fg_iou, fg_iou_artifact=art, fg_iou_drop=reference.fg_iou - art)
    return report
