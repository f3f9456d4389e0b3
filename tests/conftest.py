"""Shared fixtures. Keep them small and generic: every test module may use them (helpers: tests/support)."""
from __future__ import annotations

from pathlib import Path

import pytest

from portrait_mobile.errors import PortraitError
from portrait_mobile.paths import find_shared
from support.datasets import make_portrait_folder


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """../shared/datasets (portrait_mobile.paths.find_shared); skips the test where it is absent."""
    try:
        return find_shared("datasets")
    except PortraitError as e:
        pytest.skip(f"real datasets not available: {e}")


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """A 3-image labelled folder with a train.txt split, 40x48 images."""
    return make_portrait_folder(tmp_path / "tiny")


@pytest.fixture
def random_checkpoint(tmp_path: Path) -> Path:
    """A checkpoint of the default config with random (untrained) weights."""
    import torch

    from portrait_mobile.checkpoint import Checkpoint
    from portrait_mobile.config import DEFAULT_CONFIG, get_config
    from portrait_mobile.model import build_model

    torch.manual_seed(0)
    cfg = get_config(DEFAULT_CONFIG)
    path = tmp_path / "random.pt"
    Checkpoint(cfg, build_model(cfg).state_dict()).save(path)
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny hand-built ONNX segmenter with its contract (no torch needed)."""
    from support.runtime_models import make_tiny_onnx

    return make_tiny_onnx(tmp_path_factory.mktemp("tiny") / "tiny.onnx")


@pytest.fixture(scope="module")
def seg(tiny_model: Path):
    from portrait_mobile.runtime import Segmenter

    return Segmenter.from_file(tiny_model)
