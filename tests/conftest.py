"""Shared fixtures. Keep them small and generic: every test module may use them."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from portrait_mobile.errors import PortraitError
from portrait_mobile.paths import find_shared


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """../shared/datasets (portrait_mobile.paths.find_shared); skips the test where it is absent."""
    try:
        return find_shared("datasets")
    except PortraitError as e:
        pytest.skip(f"real datasets not available: {e}")


def make_portrait_folder(root: Path, n: int = 3, size: tuple[int, int] = (48, 40), split: str = "train",
                         seed: int = 0) -> Path:
    """A labelled folder (images/*.jpg, masks/*.png, <split>.txt) of n noisy images with an ellipse 'person'."""
    rng = np.random.default_rng(seed)
    h, w = size
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    ids = []
    for i in range(n):
        mask = np.zeros((h, w), np.uint8)
        center = (w // 2 + int(rng.integers(-3, 4)), h // 2 + int(rng.integers(-3, 4)))
        cv2.ellipse(mask, center, (w // 4, h // 3), 0, 0, 360, 255, -1)
        image = rng.integers(0, 80, (h, w, 3), dtype=np.uint8)
        image[mask > 0] += np.array([150, 120, 100], np.uint8)
        ids.append(f"{i:04d}")
        cv2.imwrite(str(root / "images" / f"{ids[-1]}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(root / "masks" / f"{ids[-1]}.png"), mask)
    (root / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return root


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
    from runtime_fixtures import make_tiny_onnx

    return make_tiny_onnx(tmp_path_factory.mktemp("tiny") / "tiny.onnx")


@pytest.fixture(scope="module")
def seg(tiny_model: Path):
    from portrait_mobile.runtime import Segmenter

    return Segmenter.from_file(tiny_model)
