"""Real portrait images for int8 calibration and for the parity checks.

Default (no --calib / --val): one deterministic shuffle of `pfcn/train` + `picsart/train` from
`../shared/datasets` (found relative to the repository, the working directory, or
$PORTRAIT_DATASETS); the first `n_calib` images calibrate, the next `n_val` (disjoint) are the
parity/validation sample. PFCN test is never used here: it is the benchmark split.

`--calib DIR` / `--val DIR` accept a dataset folder (`images/` + optional `masks/`, optionally
`DIR:split` for a `<split>.txt` list) or a flat folder of images.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from portrait_mobile.data.folder import IMAGE_EXTS, PortraitFolder, Sample, parse_source, read_image_rgb, read_mask
from portrait_mobile.errors import DatasetError

DEFAULT_SOURCES = ("pfcn:train", "picsart:train")
SEED = 20240521


@dataclass(frozen=True)
class ImageRef:
    image: Path
    mask: Path | None


@dataclass
class ImageSets:
    """Calibration images (RGB uint8, loaded lazily) and the labelled-if-possible parity sample."""

    calib_refs: list[ImageRef]
    val_refs: list[ImageRef]
    calib_source: str
    val_source: str
    _calib: list[np.ndarray] | None = field(default=None, repr=False)
    _val: list[Sample] | None = field(default=None, repr=False)

    def calibration_images(self, progress: bool = True) -> list[np.ndarray]:
        if self._calib is None:
            self._calib = [read_image_rgb(r.image) for r in _progress(self.calib_refs, "calibration images",
                                                                        progress)]
        return self._calib

    def validation_samples(self, progress: bool = True) -> list[Sample]:
        if self._val is None:
            out = []
            for r in _progress(self.val_refs, "validation images", progress):
                img = read_image_rgb(r.image)
                mask = read_mask(r.mask) if r.mask is not None else None
                if mask is not None and mask.shape != img.shape[:2]:
                    raise DatasetError(f"mask {r.mask} is {mask.shape[1]}x{mask.shape[0]} but its image is "
                                       f"{img.shape[1]}x{img.shape[0]}")
                out.append(Sample(r.image.stem, img, mask))
            self._val = out
        return self._val

    @property
    def labelled(self) -> bool:
        return bool(self.val_refs) and all(r.mask is not None for r in self.val_refs)


def _progress(items, desc: str, enabled: bool):
    if not enabled or len(items) < 8:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=f"loading {desc}", unit="img", leave=False)


def find_datasets_root() -> Path | None:
    """../shared/datasets next to the repository or the working directory, or $PORTRAIT_DATASETS."""
    env = os.environ.get("PORTRAIT_DATASETS")
    candidates = [Path(env)] if env else []
    repo = Path(__file__).resolve().parents[1]
    cwd = Path.cwd()
    candidates += [repo.parent / "shared" / "datasets", cwd.parent / "shared" / "datasets",
                   cwd / "shared" / "datasets", repo / "datasets"]
    for c in candidates:
        if all((c / spec.split(":")[0] / "images").is_dir() for spec in DEFAULT_SOURCES):
            return c
    return None


def folder_refs(spec: str | Path) -> list[ImageRef]:
    """Image (+mask) paths of a dataset folder (`DIR` or `DIR:split`) or a flat folder of images."""
    root, split = parse_source(str(spec))
    if not root.is_dir():
        raise DatasetError(f"image folder not found: {root}")
    if (root / "images").is_dir():
        labelled = (root / "masks").is_dir()
        ds = PortraitFolder(root, split, labelled=labelled)
        refs = []
        for i in range(len(ds)):
            mask = ds.mask_path(i) if labelled else None
            refs.append(ImageRef(ds.image_path(i), mask if mask is not None and mask.is_file() else None))
        return refs
    if split is not None:
        raise DatasetError(f"{root} has no images/ folder, so it cannot take a split (:{split})")
    files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise DatasetError(f"no images ({', '.join(IMAGE_EXTS)}) in {root}")
    return [ImageRef(p, None) for p in files]


def _shuffled(refs: list[ImageRef], seed: int = SEED) -> list[ImageRef]:
    order = np.random.default_rng(seed).permutation(len(refs))
    return [refs[i] for i in order]


def load_image_sets(calib: str | Path | None = None, val: str | Path | None = None, n_calib: int = 100,
                    n_val: int = 100, need_calib: bool = True) -> ImageSets:
    """Pick the calibration and validation images (paths only; pixels load on first use).

    Raises DatasetError with a clear message when no images are available.
    """
    if n_calib < 1 or n_val < 1:
        raise DatasetError("--calib-n and --val-n must be at least 1")
    default_pool: list[ImageRef] | None = None
    default_desc = ""

    def default() -> list[ImageRef]:
        nonlocal default_pool, default_desc
        if default_pool is None:
            root = find_datasets_root()
            if root is None:
                raise DatasetError("no calibration/validation images: pass --calib DIR (a folder of portrait "
                                   "images) or put the datasets in ../shared/datasets (or set $PORTRAIT_DATASETS)")
            refs: list[ImageRef] = []
            for spec in DEFAULT_SOURCES:
                refs += folder_refs(f"{root / spec.split(':')[0]}:{spec.split(':')[1]}")
            default_pool = _shuffled(refs)
            default_desc = f"{root}: {' + '.join(DEFAULT_SOURCES)}"
        return default_pool

    # Calibration images.
    if calib is not None:
        user = _shuffled(folder_refs(calib))
        calib_refs = user[:n_calib]
        calib_rest = user[n_calib:]
        calib_source = f"{calib} ({len(calib_refs)} of {len(user)} images)"
    elif need_calib:
        pool = default()
        calib_refs, calib_rest = pool[:n_calib], pool[n_calib:]
        calib_source = f"{default_desc} ({len(calib_refs)} images, seed {SEED})"
    else:
        calib_refs, calib_rest, calib_source = [], [], "not needed"

    # Validation (parity) images, disjoint from the calibration ones where they share a pool.
    if val is not None:
        refs = _shuffled(folder_refs(val))
        val_refs = refs[:n_val]
        val_source = f"{val} ({len(val_refs)} of {len(refs)} images)"
    elif calib is None:
        pool = default()
        # Always after the first n_calib, so the sample does not depend on which targets run.
        val_refs = pool[n_calib:n_calib + n_val]
        if not val_refs:  # a tiny pool: check on the calibration images rather than on nothing
            val_refs = pool[:n_val]
        val_source = f"{default_desc} ({len(val_refs)} images held out from calibration, seed {SEED})"
    else:
        try:
            pool = default()
            val_refs = pool[n_calib:n_calib + n_val]
            val_source = f"{default_desc} ({len(val_refs)} images, seed {SEED})"
        except DatasetError:
            if calib_rest:
                val_refs = calib_rest[:n_val]
                val_source = f"{calib} ({len(val_refs)} images not used for calibration)"
            else:
                val_refs = calib_refs[:n_val]
                val_source = f"{calib} ({len(val_refs)} calibration images: no held-out images left)"
    return ImageSets(calib_refs, val_refs, calib_source, val_source)
