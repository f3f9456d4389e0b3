"""Things that turn an RGB image into a person probability at the image's own size.

Evaluation only sees the `Predictor` protocol, so the PyTorch model, the MediaPipe reference and any
exported artifact (through the runtime's Segmenter) are measured by the same code path.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

from ..contract import ModelContract, pytorch_contract
from ..errors import ModelLoadError
from ..litert import new_interpreter
from ..preprocess import output_to_prob, resize_prob, to_model_input
from ..tflite_weights import float_weight_count

MEDIAPIPE_FILE = "selfie_segmentation.tflite"


@runtime_checkable
class Predictor(Protocol):
    name: str
    # Parameter count for reports; None when unknown.
    params: int | None

    def predict(self, image: np.ndarray) -> np.ndarray:
        """RGB uint8 HxWx3 -> float32 HxW person probability at the image's original size."""
        ...


def _check_image(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 HxWx3 image, got {image.dtype} {image.shape}")


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
        self.contract = pytorch_contract(cfg)

    def predict(self, image: np.ndarray) -> np.ndarray:
        _check_image(image)
        x = self._torch.from_numpy(to_model_input(image, self.contract))
        with self._torch.inference_mode():
            y = self.model(x).numpy()
        return resize_prob(output_to_prob(y, self.contract), *image.shape[:2])


class MediaPipePredictor:
    """MediaPipe Selfie Segmentation (the reference in ../shared/anchors) through LiteRT.

    Default delegates: the model's custom op Convolution2DTransposeBias comes from XNNPACK.
    """

    def __init__(self, model_path: str | Path, num_threads: int | None = None,
                 name: str = "mediapipe-selfie") -> None:
        path = Path(model_path)
        if path.is_dir():
            path = path / MEDIAPIPE_FILE
        if not path.is_file():
            raise ModelLoadError(f"MediaPipe reference model not found: {path}")
        try:
            self.interpreter = new_interpreter(path, threads=num_threads)
        except ImportError:
            raise ModelLoadError("the MediaPipe reference needs ai-edge-litert "
                                 "(pip install 'portrait-mobile[runtime]')") from None
        except (ValueError, RuntimeError) as e:
            raise ModelLoadError(f"cannot load {path}: {e}") from None
        inp = self.interpreter.get_input_details()[0]
        out = self.interpreter.get_output_details()[0]
        _, h, w, c = (int(v) for v in inp["shape"])
        if c != 3 or inp["dtype"] != np.float32:
            raise ModelLoadError(f"{path}: unexpected input {inp['dtype'].__name__} {inp['shape'].tolist()}")
        self._in, self._out = inp["index"], out["index"]
        self.name = name
        self.path = path
        self.params: int | None = float_weight_count(self.interpreter)
        # From anchors/README.md: float32 RGB in [0, 1], squashed, NHWC; output a probability.
        self.contract = ModelContract(model_name=name, version="mediapipe-0.10.21", input_height=h,
                                      input_width=w, output_height=int(out["shape"][1]),
                                      output_width=int(out["shape"][2]), target="tflite",
                                      input_name=inp["name"], output_name=out["name"])

    def predict(self, image: np.ndarray) -> np.ndarray:
        _check_image(image)
        self.interpreter.set_tensor(self._in, to_model_input(image, self.contract))
        self.interpreter.invoke()
        y = self.interpreter.get_tensor(self._out)
        return resize_prob(output_to_prob(y, self.contract), *image.shape[:2])


def flip_averaged(predict: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Test-time augmentation: the mean of the prediction and the mirrored prediction of the mirror.

    A better teacher than the model alone (MediaPipe general on PFCN test: 96.40 vs 96.13 fg IoU).
    """

    def predict_flip_avg(image: np.ndarray) -> np.ndarray:
        mirrored = predict(np.ascontiguousarray(image[:, ::-1]))[:, ::-1]
        return 0.5 * (predict(image) + mirrored)

    return predict_flip_avg


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
        _check_image(image)
        prob = np.asarray(self.segmenter.segment(image, **self.segment_kwargs), dtype=np.float32)
        if prob.ndim == 3 and prob.shape[-1] == 1:
            prob = prob[..., 0]
        if prob.shape != image.shape[:2]:
            # Resizing here would hide a contract bug in the runtime, whose output is image-sized.
            raise ModelLoadError(f"{self.name}: segment() returned shape {prob.shape}, expected the image's "
                                 f"{image.shape[:2]}")
        return prob
