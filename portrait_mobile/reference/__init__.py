"""Reference models (MediaPipe Selfie Segmentation) run in PyTorch from their .tflite, e.g. as teachers."""
from .mediapipe_torch import MEDIAPIPE_FILE, MediaPipeTorch, flip_average, predict_squashed
from .ops import SUPPORTED_OPS, UnsupportedOpError
from .tflite_reader import TFLiteGraph, read_tflite

__all__ = ["MEDIAPIPE_FILE", "MediaPipeTorch", "SUPPORTED_OPS", "TFLiteGraph", "UnsupportedOpError",
           "flip_average", "predict_squashed", "read_tflite"]
