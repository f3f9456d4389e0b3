"""Interpreters ready to time: built by portrait_mobile.litert, every input filled with random values.

Timing, the memory probe and the ARM parity check all run a model on inputs it never saw: the kernels
do not care about the values, only that they are of the right type and range.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from portrait_mobile.litert import new_interpreter
from portrait_bench.model_specs import ModelError


def random_input(detail: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """A random input for one interpreter input tensor (image-like: [0,1] floats or full-range ints)."""
    shape = [int(s) for s in detail["shape"]]
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return rng.random(shape, dtype=np.float32).astype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    raise ModelError(f"unsupported input dtype {dtype} for {detail.get('name')}")


def ready_interpreter(path: str | Path, threads: int | None, kernels: str, rng: np.random.Generator) -> Any:
    """An interpreter of ``path`` with random inputs set (LiteRT's errors reach the caller)."""
    it = new_interpreter(path, threads, kernels)
    for d in it.get_input_details():
        it.set_tensor(d["index"], random_input(d, rng))
    return it
