"""What a written .tflite holds, read back through the LiteRT Interpreter: I/O, ops and dtypes by role."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from portrait_mobile.litert import new_interpreter
from portrait_mobile.tflite_weights import op_details

from .native_output import quiet

WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


def inspect_tflite(path: Path) -> dict[str, Any]:
    """Tensor dtypes by role, read back through the LiteRT Interpreter: weights, biases, activations."""
    with quiet():  # LiteRT prints an INFO line when it creates the XNNPACK delegate
        it = new_interpreter(path)
    details = {d["index"]: d for d in it.get_tensor_details()}
    ops = op_details(it)
    written = {i for o in ops for i in o["outputs"]}
    weights: Counter[str] = Counter()
    biases: Counter[str] = Counter()
    weight_roles: dict[int, str] = {}
    # fp16 weights reach the conv through a DEQUANTIZE op: look through it to the stored constant.
    dequant_src = {int(o["outputs"][0]): int(o["inputs"][0]) for o in ops if o["op_name"] == "DEQUANTIZE"}

    def constant(i: int) -> int | None:
        i = dequant_src.get(i, i)
        return i if i >= 0 and i not in written else None

    for o in ops:
        if o["op_name"] in WEIGHT_OPS:
            ins = [int(i) for i in o["inputs"]]
            for pos, role in ((1, "weight"), (2, "bias")):
                c = constant(ins[pos]) if len(ins) > pos else None
                if c is not None:
                    weight_roles[c] = role
    for idx, role in weight_roles.items():
        (weights if role == "weight" else biases)[np.dtype(details[idx]["dtype"]).name] += 1
    # DEQUANTIZE outputs are fp16 weights expanded at load time, not activations.
    dequant_out = {i for o in ops if o["op_name"] == "DEQUANTIZE" for i in o["outputs"]}
    acts = Counter(np.dtype(details[i]["dtype"]).name for i in written if i not in dequant_out)
    per_channel = sum(1 for i, role in weight_roles.items()
                      if role == "weight" and len(details[i]["quantization_parameters"]["scales"]) > 1)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    return {
        "input": {"name": inp["name"], "shape": inp["shape"].tolist(), "dtype": np.dtype(inp["dtype"]).name,
                  "quantization": [float(inp["quantization"][0]), int(inp["quantization"][1])]},
        "output": {"name": out["name"], "shape": out["shape"].tolist(), "dtype": np.dtype(out["dtype"]).name,
                   "quantization": [float(out["quantization"][0]), int(out["quantization"][1])]},
        "ops": dict(Counter(o["op_name"] for o in ops)),
        "weights_dtype": dict(weights),
        "biases_dtype": dict(biases),
        "activations_dtype": dict(acts),
        "per_channel_weight_tensors": per_channel,
        "weight_tensors": len([r for r in weight_roles.values() if r == "weight"]),
    }


def check_int8(info: dict[str, Any], io_dtype: str = "uint8") -> list[str]:
    """Failures if anything but the I/O (`io_dtype`: a segmenter's uint8, an edge refiner's int8) is not
    int8 (int32 biases allowed)."""
    fails = []
    if set(info["weights_dtype"]) != {"int8"}:
        fails.append(f"weights are {info['weights_dtype']}, expected all int8")
    if set(info["biases_dtype"]) - {"int32"}:
        fails.append(f"biases are {info['biases_dtype']}, expected int32")
    acts = dict(info["activations_dtype"])
    if io_dtype != "int8":
        acts.pop(io_dtype, None)  # the graph output
    if set(acts) != {"int8"}:
        fails.append(f"activations are {info['activations_dtype']}, expected int8 ({io_dtype} output)")
    if info["input"]["dtype"] != io_dtype or info["output"]["dtype"] != io_dtype:
        fails.append(f"I/O is {info['input']['dtype']} -> {info['output']['dtype']}, expected {io_dtype} -> {io_dtype}")
    return fails
