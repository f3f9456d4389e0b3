"""MediaPipe Selfie Segmentation, the reference model: where its files are, and running it through LiteRT.

Torch-free: evaluation, the training cache's teacher and the benchmarks read it from here; the
PyTorch port (`mediapipe_torch`) runs the same file on a training batch.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..contract import ModelContract
from ..errors import ModelLoadError
from ..litert import load_interpreter
from ..model_io import output_to_prob, resize_prob, to_model_input
from ..paths import ANCHORS_ENV, find_shared
from ..runtime.image_input import check_rgb_uint8
from ..tflite_weights import float_weight_count

# The reference models in ../shared/anchors (see its README), by the name reports and flags use.
MEDIAPIPE_FILES = {"mediapipe": "selfie_segmentation.tflite",
                   "mediapipe-landscape": "selfie_segmentation_landscape.tflite"}
MEDIAPIPE_FILE = MEDIAPIPE_FILES["mediapipe"]


def mediapipe_path(path: str | Path | None = None, name: str = "mediapipe", flag: str = "") -> Path:
    """The .tflite of reference `name`: `path` itself, `path`/<its file> for a folder, or, with no
    path, the anchors folder ($PORTRAIT_ANCHORS_DIR, else ../shared/anchors). ModelLoadError if absent."""
    if name not in MEDIAPIPE_FILES:
        raise ValueError(f"unknown reference {name!r}: one of {sorted(MEDIAPIPE_FILES)}")
    p = Path(path) if path is not None else find_shared("anchors", None, flag, env=ANCHORS_ENV)
    if p.is_dir():
        p = p / MEDIAPIPE_FILES[name]
    if not p.is_file():
        raise ModelLoadError(f"MediaPipe reference model not found: {p}")
    return p


class MediaPipePredictor:
    """MediaPipe Selfie Segmentation (the reference in ../shared/anchors) through LiteRT.

    Default delegates: the model's custom op Convolution2DTransposeBias comes from XNNPACK.
    """

    def __init__(self, model_path: str | Path, num_threads: int | None = None,
                 name: str = "mediapipe-selfie") -> None:
        path = mediapipe_path(model_path)
        self.interpreter, ins, outs = load_interpreter(path, num_threads, needed_by="the MediaPipe reference")
        self.params: int | None = float_weight_count(self.interpreter)
        if len(ins) != 1 or len(outs) != 1 or len(ins[0]["shape"]) != 4 or len(outs[0]["shape"]) != 4:
            raise ModelLoadError(f"{path}: expected one NHWC input and output, got "
                                 f"{[d['shape'].tolist() for d in ins]} -> {[d['shape'].tolist() for d in outs]}")
        inp, out = ins[0], outs[0]
        _, h, w, c = (int(v) for v in inp["shape"])
        if c != 3 or inp["dtype"] != np.float32:
            raise ModelLoadError(f"{path}: unexpected input {inp['dtype'].__name__} {inp['shape'].tolist()}")
        self._in, self._out = inp["index"], out["index"]
        self.name = name
        self.path = path
        # From anchors/README.md: float32 RGB in [0, 1], squashed, NHWC; output a probability.
        self.contract = ModelContract(model_name=name, version="mediapipe-0.10.21", input_height=h,
                                      input_width=w, output_height=int(out["shape"][1]),
                                      output_width=int(out["shape"][2]), target="tflite",
                                      input_name=inp["name"], output_name=out["name"])

    def run(self, x: np.ndarray) -> np.ndarray:
        """The model's raw output (1 x H x W x 1 probability) for an input already at its size:
        1 x H x W x 3 float32 RGB in [0, 1]."""
        self.interpreter.set_tensor(self._in, x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._out)

    def predict(self, image: np.ndarray) -> np.ndarray:
        check_rgb_uint8(image)
        y = self.run(to_model_input(image, self.contract))
        return resize_prob(output_to_prob(y, self.contract), *image.shape[:2])


def flip_averaged(predict: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Test-time augmentation: the mean of the prediction and the mirrored prediction of the mirror.

    A better teacher than the model alone (MediaPipe general on PFCN test: 96.40 vs 96.13 fg IoU).
    """

    def predict_flip_avg(image: np.ndarray) -> np.ndarray:
        mirrored = predict(np.ascontiguousarray(image[:, ::-1]))[:, ::-1]
        return 0.5 * (predict(image) + mirrored)

    return predict_flip_avg
