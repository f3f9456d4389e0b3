"""Reference models (MediaPipe Selfie Segmentation): found and run through LiteRT (`mediapipe`, torch-free),
or run in PyTorch from their .tflite (`mediapipe_torch`), e.g. as teachers.

The names below load on first use, so `portrait_mobile.reference.mediapipe` imports without torch.
"""
from __future__ import annotations

import importlib
from typing import Any

_HOMES = {"MEDIAPIPE_FILE": "mediapipe", "MEDIAPIPE_FILES": "mediapipe", "MediaPipePredictor": "mediapipe",
          "flip_averaged": "mediapipe", "mediapipe_path": "mediapipe", "MediaPipeTorch": "mediapipe_torch",
          "flip_average": "mediapipe_torch", "predict_squashed": "mediapipe_torch", "SUPPORTED_OPS": "ops",
          "UnsupportedOpError": "ops"}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
