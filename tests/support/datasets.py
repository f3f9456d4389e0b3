"""Tiny labelled portrait folders for tests (the layout data.folder reads)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


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


def make_tiny_cache(root: Path, n: int = 16, size: int = 64, val_fraction: float = 0.3) -> Path:
    """A training cache (.npz) of one tiny folder, `val_fraction` of it carved for validation."""
    from portrait_mobile.data.cache import CacheSource, build_cache

    folder = make_portrait_folder(root / "set", n=n, size=(size + size // 4, size))
    return build_cache([CacheSource(folder, "train", val_fraction=val_fraction)], root / "cache.npz", size=size,
                       progress=False)
