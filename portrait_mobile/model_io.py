"""Image <-> model tensor conversions, driven by the model contract: the one home of the model's
input and output encoding for every backend, evaluation, export and training."""
from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from .contract import ModelContract

if TYPE_CHECKING:
    import torch


def to_model_input(image: np.ndarray, contract: ModelContract) -> np.ndarray:
    """RGB uint8 HxWx3 -> float32 batch of one in the contract's layout, size and normalization.

    Returns float32 even for quantized inputs; `quantize_input` maps it to the int type.
    """
    h, w = contract.input_height, contract.input_width
    if contract.color_order == "BGR":
        image = image[..., ::-1]
    # INTER_AREA when shrinking avoids aliasing on large photos; linear when enlarging.
    interp = cv2.INTER_AREA if image.shape[0] > h or image.shape[1] > w else cv2.INTER_LINEAR
    x = cv2.resize(np.ascontiguousarray(image), (w, h), interpolation=interp).astype(np.float32) / 255.0
    mean = np.asarray(contract.mean, np.float32)
    std = np.asarray(contract.std, np.float32)
    if mean.any() or (std != 1).any():
        x = (x - mean) / std
    x = x[None]
    if contract.input_layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x)


def pixels_to_unit(pixels: "torch.Tensor") -> "torch.Tensor":
    """uint8 NHWC RGB pixels (a torch batch, any device) -> float NCHW in [0, 1]: the space training
    augments in; `unit_to_model_input` takes it from there to the model."""
    return pixels.permute(0, 3, 1, 2).float() / 255.0


def unit_to_model_input(x: "torch.Tensor", contract: ModelContract) -> "torch.Tensor":
    """A torch batch of RGB images in [0, 1], NCHW, already at the input size -> the tensor the
    PyTorch model of `contract` takes (its colour order, normalization and layout), as
    `to_model_input` does for one image. With the shipped contract (RGB, no normalization, NCHW)
    it returns `x` itself."""
    if contract.color_order == "BGR":
        x = x.flip(1)
    if any(contract.mean) or any(v != 1 for v in contract.std):
        mean = x.new_tensor(contract.mean).view(1, 3, 1, 1)
        std = x.new_tensor(contract.std).view(1, 3, 1, 1)
        x = (x - mean) / std
    if contract.input_layout == "NHWC":
        x = x.permute(0, 2, 3, 1)
    return x


def quantize_input(x: np.ndarray, contract: ModelContract) -> np.ndarray:
    q = contract.input_quant
    if q is None:
        return x.astype(np.float32)
    info = np.iinfo(np.dtype(q.dtype))
    return np.clip(np.round(x / q.scale + q.zero_point), info.min, info.max).astype(q.dtype)


def dequantize_output(y: np.ndarray, contract: ModelContract) -> np.ndarray:
    q = contract.output_quant
    if q is None:
        return y.astype(np.float32)
    return (y.astype(np.float32) - q.zero_point) * q.scale


def output_to_prob(y: np.ndarray, contract: ModelContract) -> np.ndarray:
    """Raw model output (batch of one, any layout) -> float32 HxW probability at model resolution."""
    y = dequantize_output(np.asarray(y), contract)
    y = np.squeeze(y)
    if y.ndim != 2:
        raise ValueError(f"model output has shape {np.shape(y)}, expected one single-channel map")
    bad = y.size - int(np.count_nonzero(np.isfinite(y)))
    if bad:  # clipping would hide it: NaN stays NaN (or becomes a 0/1 mask) and looks like a result
        raise ValueError(f"model output holds {bad} NaN or infinite values of {y.size}: not a probability map")
    return np.clip(y, 0.0, 1.0).astype(np.float32)


def resize_prob(prob: np.ndarray, height: int, width: int) -> np.ndarray:
    """Model-resolution probability -> image resolution (bilinear), as design.md's metrics require."""
    if prob.shape == (height, width):
        return prob
    return cv2.resize(prob, (width, height), interpolation=cv2.INTER_LINEAR)
