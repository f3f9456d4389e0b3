"""`Segmenter`: one API over ONNX Runtime, LiteRT, Core ML and the PyTorch checkpoint.

    from portrait_mobile.runtime import Segmenter, read_image
    seg = Segmenter.from_file("portrait-sd-256.onnx")        # or .tflite / .mlpackage, or Segmenter.default()
    mask = seg.segment(read_image("me.jpg"))                  # float32 HxW person probability
    seg = Segmenter.default(SegmenterOptions(threads=2, quality="balanced"))  # how it runs, in one object

The artifact's own metadata contract (`portrait_mobile.contract.ModelContract`) says the input size,
layout, dtype, colour order, normalization and quantization: the Segmenter reads it and does all
pre/post-processing through `portrait_mobile.model_io`, so no engine-specific numbers live here.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from ..config import DEFAULT_CONFIG
from ..contract import ModelContract
from ..errors import ModelLoadError
from ..formats import SEGMENTER
from ..model_io import output_to_prob, quantize_input, resize_prob, to_model_input
from ..paths import PACKAGED_SUFFIXES, WEIGHTS_DIR, packaged_artifacts
from . import postprocess
from .backends import Backend, backend_for, check_threads, read_contract_for
from .image_input import check_rgb_uint8, check_rotation, read_image, rotate
from .options import SegmenterOptions
from .postprocess import RegionCleanup

if TYPE_CHECKING:
    from .refiner import TileModel

DEFAULT_MODEL = DEFAULT_CONFIG


def _with(options: SegmenterOptions | None, **given: Any) -> SegmenterOptions:
    """`options` (or the defaults) with the keyword arguments that were given (not None) replacing theirs."""
    chosen = {k: v for k, v in given.items() if v is not None}
    return replace(options or SegmenterOptions(), **chosen)


def _refiner_for(options: SegmenterOptions) -> "TileModel | None":
    """The loaded refiner of quality 'accurate' (None for the other levels); ModelLoadError naming what
    is missing when it cannot run."""
    if options.quality != "accurate":
        return None
    from .refiner import TileModel, packaged_refiner

    path = options.refiner if options.refiner is not None else packaged_refiner(WEIGHTS_DIR)
    return TileModel.from_file(path, threads=options.threads)


class Segmenter:
    """Person segmentation with one loaded model.

    `segment(image)` takes an RGB ``uint8`` NumPy array of shape ``(H, W, 3)`` and returns a float32
    ``(H, W)`` person-probability map at the image's own size. Convert other inputs explicitly with
    `read_image` (files, EXIF-aware) or `to_rgb_uint8` (BGR, grayscale, RGBA, 16-bit, float).
    `options` (SegmenterOptions): how it runs and its quality; a VideoSegmenter on it takes its smoothing.
    """

    def __init__(self, backend: Backend, contract: ModelContract, options: SegmenterOptions | None = None) -> None:
        if contract.role != SEGMENTER:
            raise ModelLoadError(f"{backend.path}: its contract says {contract.role} ({contract.model_name}), not a "
                                 "segmentation model; quality 'accurate' runs a refiner beside one: "
                                 "SegmenterOptions(quality='accurate', refiner=...)")
        self.backend = backend
        self.contract = contract
        self.options = options or SegmenterOptions()  # well-formed: a ModelContract checks itself when it is made
        self.refiner = _refiner_for(self.options)
        # The tensor the contract makes must be one the model takes: refuse a mismatch now, not at
        # the first frame with an engine's raw error.
        probe = quantize_input(to_model_input(np.zeros((1, 1, 3), np.uint8), contract), contract)
        backend.check_input(probe.shape, probe.dtype)

    # --- construction ---------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | os.PathLike, options: SegmenterOptions | None = None, *,
                  threads: int | None = None, backend: str | None = None, contract: ModelContract | None = None,
                  **backend_kwargs: Any) -> "Segmenter":
        """Load an .onnx (ONNX Runtime), .tflite (LiteRT, XNNPACK), .mlpackage (Core ML, macOS only) or a
        .pt checkpoint (PyTorch). `options.engine` forces an engine ("onnx", "litert", "coreml", "torch");
        `contract` overrides the artifact's metadata (for models not made by portrait-export).
        `threads` and `backend` (the engine) are the older spelling of those options, and win over them.
        """
        options = _with(options, engine=backend, threads=check_threads(threads))
        b = backend_for(path, options.engine, threads=options.threads, **backend_kwargs)
        return cls(b, contract if contract is not None else read_contract_for(path, b), options)

    @classmethod
    def default(cls, options: SegmenterOptions | None = None, *, threads: int | None = None) -> "Segmenter":
        """The shipped model, `portrait-sd-256`.

        Uses an exported artifact packaged in `portrait_mobile/weights/` if there is one (``.onnx``
        first, then the int8 ``.tflite`` the package ships), so that only the `runtime` extra is
        needed; otherwise the PyTorch checkpoint ``weights/portrait-sd-256.pt`` through PyTorch (the
        `train` extra), with a RuntimeWarning saying why when a packaged artifact was there but could
        not be loaded. `threads`: None or a positive int (ValueError otherwise), the older spelling of
        `options.threads`; the shipped model picks its own engine. ModelLoadError when nothing can run here.
        """
        options = _with(options, threads=check_threads(threads))
        if options.engine is not None:
            raise ValueError(f"engine {options.engine!r}: the shipped model picks its own engine; load a file "
                             "with Segmenter.from_file to choose one")
        # The refiner first, once: its error is its own, not one more reason each model failed.
        _refiner_for(options)
        problems: list[str] = []
        for p in packaged_artifacts(WEIGHTS_DIR, DEFAULT_MODEL):
            try:
                return cls.from_file(p, options)
            except ModelLoadError as e:
                problems.append(str(e))
        pt = WEIGHTS_DIR / f"{DEFAULT_MODEL}.pt"
        if not pt.is_file():
            names = "/".join(f"{DEFAULT_MODEL}{s}" for s in (*PACKAGED_SUFFIXES, ".pt"))
            raise ModelLoadError(f"the shipped model is missing: no {names} in {WEIGHTS_DIR}"
                                 + (f" ({'; '.join(problems)})" if problems else "") + "; pass a model file")
        try:
            seg = cls.from_file(pt, _with(options, engine="torch"))
        except ModelLoadError as e:
            raise ModelLoadError("; ".join([*problems, str(e)])) from None
        if problems:  # another engine than the packaged artifact's: say so
            warnings.warn(f"Segmenter.default(): using the PyTorch checkpoint {pt.name}, because "
                          f"{'; '.join(problems)}", RuntimeWarning, stacklevel=2)
        return seg

    def close(self) -> None:
        self.backend.close()
        self.refiner = None

    def __enter__(self) -> "Segmenter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        c = self.contract
        return (f"Segmenter({self.backend.name}, {c.model_name} {c.precision} "
                f"{c.input_width}x{c.input_height}, path={str(self.backend.path)!r})")

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) the model runs at."""
        return self.contract.input_height, self.contract.input_width

    # --- inference ------------------------------------------------------------------------------

    def predict_lowres(self, image: np.ndarray, rotation: int = 0) -> np.ndarray:
        """Person probability at the model's resolution, oriented like `image` (float32 h x w).

        The building block of `segment` and of the video smoother: cheap to store and to smooth.
        """
        check_rgb_uint8(image)
        k = check_rotation(rotation)
        upright = rotate(image, k)
        # to_model_input resizes first (INTER_AREA), so a huge photo is never copied as float.
        x = quantize_input(to_model_input(upright, self.contract), self.contract)
        y = self.backend.run(x)
        try:
            prob = output_to_prob(y, self.contract)
        except ValueError as e:
            raise ModelLoadError(f"{self.backend.path}: {e}") from None
        if k:
            prob = np.ascontiguousarray(np.rot90(prob, k=k // 90))  # undo the clockwise rotation
        return prob

    def finish(self, image: np.ndarray, prob_lowres: np.ndarray, refine: bool | None = None,
               keep_largest: bool | None = None, cleanup: RegionCleanup | None = None) -> np.ndarray:
        """Model-resolution probability -> image-size probability, with the post-processing the options
        ask for (`refine` / `keep_largest` / `cleanup` given here win over them): the cleanup of small
        detached regions (and, but for quality "accurate", holes) first, then quality "accurate" runs the
        learned refiner on the contour's tiles, snapped to the photo's edges there (`refine=True` asks for
        the guided filter instead)."""
        accurate = self.refiner is not None and refine is None
        refine = self.options.refine if refine is None else refine
        keep_largest = self.options.keep_largest if keep_largest is None else keep_largest
        cleanup = (self.options.cleanup if cleanup is None else cleanup).for_level("accurate" if accurate else "fast")
        prob_lowres = postprocess.clean_regions(prob_lowres, cleanup)
        if keep_largest:
            prob_lowres = postprocess.keep_largest(prob_lowres)
        if accurate:  # works at 512 on the long side, returns the image's size
            return self.refiner.refine(image, prob_lowres)
        if refine:  # upsamples as it refines: no extra full-size copy
            return postprocess.refine_edges(image, prob_lowres)
        h, w = image.shape[:2]
        return resize_prob(prob_lowres, h, w)  # clean_regions made a copy the caller may own

    def segment(self, image: np.ndarray, *, rotation: int = 0, refine: bool | None = None,
                keep_largest: bool | None = None) -> np.ndarray:
        """RGB uint8 HxWx3 -> float32 HxW person probability in [0, 1], at the image's size.

        rotation: degrees (0/90/180/270) to turn the image *clockwise* so the person is upright before
            the model sees it; the returned mask is still aligned with `image` as given.
        refine: snap the mask's edges to the image with a guided filter at full resolution (default:
            the options' quality: "balanced" refines so, "accurate" with the learned refiner).
        keep_largest: keep only the largest person region (default: the options').
        Raises ImageError for anything but a non-empty RGB uint8 HxWx3 array.
        """
        prob = self.predict_lowres(image, rotation)
        return self.finish(image, prob, refine=refine, keep_largest=keep_largest)

    def segment_binary(self, image: np.ndarray, threshold: float = 0.5, **kwargs: Any) -> np.ndarray:
        """bool HxW person mask: `segment(image, **kwargs) >= threshold`."""
        return postprocess.binary_mask(self.segment(image, **kwargs), threshold)

    def segment_batch(self, images: Iterable[np.ndarray], **kwargs: Any) -> list[np.ndarray]:
        """`segment` for each image (any sizes); the exported models have a fixed batch of one."""
        return [self.segment(im, **kwargs) for im in images]

    def segment_file(self, path: str | os.PathLike, exif: bool = True,
                     **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        """(RGB image, probability) for an image file, EXIF orientation applied unless `exif=False`."""
        image = read_image(path, exif=exif)
        return image, self.segment(image, **kwargs)
