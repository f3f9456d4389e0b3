"""Evaluation: design.md's metrics for the PyTorch model, exported artifacts and the MediaPipe reference."""
from .evaluate import EvalResult, ImageScore, evaluate
from .predictors import ArtifactPredictor, MediaPipePredictor, Predictor, TorchPredictor

__all__ = ["EvalResult", "ImageScore", "evaluate", "Predictor", "TorchPredictor", "MediaPipePredictor",
           "ArtifactPredictor"]
