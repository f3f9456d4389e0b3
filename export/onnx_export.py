"""ONNX: torch.onnx.export (TorchScript exporter), simplified with onnxsim, one self-contained file.

Input `image` float32 NCHW RGB in [0, 1]; output `mask` float32 NCHW (N,1,H,W) person probability.
Static shape by default; `dynamic_batch` makes dim 0 symbolic ("batch"). The opset is recorded in
metadata_props and in the sidecar. An edge refiner (`convert_refiner_onnx`): input `tiles` float32 NCHW
[1,4,T,T] in [0, 1], output `mask` [1,1,T/s,T/s] (s the tile grid's output stride), the tile's refined probability.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from portrait_mobile.contract import ModelContract
from portrait_mobile.errors import ExportError

from .context import ExportContext
from .exporter import Converted
from .metadata import embed_onnx
from .native_output import quiet

MAX_BYTES = 2**31 - 1  # protobuf limit: above it ONNX needs external data, which we never write


def to_onnx_model(model, input_size: tuple[int, int], opset: int, dynamic_batch: bool, channels: int = 3,
                  output_size: tuple[int, int] | None = None, input_name: str = "image", output_name: str = "mask"):
    """Export + simplify; returns an onnx.ModelProto. `channels`, `output_size` (default: the input's)
    and the names: an edge refiner's 4-channel tiles in, its half-size tile out."""
    import onnx
    import onnxsim
    import torch

    h, w = input_size
    oh, ow = output_size or input_size
    x = torch.zeros(1, channels, h, w)
    buf = io.BytesIO()
    dynamic_axes = {input_name: {0: "batch"}, output_name: {0: "batch"}} if dynamic_batch else None
    with quiet() as cap:
        try:
            torch.onnx.export(model, (x,), buf, input_names=[input_name], output_names=[output_name],
                              opset_version=opset, dynamo=False, dynamic_axes=dynamic_axes,
                              do_constant_folding=True)
        except Exception as e:
            raise ExportError(f"onnx: torch.onnx.export failed: {type(e).__name__}: {e}") from None
    if not buf.getvalue():
        raise ExportError(f"onnx: torch.onnx.export wrote nothing ({cap.tail()})")
    proto = onnx.load_from_string(buf.getvalue())
    with quiet() as cap:
        try:
            kw = {"test_input_shapes": {input_name: [1, channels, h, w]}} if dynamic_batch else {}
            simplified, ok = onnxsim.simplify(proto, **kw)
        except Exception as e:
            raise ExportError(f"onnx: onnxsim failed: {type(e).__name__}: {e} ({cap.tail()})") from None
    if not ok:
        raise ExportError("onnx: onnxsim could not validate the simplified model")
    # Name the batch dimension and keep the others fixed: onnxsim leaves symbolic names on every
    # output dimension of a dynamic-batch graph.
    for vi, dims in ((simplified.graph.input[0], (channels, h, w)), (simplified.graph.output[0], (1, oh, ow))):
        shape = vi.type.tensor_type.shape
        if dynamic_batch:
            shape.dim[0].ClearField("dim_value")
            shape.dim[0].dim_param = "batch"
        else:
            shape.dim[0].dim_value = 1
        for d, v in zip(shape.dim[1:], dims):
            d.ClearField("dim_param")
            d.dim_value = v
    onnx.checker.check_model(simplified, full_check=True)
    return simplified


def make_contract(ctx: ExportContext, precision: str) -> ModelContract:
    return ctx.base_contract("onnx", precision, input_layout="NCHW", output_layout="NCHW",
                             input_dtype="float32", output_dtype="float32")


def convert_onnx(ctx: ExportContext, precision: str = "fp32") -> Converted:
    """The ONNX file with its contract in metadata_props; `export_target` writes, checks and gates it."""
    return _convert(ctx, make_contract(ctx, precision), channels=3)


def convert_refiner_onnx(ctx: ExportContext, precision: str = "fp32") -> Converted:
    """An edge refiner's ONNX file: input `tiles` float32 NCHW [1,4,T,T] in [0, 1] (R, G, B, coarse
    probability), output `mask` [1,1,T/s,T/s]; gated on contour tiles (refiner_parity)."""
    return _convert(ctx, make_contract(ctx, precision), channels=4)


def _convert(ctx: ExportContext, contract: ModelContract, channels: int) -> Converted:
    h, w = contract.input_height, contract.input_width
    oh, ow = contract.output_height, contract.output_width
    inn, outn = contract.input_name, contract.output_name
    opts = ctx.options
    proto = to_onnx_model(ctx.model, (h, w), opts.opset, opts.dynamic_batch, channels=channels,
                          output_size=(oh, ow), input_name=inn, output_name=outn)
    embed_onnx(proto, contract, opts.opset)
    data = proto.SerializeToString()
    if len(data) > MAX_BYTES:
        raise ExportError(f"onnx: model is {len(data)} bytes, over the 2 GB single-file limit")
    n_nodes = len(proto.graph.node)
    ops = sorted({n.op_type for n in proto.graph.node})

    def check(path: Path, backend: Any) -> tuple[dict[str, Any], list[str]]:
        sess = backend.session
        inp, out = sess.get_inputs()[0], sess.get_outputs()[0]
        failures = []
        if inp.name != inn or inp.shape[1:] != [channels, h, w]:
            failures.append(f"input {inp.name} {inp.shape}, expected {inn} [N,{channels},{h},{w}]")
        if out.name != outn or out.shape[1:] != [1, oh, ow]:
            failures.append(f"output {out.name} {out.shape}, expected {outn} [N,1,{oh},{ow}]")
        if opts.dynamic_batch:
            y2 = sess.run(None, {inn: np.zeros((2, channels, h, w), np.float32)})[0]
            if y2.shape != (2, 1, oh, ow):
                failures.append(f"dynamic batch of 2 gave output {list(y2.shape)}")
        return ({"input": [inp.name, inp.shape], "output": [out.name, out.shape], "nodes": n_nodes, "ops": ops},
                failures)

    return Converted(contract, check, tools=("torch", "onnx", "onnxsim", "onnxruntime"), data=data,
                     settings={"opset": opts.opset, "dynamic_batch": opts.dynamic_batch},
                     facts={"external_data": False})
