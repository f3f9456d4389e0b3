"""What a .tflite stores besides its graph, read through a LiteRT interpreter: the constant tensors
(weights, biases, shapes) and the float weight count.

LiteRT lists each op's input and output tensors only through its private ``_get_ops_details``: this
module is the one place that calls it, so a LiteRT release that renames it breaks one function.
Torch-free.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def op_details(interpreter: Any) -> list[dict[str, Any]]:
    """Each op's ``op_name``, ``inputs`` and ``outputs`` (tensor indices; -1 for an omitted input)."""
    return interpreter._get_ops_details()


def stored_constants(interpreter: Any, ops: list[dict[str, Any]] | None = None) -> set[int]:
    """Tensors some op reads and no op writes, graph inputs excluded: what the file stores."""
    ops = op_details(interpreter) if ops is None else ops
    written = {int(i) for op in ops for i in op["outputs"]}
    read = {int(i) for op in ops for i in op["inputs"] if i >= 0}
    graph_inputs = {int(d["index"]) for d in interpreter.get_input_details()}
    return read - written - graph_inputs


def float_weight_count(interpreter: Any) -> int | None:
    """Weights count of a .tflite: the elements of its float constants; None when it cannot be read.

    fp16 weights count once (the DEQUANTIZE output is an op output); int shape tensors are skipped.
    Relies on a private LiteRT call, so any failure just means "unknown".
    """
    try:
        details = {int(d["index"]): d for d in interpreter.get_tensor_details()}
        return sum(int(np.prod(details[i]["shape"])) for i in stored_constants(interpreter)
                   if np.issubdtype(details[i]["dtype"], np.floating))
    except Exception:  # noqa: BLE001 - a private API: unknown rather than a crash
        return None
