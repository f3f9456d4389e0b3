"""fp32 conversion of the PyTorch model to a .tflite by litert-torch, with NHWC input and output."""
from __future__ import annotations

from typing import Any

from portrait_mobile.errors import ExportError
from portrait_mobile.litert import new_interpreter

from .native_output import quiet


def convert_fp32(model: Any, input_size: tuple[int, int], channels: int = 3) -> bytes:
    """litert-torch conversion of the (BN-folded, eval) model with NHWC input and output (`channels`
    input channels: an edge refiner takes 4)."""
    import torch

    with quiet():  # its import logs absl/torchao notices to stderr
        import litert_torch

    litert_torch.config.show_progress = False
    h, w = input_size
    wrapped = litert_torch.to_channel_last_io(model, args=[0], outputs=[0]).eval()
    with quiet() as cap:
        try:
            edge = litert_torch.convert(wrapped, (torch.zeros(1, h, w, channels),))
            data = edge.model_content()
        except Exception as e:
            raise ExportError(f"tflite: litert-torch conversion failed: {type(e).__name__}: {e} "
                              f"({cap.tail()})") from None
    if not data:
        raise ExportError("tflite: litert-torch returned an empty model")
    return bytes(data)


def signature(model_bytes: bytes) -> tuple[str, str]:
    with quiet():
        sigs = new_interpreter(model_bytes).get_signature_list()
    if len(sigs) != 1:
        raise ExportError(f"tflite: expected one signature, got {sorted(sigs)}")
    key, sig = next(iter(sigs.items()))
    if len(sig["inputs"]) != 1 or len(sig["outputs"]) != 1:
        raise ExportError(f"tflite: expected one input and one output, got {sig}")
    return key, sig["inputs"][0]


def input_tensor_name(model_bytes: bytes) -> str:
    with quiet():
        return new_interpreter(model_bytes).get_input_details()[0]["name"]
