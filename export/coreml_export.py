"""Core ML: an .mlpackage ML Program (iOS 16+), converted from torch.export by coremltools.

Input `image`: an RGB image (ImageType) of the model's input size; Core ML applies one scale, 1/255,
which is all the normalization this model needs (it takes RGB in [0, 1]). Output `mask`: float32
MLMultiArray [1,1,H,W], the person probability. Precision: fp16 compute by default; fp32; or "int8":
fp16 compute with 8-bit linearly quantized weights (coremltools.optimize), about half the size.

An edge refiner (`convert_refiner_coreml`): input `tiles`, a float32 MLMultiArray [1,4,T,T] in [0, 1]
(R, G, B, coarse probability: not an image), output `mask` float32 [1,1,T/s,T/s] (s the tile grid's output stride).

Core ML predicts only on macOS. Elsewhere the check validates the saved spec (inputs, outputs,
shapes, types, the ops present, metadata) and records that numeric parity was not run; on macOS
the same parity as every other target runs (fp16 max abs diff, mask IoU, fg IoU drop).
"""
from __future__ import annotations

import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from portrait_mobile.contract import CONTRACT_KEY, ModelContract, TensorQuant
from portrait_mobile.errors import ExportError
from portrait_mobile.formats import EDGE_REFINER

from .context import ExportContext
from .exporter import Converted
from .metadata import embed_coreml
from .native_output import quiet

MIN_SPEC_VERSION = 7  # iOS 16 / macOS 13: ML Program with fp16 I/O types and int8 constexpr weights
# Every op this model family may lower to; anything else (gather, loops, dynamic shapes) is an error.
ALLOWED_OPS = frozenset({
    "const", "conv", "relu", "relu6", "clip", "add", "sub", "mul", "real_div", "concat", "upsample_bilinear",
    "resize_bilinear", "sigmoid", "sigmoid_hard", "avg_pool", "pad", "cast", "identity",
    "constexpr_affine_dequantize", "constexpr_blockwise_shift_scale",
    "pixel_shuffle",  # a sub-pixel refiner head (refine-t40gs); a native MIL op since iOS 15
})
NUMERIC_SKIPPED = "numeric parity skipped: Core ML predicts on macOS only (spec validated instead)"


def _import_coremltools():
    # coremltools logs a page of "Failed to load ... libcoremlpython" on Linux and a torch-version
    # warning; neither matters for conversion.
    logging.getLogger("coremltools").setLevel(logging.ERROR)
    with quiet():
        import coremltools as ct
    return ct


def convert(model: Any, input_size: tuple[int, int], precision: str, tensor_input: str | None = None,
            channels: int = 3) -> Any:
    """`tensor_input`: the name of a float32 MultiArray input of `channels` (an edge refiner's tiles);
    None: the RGB ImageType input `image` of a segmenter."""
    ct = _import_coremltools()
    import torch

    h, w = input_size
    x = torch.zeros(1, channels, h, w)
    if tensor_input is None:
        inputs = [ct.ImageType(name="image", shape=(1, 3, h, w), scale=1.0 / 255.0, bias=[0.0, 0.0, 0.0],
                               color_layout=ct.colorlayout.RGB)]
    else:
        inputs = [ct.TensorType(name=tensor_input, shape=(1, channels, h, w), dtype=np.float32)]
    with quiet() as cap:
        try:
            ep = torch.export.export(model, (x,)).run_decompositions({})
            mlmodel = ct.convert(
                ep,
                inputs=inputs,
                outputs=[ct.TensorType(name="mask", dtype=np.float32)],
                convert_to="mlprogram",
                minimum_deployment_target=ct.target.iOS16,
                compute_precision=ct.precision.FLOAT32 if precision == "fp32" else ct.precision.FLOAT16,
                skip_model_load=True,
            )
            if precision == "int8":
                from coremltools.optimize.coreml import (OpLinearQuantizerConfig, OptimizationConfig,
                                                         linear_quantize_weights)

                cfg = OptimizationConfig(global_config=OpLinearQuantizerConfig(
                    mode="linear_symmetric", dtype="int8", granularity="per_channel", weight_threshold=64))
                mlmodel = linear_quantize_weights(mlmodel, cfg)
        except Exception as e:
            raise ExportError(f"coreml: conversion failed: {type(e).__name__}: {e} ({cap.tail()})") from None
    return mlmodel


def validate_spec(package: Path, contract: ModelContract, precision: str) -> tuple[dict[str, Any], list[str]]:
    """Read the saved .mlpackage back and check what an app relies on."""
    ct = _import_coremltools()
    with quiet():
        m = ct.models.MLModel(str(package), skip_model_load=True)
    spec = m.get_spec()
    fails: list[str] = []
    h, w = contract.input_height, contract.input_width
    oh, ow = contract.output_height or h, contract.output_width or w
    if spec.WhichOneof("Type") != "mlProgram":
        fails.append(f"model type {spec.WhichOneof('Type')}, expected mlProgram")
    if spec.specificationVersion < MIN_SPEC_VERSION:
        fails.append(f"spec version {spec.specificationVersion} < {MIN_SPEC_VERSION} (iOS 16)")
    ins, outs = list(spec.description.input), list(spec.description.output)
    info: dict[str, Any] = {"spec_version": spec.specificationVersion, "inputs": [], "outputs": []}
    for f in ins:
        t = f.type.WhichOneof("Type")
        d = {"name": f.name, "type": t}
        if t == "imageType":
            d.update(width=f.type.imageType.width, height=f.type.imageType.height,
                     color=ct.proto.FeatureTypes_pb2.ImageFeatureType.ColorSpace.Name(f.type.imageType.colorSpace))
        elif t == "multiArrayType":
            d.update(shape=list(f.type.multiArrayType.shape),
                     dtype=ct.proto.FeatureTypes_pb2.ArrayFeatureType.ArrayDataType.Name(
                         f.type.multiArrayType.dataType))
        info["inputs"].append(d)
    for f in outs:
        t = f.type.WhichOneof("Type")
        d = {"name": f.name, "type": t}
        if t == "multiArrayType":
            d.update(shape=list(f.type.multiArrayType.shape),
                     dtype=ct.proto.FeatureTypes_pb2.ArrayFeatureType.ArrayDataType.Name(
                         f.type.multiArrayType.dataType))
        info["outputs"].append(d)
    want_in: dict[str, Any] = {"name": "image", "type": "imageType", "width": w, "height": h, "color": "RGB"}
    if contract.role == EDGE_REFINER:
        want_in = {"name": contract.input_name, "type": "multiArrayType",
                   "shape": [1, contract.input_channels, h, w], "dtype": "FLOAT32"}
    if len(ins) != 1 or info["inputs"][0] != want_in:
        fails.append(f"inputs {info['inputs']}, expected [{want_in}]")
    want_out = {"name": "mask", "type": "multiArrayType", "shape": [1, 1, oh, ow], "dtype": "FLOAT32"}
    if len(outs) != 1 or info["outputs"][0] != want_out:
        fails.append(f"outputs {info['outputs']}, expected [{want_out}]")
    ops: Counter[str] = Counter()
    for fn in spec.mlProgram.functions.values():
        for block in fn.block_specializations.values():
            for op in block.operations:
                ops[op.type] += 1
    info["ops"] = dict(ops)
    unexpected = sorted(set(ops) - ALLOWED_OPS)
    if unexpected:
        fails.append(f"unexpected ops {unexpected}")
    if not ops.get("conv"):
        fails.append("no conv op in the program")
    if precision == "int8" and not (ops.get("constexpr_affine_dequantize") or ops.get("constexpr_blockwise_shift_scale")):
        fails.append("int8 weights requested but no quantized constants in the program")
    meta = spec.description.metadata
    info["metadata"] = {"author": meta.author, "license": meta.license, "version": meta.versionString,
                        "short_description": meta.shortDescription,
                        "user_defined_keys": sorted(meta.userDefined.keys())}
    if meta.userDefined.get(CONTRACT_KEY) != contract.to_json():
        fails.append(f"user_defined_metadata[{CONTRACT_KEY!r}] missing or different from the contract")
    for k in ("author", "license", "version", "short_description"):
        if not info["metadata"][k]:
            fails.append(f"metadata {k} is empty")
    if meta.license != contract.license:  # what Xcode shows must be the card's statement
        fails.append(f"metadata license {meta.license!r} differs from the contract's {contract.license!r}")
    weights = package / "Data" / "com.apple.CoreML" / "weights" / "weight.bin"
    info["weights_bytes"] = weights.stat().st_size if weights.is_file() else 0
    if not info["weights_bytes"]:
        fails.append("no weights file in the package")
    return info, fails


def make_contract(ctx: ExportContext, precision: str) -> ModelContract:
    # The image input takes the app's 8-bit RGB pixels; Core ML scales them by 1/255 itself.
    return ctx.base_contract("coreml", precision, input_layout="NHWC", output_layout="NCHW",
                             input_dtype="uint8", output_dtype="float32",
                             input_quant=TensorQuant("uint8", 1.0 / 255.0, 0), input_name="image",
                             output_name="mask")


def convert_coreml(ctx: ExportContext, precision: str = "fp16") -> Converted:
    """The .mlpackage with its contract in user_defined_metadata; `export_target` writes, checks and gates
    it (numeric parity through Core ML on macOS only; elsewhere the saved spec is validated instead)."""
    h, w = ctx.input_size
    return _package(ctx, make_contract(ctx, precision), convert(ctx.model, (h, w), precision), precision)


def convert_refiner_coreml(ctx: ExportContext, precision: str = "fp16") -> Converted:
    """An edge refiner's .mlpackage: its tiles a float32 MultiArray (4 channels are not an image)."""
    contract = ctx.base_contract("coreml", precision, input_layout="NCHW", output_layout="NCHW",
                                 input_dtype="float32", output_dtype="float32")
    mlmodel = convert(ctx.model, ctx.input_size, precision, tensor_input=contract.input_name,
                      channels=contract.input_channels)
    return _package(ctx, contract, mlmodel, precision)


def _package(ctx: ExportContext, contract: ModelContract, mlmodel: Any, precision: str) -> Converted:
    embed_coreml(mlmodel, contract)

    def save(path: Path) -> None:
        with quiet() as cap:
            try:
                mlmodel.save(str(path))
            except Exception as e:
                raise ExportError(f"coreml: saving the .mlpackage failed: {type(e).__name__}: {e} "
                                  f"({cap.tail()})") from None
        if not (path / "Manifest.json").is_file():
            raise ExportError(f"coreml: coremltools reported success but wrote no package at {path}")

    return Converted(contract, lambda path, _backend: validate_spec(path, contract, precision),
                     tools=("torch", "coremltools"), save=save,
                     numeric_skipped=None if sys.platform == "darwin" else NUMERIC_SKIPPED,
                     facts={"format": "mlprogram", "minimum_deployment_target": "iOS16",
                            "weights": "int8 (linear symmetric, per channel)" if precision == "int8" else precision})
