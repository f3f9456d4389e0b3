"""The model contract every exported artifact carries: what goes in, what comes out.

Written by the exporters (ONNX metadata_props, TFLite metadata, Core ML user_defined_metadata and
a sidecar JSON), read by the runtime and the demo apps; nothing else hard-codes these facts.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from .model_card import CARD_NAME, CARD_VERSION, WEIGHTS_LICENSE, WeightsTerms

if TYPE_CHECKING:
    from .config import ModelConfig

CONTRACT_KEY = "portrait_mobile_contract"
SCHEMA = "portrait-mobile-contract/1"


@dataclass(frozen=True)
class TensorQuant:
    """Affine quantization of an int tensor: real = scale * (q - zero_point)."""

    dtype: str  # "uint8" | "int8"
    scale: float
    zero_point: int


@dataclass(frozen=True)
class ModelContract:
    model_name: str
    version: str
    input_height: int
    input_width: int
    # Input as the artifact takes it; the runtime converts an RGB uint8 image to this.
    input_layout: str = "NHWC"  # "NHWC" | "NCHW"
    input_dtype: str = "float32"  # "float32" | "uint8" | "int8"
    color_order: str = "RGB"
    # After scaling to [0, 1]: x = (pixel / 255 - mean) / std, per channel.
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    resize: str = "squash"  # the whole image is resized to the input size, aspect not kept
    input_name: str = "image"
    output_name: str = "mask"
    output_layout: str = "NHWC"
    output_height: int = 0
    output_width: int = 0
    output_dtype: str = "float32"
    output_meaning: str = "person probability in [0, 1]; threshold 0.5 for a binary mask"
    input_quant: TensorQuant | None = None
    output_quant: TensorQuant | None = None
    precision: str = "fp32"  # weights/activations: fp32 | fp16 | int8
    target: str = "pytorch"  # onnx | tflite | coreml | pytorch
    # The shipped weights' terms (not the code's Apache-2.0): see model_card.WEIGHTS_LICENSE.
    license: str = WEIGHTS_LICENSE
    author: str = "portrait-mobile"
    # The card that describes the model and its terms: a file name and its edition, no URL (an app
    # may be offline; the exporter copies the card next to the artifacts).
    model_card: str = CARD_NAME
    model_card_version: str = CARD_VERSION
    metrics: dict[str, Any] = field(default_factory=dict)
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelContract":
        if d.get("schema") != SCHEMA:
            raise ValueError(f"not a portrait-mobile contract (schema {d.get('schema')!r}, expected {SCHEMA!r})")
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        for k in ("mean", "std"):
            if k in kw:
                kw[k] = tuple(kw[k])
        for k in ("input_quant", "output_quant"):
            if kw.get(k) is not None:
                kw[k] = TensorQuant(**kw[k])
        return cls(**kw)

    @classmethod
    def from_json(cls, text: str) -> "ModelContract":
        return cls.from_dict(json.loads(text))


def pytorch_contract(config: "ModelConfig", version: str = "pytorch",
                     metrics: dict[str, Any] | None = None, terms: WeightsTerms | None = None) -> ModelContract:
    """How the PyTorch model of `config` is fed: RGB in [0, 1] float, NCHW, squashed to the input size;
    its output the probability, NCHW, at the input size (see model.PortraitNet).

    The one description of the PyTorch model's input: the checkpoint (`Checkpoint.contract()`), the
    parity reference, the runtime's torch backend and evaluation derive their pre-processing from it.
    `terms`: the weights' licence and card (`Checkpoint.terms()`), else the shipped weights'.
    """
    h, w = config.input_size
    return ModelContract(model_name=config.name, version=version, input_height=h, input_width=w,
                         input_layout="NCHW", output_layout="NCHW", output_height=h, output_width=w,
                         target="pytorch", metrics=dict(metrics or {}),
                         **(asdict(terms) if terms else {}))
