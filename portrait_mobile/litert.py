"""The one LiteRT interpreter set-up: a .tflite file, a thread count and which CPU kernels run it.

Torch-free (the runtime extra has ai-edge-litert); the runtime, the benchmarks and the memory probe
build their interpreters here so that "XNNPACK" and "builtin kernels" mean the same everywhere.
"""
from __future__ import annotations

import os
from typing import Any

from .errors import ModelLoadError, short_message

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


def load_interpreter(path: str | os.PathLike, threads: int | None = None, kernels: str = "xnnpack",
                     needed_by: str = "running .tflite models") -> tuple[Any, list[dict], list[dict]]:
    """`new_interpreter` of a file with its input and output details, for code that hands the model to
    users: every way the file or the install can fail is a ModelLoadError naming the file.

    The I/O details are read here because reading them decodes the tensors' names: one that is not
    UTF-8 is a ValueError from LiteRT. (`get_tensor_details` skips the tensors it cannot describe.)
    """
    try:
        it = new_interpreter(path, threads=threads, kernels=kernels)
        ins, outs = it.get_input_details(), it.get_output_details()
    except ImportError:
        raise ModelLoadError(f"{needed_by} needs ai-edge-litert (pip install 'portrait-mobile[runtime]')") from None
    except ModelLoadError:  # already names the file and the fault (check_tflite)
        raise
    except (ValueError, RuntimeError) as e:
        raise ModelLoadError(f"{path} is not a loadable TFLite model: {type(e).__name__}: {short_message(e)}") from None
    return it, ins, outs
