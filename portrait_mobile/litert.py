"""The one LiteRT interpreter set-up: a .tflite file, a thread count and which CPU kernels run it.

Torch-free (the runtime extra has ai-edge-litert); the runtime, the benchmarks and the memory probe
build their interpreters here so that "XNNPACK" and "builtin kernels" mean the same everywhere.
"""
from __future__ import annotations

import os
from typing import Any

from .errors import ModelLoadError

# "xnnpack": LiteRT's default XNNPACK delegate (what a phone's CPU path runs);
# "builtin": TFLite's own kernels with no default delegate.
KERNELS = ("xnnpack", "builtin")


class UnloadableModelError(ModelLoadError, ValueError):
    """A model refused before LiteRT sees it; a ValueError too, as LiteRT's own refusals are, so that a
    caller catching those names this one the same way."""


def new_interpreter(model: str | os.PathLike | bytes, threads: int | None = None, kernels: str = "xnnpack") -> Any:
    """An ai_edge_litert Interpreter of ``model`` (a .tflite path, or its bytes) with its tensors allocated.

    A model the graph reader finds inconsistent is refused first (UnloadableModelError naming the file):
    LiteRT trusts indices, shapes and quantization in the file, and a tampered one can crash the process.
    LiteRT's own errors (ValueError, RuntimeError) and a missing ai-edge-litert (ImportError) reach
    the caller, which knows what to call them.
    """
    if kernels not in KERNELS:
        raise ValueError(f"kernels must be one of {KERNELS}, got {kernels!r}")
    from .tflite_graph import check_tflite

    try:
        check_tflite(model)
    except ModelLoadError as e:
        raise UnloadableModelError(str(e)) from None
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    source = {"model_content": bytes(model)} if isinstance(model, (bytes, bytearray)) else {"model_path": str(model)}
    resolver = OpResolverType.AUTO if kernels == "xnnpack" else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(**source, num_threads=threads, experimental_op_resolver_type=resolver)
    it.allocate_tensors()
    return it
