"""model_io: the one encoding of images into model tensors, for the runtime (NumPy) and training (torch)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from portrait_mobile.config import get_config
from portrait_mobile.contract import ModelContract, TensorQuant, pytorch_contract
from portrait_mobile.model import build_model
from portrait_mobile.model_io import (dequantize_output, output_to_prob, pixels_to_unit, quantize_input,
                                      resize_prob, to_model_input, unit_to_model_input)

RNG = np.random.default_rng(0)
PIXELS = RNG.integers(0, 256, (2, 16, 12, 3), dtype=np.uint8)  # already at the input size


def contract(**kw) -> ModelContract:
    return replace(ModelContract(model_name="m", version="t", input_height=16, input_width=12), **kw)


@pytest.mark.parametrize("kw", [
    {"input_layout": "NCHW"},
    {"input_layout": "NHWC"},
    {"input_layout": "NCHW", "color_order": "BGR"},
    {"input_layout": "NHWC", "color_order": "BGR", "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)},
])
def test_training_and_runtime_encode_alike(kw) -> None:
    c = contract(**kw)
    torch_side = unit_to_model_input(pixels_to_unit(torch.from_numpy(PIXELS)), c).numpy()
    numpy_side = np.concatenate([to_model_input(img, c) for img in PIXELS])
    assert torch_side.shape == numpy_side.shape
    np.testing.assert_allclose(torch_side, numpy_side, atol=1e-6)


def test_shipped_pytorch_contract_is_the_identity_on_unit_images() -> None:
    x = pixels_to_unit(torch.from_numpy(PIXELS))
    assert x.shape == (2, 3, 16, 12) and float(x.max()) <= 1.0
    assert unit_to_model_input(x, pytorch_contract(get_config("portrait-s-256"))) is x


def test_model_owns_its_contract() -> None:
    cfg = get_config("portrait-s-256")
    c = build_model(cfg).contract()
    assert c == pytorch_contract(cfg)
    assert (c.input_height, c.input_width, c.input_layout) == (*cfg.input_size, "NCHW")


def test_resize_and_quantization_round_trip() -> None:
    big = RNG.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    c = contract(input_layout="NHWC", input_dtype="uint8", input_quant=TensorQuant("uint8", 1 / 255, 0),
                 output_quant=TensorQuant("uint8", 1 / 255, 0))
    x = to_model_input(big, c)
    assert x.shape == (1, 16, 12, 3) and x.dtype == np.float32
    q = quantize_input(x, c)
    assert q.dtype == np.uint8
    np.testing.assert_allclose(q / 255.0, x, atol=0.5 / 255 + 1e-7)
    raw = np.array([0, 255, 51, 255], np.uint8).reshape(1, 2, 2, 1)
    np.testing.assert_allclose(dequantize_output(raw, c).ravel(), [0.0, 1.0, 0.2, 1.0], atol=1e-7)
    assert output_to_prob(raw, c).shape == (2, 2)
    assert resize_prob(np.ones((16, 12), np.float32), 32, 24).shape == (32, 24)


def test_output_that_is_not_one_map_is_refused() -> None:
    with pytest.raises(ValueError, match="single-channel"):
        output_to_prob(np.zeros((1, 8, 8, 2), np.float32), contract())
