"""portrait-mobile: on-device portrait segmentation."""
from __future__ import annotations

__version__ = "0.1.0"

from .config import DEFAULT_CONFIG, ModelConfig, get_config, list_configs
from .errors import (CheckpointError, DatasetError, ExportError, ImageError, ModelLoadError,
                     PortraitError)


def load_model(path=None):
    """The eval-mode PyTorch model; the shipped default weights when `path` is None."""
    from .checkpoint import load_model as _load

    return _load(path)


__all__ = ["__version__", "DEFAULT_CONFIG", "ModelConfig", "get_config", "list_configs", "load_model",
           "PortraitError", "DatasetError", "CheckpointError", "ImageError", "ModelLoadError", "ExportError"]
