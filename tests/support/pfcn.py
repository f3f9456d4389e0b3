"""The PFCN test images the tests run real models on (../shared/datasets/pfcn); a test skips without them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from . import REPO

DATASETS = REPO.parent / "shared" / "datasets"
PFCN = DATASETS / "pfcn"


def ids(n: int, spread: bool = True) -> list[str]:
    """`n` ids of test.txt: spread over the list (every len/n-th), or the first `n`; skips without PFCN."""
    listing = PFCN / "test.txt"
    if not listing.is_file():
        pytest.skip(f"real images not available ({PFCN})")
    ids = [ln.strip() for ln in listing.read_text().splitlines() if ln.strip()]
    return ids[::max(1, len(ids) // n)][:n] if spread else ids[:n]


def image_paths(n: int, spread: bool = True) -> list[Path]:
    return [PFCN / "images" / f"{i}.jpg" for i in ids(n, spread)]


def images(n: int, spread: bool = True) -> list[np.ndarray]:
    """RGB uint8 images, read as the runtime reads files."""
    from portrait_mobile.runtime.image_input import read_image

    return [read_image(p) for p in image_paths(n, spread)]


def images_with_masks(n: int, spread: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
    """(RGB uint8 image, uint8 ground-truth mask) pairs."""
    from portrait_mobile.data.folder import read_mask
    from portrait_mobile.runtime.image_input import read_image

    return [(read_image(PFCN / "images" / f"{i}.jpg"), read_mask(PFCN / "masks" / f"{i}.png"))
            for i in ids(n, spread)]
