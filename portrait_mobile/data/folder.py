"""A labelled portrait folder: `images/<id>.jpg`, `masks/<id>.png`, optional `<split>.txt`."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import DatasetError, ImageError
from ..file_input import read_input
from ..runtime.image_input import IMAGE_EXTS, decode_image, read_image


def read_image_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 HxWx3 (EXIF orientation applied, as OpenCV's own reader does);
    DatasetError if it is missing or not an image."""
    try:
        return read_image(path)
    except ImageError as e:
        raise DatasetError(str(e)) from None


def read_mask(path: str | Path) -> np.ndarray:
    """Read a grey mask (one channel, or three equal ones) as uint8 HxW with values {0, 255} (anything
    > 127 is person).

    A mask whose person is in an alpha channel (colour 0), or in one colour (red on black), would be
    scored as another mask without a word (fg IoU 66 or 0): DatasetError naming the file, not a guess.
    """
    try:
        data = read_input(path, ImageError, "image")
        m = decode_image(data, source=str(Path(path)))  # an image's size limits and EXIF orientation
    except ImageError as e:
        raise DatasetError(f"mask: {e}") from None
    # decode_image drops alpha: look again (safe: the size is checked), allowing an opaque one.
    raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    alpha = raw[..., 3] if raw.ndim == 3 and raw.shape[2] == 4 else None
    if alpha is not None and not (alpha.dtype.kind == "u" and (alpha == np.iinfo(alpha.dtype).max).all()):
        raise DatasetError(f"mask {path} has an alpha channel: expected a grey mask (person > 127) without "
                           "transparency")
    if not ((m[..., 0] == m[..., 1]).all() and (m[..., 1] == m[..., 2]).all()):
        raise DatasetError(f"mask {path} is in colour: expected a grey mask (one channel, or three equal ones; "
                           "person > 127)")
    return np.where(m[..., 0] > 127, 255, 0).astype(np.uint8)


@dataclass(frozen=True)
class Sample:
    id: str
    image: np.ndarray  # RGB uint8 HxWx3
    mask: np.ndarray | None  # uint8 HxW {0,255}; None for an unlabelled set


class PortraitFolder:
    """Index of one dataset folder. `labelled=False` accepts a folder without masks/."""

    def __init__(self, root: str | Path, split: str | None = None, labelled: bool = True) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"dataset folder not found: {self.root}")
        self.image_dir = self.root / "images"
        self.mask_dir = self.root / "masks"
        if not self.image_dir.is_dir():
            raise DatasetError(f"{self.root} has no images/ folder (expected images/<id>.jpg)")
        self.labelled = labelled
        if labelled and not self.mask_dir.is_dir():
            raise DatasetError(f"{self.root} has no masks/ folder (expected masks/<id>.png)")
        self.split = split
        images = {p.stem: p for p in sorted(self.image_dir.iterdir()) if p.suffix.lower() in IMAGE_EXTS}
        if split is not None:
            split_file = self.root / f"{split}.txt"
            if not split_file.is_file():
                raise DatasetError(f"split list not found: {split_file}")
            ids = [ln.strip() for ln in split_file.read_text().splitlines() if ln.strip()]
            missing = [i for i in ids if i not in images]
            if missing:
                raise DatasetError(f"{split_file}: {len(missing)} ids have no image in {self.image_dir}, "
                                   f"e.g. {missing[0]}")
        else:
            ids = sorted(images)
        if not ids:
            raise DatasetError(f"no images in {self.image_dir}" + (f" for split {split!r}" if split else ""))
        self.ids = ids
        self._images = images
        self.part: str | None = None  # a named subset of the list (`subset`), e.g. "carve"

    def subset(self, ids: list[str], part: str) -> "PortraitFolder":
        """The same folder restricted to `ids` (in this folder's order), named '<name> <part>'."""
        keep = set(ids)
        unknown = keep.difference(self.ids)
        if unknown:
            raise DatasetError(f"{self.name}: no such ids in the list, e.g. {sorted(unknown)[0]}")
        out = copy.copy(self)
        out.ids = [i for i in self.ids if i in keep]
        out.part = part
        if not out.ids:
            raise DatasetError(f"{out.name}: no images")
        return out

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def name(self) -> str:
        return self.root.name + (f"/{self.split}" if self.split else "") + (f" {self.part}" if self.part else "")

    def image_path(self, i: int) -> Path:
        return self._images[self.ids[i]]

    def mask_path(self, i: int) -> Path:
        return self.mask_dir / f"{self.ids[i]}.png"

    def __getitem__(self, i: int) -> Sample:
        img = read_image_rgb(self.image_path(i))
        mask = None
        if self.labelled:
            mask = read_mask(self.mask_path(i))
            if mask.shape != img.shape[:2]:
                raise DatasetError(f"mask {self.mask_path(i)} is {mask.shape[1]}x{mask.shape[0]} but its image "
                                   f"{self.image_path(i).name} is {img.shape[1]}x{img.shape[0]}")
        return Sample(self.ids[i], img, mask)


def parse_source(spec: str) -> tuple[Path, str | None]:
    """'path/to/set:split' -> (path, split); 'path/to/set' -> (path, None)."""
    root, sep, split = spec.rpartition(":")
    if not sep or "/" in split:
        return Path(spec), None
    return Path(root), split or None


# Splits kept for measuring (design.md: PFCN test is never trained or tuned on).
HELD_OUT_SPLITS = ("test",)


def training_source(spec: str) -> tuple[Path, str | None]:
    """`parse_source` for data a model is trained or tuned on: never a held-out split, nor a whole
    folder that has one (without a split every image is read, the held-out ones too)."""
    root, split = parse_source(spec)
    if split in HELD_OUT_SPLITS:
        raise DatasetError(f"{spec}: the {split!r} split is held out for measuring; it is never trained or tuned on")
    held = [s for s in HELD_OUT_SPLITS if (root / f"{s}.txt").is_file()]
    if split is None and held:
        raise DatasetError(f"{spec}: this folder has a held-out split ({root / f'{held[0]}.txt'}); name the split to "
                           f"train on, e.g. {spec}:train")
    return root, split
