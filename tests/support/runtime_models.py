"""Helpers shared by the runtime tests: a tiny hand-built ONNX "model" and a picture it segments.

The tiny model needs no torch and runs in microseconds: person probability = sigmoid(20 * (R - 0.5)),
so red pixels are "person". Its input is 64 high x 48 wide (not square, to catch height/width swaps)
and NHWC, and it carries a portrait-mobile contract in its ONNX metadata like a real export.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from portrait_mobile.metrics import iou  # noqa: F401  (re-exported for the runtime tests)
from portrait_mobile.contract import CONTRACT_KEY, ModelContract

TINY_H, TINY_W = 64, 48


def tiny_contract(**kw: object) -> ModelContract:
    base = dict(model_name="tiny-red", version="test", input_height=TINY_H, input_width=TINY_W,
                input_layout="NHWC", output_layout="NHWC", output_height=TINY_H, output_width=TINY_W,
                target="onnx")
    base.update(kw)
    return ModelContract(**base)  # type: ignore[arg-type]


def make_tiny_onnx(path: Path, with_contract: bool = True, emits_nan: bool = False) -> Path:
    """The tiny red-is-person model; `emits_nan`: its output is sqrt(-probability), all NaN."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, TINY_H, TINY_W, 3])
    y = helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, TINY_H, TINY_W, 1])
    consts = [
        helper.make_tensor("starts", TensorProto.INT64, [1], [0]),
        helper.make_tensor("ends", TensorProto.INT64, [1], [1]),
        helper.make_tensor("axes", TensorProto.INT64, [1], [3]),
        helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
        helper.make_tensor("gain", TensorProto.FLOAT, [], [20.0]),
    ]
    nodes = [
        helper.make_node("Slice", ["image", "starts", "ends", "axes"], ["r"]),
        helper.make_node("Sub", ["r", "half"], ["c"]),
        helper.make_node("Mul", ["c", "gain"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["p" if emits_nan else "mask"]),
    ]
    if emits_nan:
        nodes += [helper.make_node("Neg", ["p"], ["n"]), helper.make_node("Sqrt", ["n"], ["mask"])]
    graph = helper.make_graph(nodes, "tiny_red", [x], [y], initializer=consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    if with_contract:
        p = model.metadata_props.add()
        p.key, p.value = CONTRACT_KEY, tiny_contract().to_json()
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def red_person(h: int = 120, w: int = 90, box: tuple[int, int, int, int] | None = None,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A noisy blue/green picture with a red rectangle (the tiny model's "person") and its mask."""
    rng = np.random.default_rng(seed)
    img = np.empty((h, w, 3), np.uint8)
    img[..., 0] = rng.integers(0, 60, (h, w))
    img[..., 1] = rng.integers(60, 200, (h, w))
    img[..., 2] = rng.integers(60, 200, (h, w))
    y0, x0, y1, x1 = box or (h // 4, w // 3, h * 3 // 4, w * 2 // 3)
    img[y0:y1, x0:x1, 0] = rng.integers(200, 256, (y1 - y0, x1 - x0))
    mask = np.zeros((h, w), bool)
    mask[y0:y1, x0:x1] = True
    return img, mask
