"""Things that turn an RGB image into a person probability at the image's own size.

Evaluation only sees the `Predictor` protocol, so the PyTorch model, the MediaPipe reference and any
exported artifact (through the runtime's Segmenter) are measured by the same code path.
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import ModelLoadError
from ..model_io import output_to_prob, resize_prob, to_model_input
from ..runtime.image_input import check_rgb_uint8


@runtime_checkable
class Predictor(Protocol):
    name: str
    # Parameter count for reports; None when unknown.
    params: int | None

    def predict(self, image: np.ndarray) -> np.ndarray:
        """RGB uint8 HxWx3 -> float32 HxW person probability at the image's original size."""
        ...


class TorchPredictor:
    """The PyTorch model of a checkpoint (fp32, CPU): the accuracy the exports are compared against."""

    def __init__(self, checkpoint: Any, name: str | None = None, num_threads: int | None = None) -> None:
        import torch

        from ..checkpoint import Checkpoint
        from ..model import PortraitNet, count_parameters

        if isinstance(checkpoint, Checkpoint):
            model: PortraitNet = checkpoint.build()
        elif isinstance(checkpoint, PortraitNet):
            model = checkpoint.eval()
        else:
            raise TypeError(f"expected a Checkpoint or PortraitNet, got {type(checkpoint).__name__}")
        if num_threads:
            # torch's thread count is process-wide; the caller asked for it explicitly.
            torch.set_num_threads(num_threads)
        self._torch = torch
        self.model = model
        cfg = model.config
        self.name = name or cfg.name
        self.params: int | None = count_parameters(model)
        self.contract = model.contract()

    def predict(self, image: np.ndarray) -> np.ndarray:
        check_rgb_uint8(image)
        x = self._torch.from_numpy(to_model_input(image, self.contract))
        with self._torch.inference_mode():
            y = self.model(x).numpy()
        return resize_prob(output_to_prob(y, self.contract), *image.shape[:2])


class ArtifactPredictor:
    """Adapter for anything with `.segment(image) -> HxW probability` (the runtime's Segmenter)."""

    def __init__(self, segmenter: Any, name: str, params: int | None = None, **segment_kwargs: Any) -> None:
        if not callable(getattr(segmenter, "segment", None)):
            raise TypeError(f"{type(segmenter).__name__} has no segment(image) method")
        self.segmenter = segmenter
        self.segment_kwargs = segment_kwargs  # e.g. refine=True: the runtime's post-processing
        self.name = name
        self.params = params if params is not None else getattr(segmenter, "params", None)

    def predict(self, image: np.ndarray) -> np.ndarray:
        check_rgb_uint8(image)
        prob = np.asarray(self.segmenter.segment(image, **self.segment_kwargs), dtype=np.float32)
        if prob.ndim == 3 and prob.shape[-1] == 1:
            prob = prob[..., 0]
        if prob.shape != image.shape[:2]:
            # Resizing here would hide a contract bug in the runtime, whose output is image-sized.
            raise ModelLoadError(f"{self.name}: segment() returned shape {prob.shape}, expected the image's "
                                 f"{image.shape[:2]}")
        return prob
