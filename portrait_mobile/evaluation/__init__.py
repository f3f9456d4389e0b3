"""Evaluation: design.md's metrics for the PyTorch model, exported artifacts and the MediaPipe reference."""
from .evaluate import EvalResult, ImageScore, evaluate
from ..reference.mediapipe import MediaPipePredictor
from .predictors import ArtifactPredictor, Predictor, TorchPredictor

__all__ = ["EvalResult", "ImageScore", "evaluate", "Predictor", "TorchPredictor", "MediaPipePredictor",
           "ArtifactPredictor"]
