"""Real portrait images for int8 calibration and for the parity checks.

Default (no --calib / --val): one deterministic shuffle of `pfcn/train` + `picsart/train` from
`../shared/datasets` (found relative to the repository, the working directory, or
$PORTRAIT_DATASETS); the first `n_calib` images calibrate, the next `n_val` (disjoint) are the
parity/validation sample. PFCN test is never used here: it is the benchmark split, and `--calib` refuses
it (`training_source`: calibration tunes the int8 model); `--val` may name it (parity only measures).

`--calib DIR` / `--val DIR` accept a dataset folder (`images/` + optional `masks/`, optionally
`DIR:split` for a `<split>.txt` list) or a flat folder of images.

Without ../shared (a user's fresh machine): the shipped weights need no calibration images (their
int8 statistics are packaged, `calibration_stats`), and the parity sample is a few views of a
public-domain photo packaged in `portrait_mobile/weights/parity/` (`packaged_parity_samples`).
$PORTRAIT_DATASETS, when set, is the only place looked at (an empty folder hides ../shared).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from portrait_mobile.data.folder import (IMAGE_EXTS, PortraitFolder, Sample, parse_source, read_image_rgb, read_mask,
                                         training_source)
from portrait_mobile.errors import DatasetError, PortraitError
from portrait_mobile.paths import DATASETS_ENV, find_shared

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
    """../shared/datasets ($PORTRAIT_DATASETS when set: portrait_mobile.paths) if it holds the default sources."""
    try:
        root = find_shared("datasets", env=DATASETS_ENV)
    except PortraitError:
        return None
    return root if all((root / spec.split(":")[0] / "images").is_dir() for spec in DEFAULT_SOURCES) else None


def parity_photo() -> Path:
    """The packaged parity photo (portrait_mobile/weights/parity/, with its SOURCE.md)."""
    import portrait_mobile

    return Path(portrait_mobile.__file__).resolve().parent / "weights" / "parity" / "astronaut.jpg"


def packaged_parity_samples() -> tuple[list[Sample], str]:
    """Views of the packaged public-domain portrait (unlabelled) and a description of them.

    Framed like the portraits the model is for (PFCN's 3:4 head and shoulders): four crop widths
    centred on the face, and one of them mirrored, darker, brighter and small. (Framed whole, the
    photo is 18% pixels the fp32 model itself is unsure of, suit and helmet at 0.3-0.7: mask IoU at
    0.5 there measures the threshold's noise, not the export.)
    """
    path = parity_photo()
    img = read_image_rgb(path)
    h, w = img.shape[:2]
    face_x = w * 232 // 512  # the face's centre in the 512x512 photo
    views: dict[str, np.ndarray] = {}
    for frac in (0.75, 0.66, 0.56, 0.47):  # crop width / photo width
        cw = int(w * frac)
        ch = min(h, cw * 4 // 3)
        x0 = min(max(0, face_x - cw // 2), w - cw)
        views[f"3x4-{cw}"] = img[:ch, x0:x0 + cw]
    base = views[f"3x4-{int(w * 0.66)}"]
    lut = lambda gamma: (255.0 * (np.arange(256) / 255.0) ** gamma + 0.5).astype(np.uint8)  # noqa: E731
    views["mirrored"] = base[:, ::-1]
    views["dark"] = lut(1.8)[base]
    views["bright"] = lut(0.55)[base]
    views["small"] = cv2.resize(base, (120, 160), interpolation=cv2.INTER_AREA)
    samples = [Sample(f"astronaut-{k}", np.ascontiguousarray(v), None) for k, v in views.items()]
    desc = (f"{len(samples)} views of the packaged public-domain NASA portrait {path.name} (unlabelled: masks "
            "compared with PyTorch's; no ../shared/datasets here)")
    return samples, desc


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
                    n_val: int = 100, need_calib: bool = True, no_stats_reason: str = "") -> ImageSets:
    """Pick the calibration and validation images (paths only; pixels load on first use).

    Without datasets and without `val`, the parity sample is `packaged_parity_samples()`.
    Raises DatasetError with a clear message when calibration images are needed and there are none
    (`no_stats_reason`: why no packaged statistics could stand in, for that message).
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
                why = f" (no packaged int8 calibration statistics for these weights: {no_stats_reason})" \
                    if no_stats_reason else ""
                raise DatasetError("no calibration images for the int8 export: pass --calib DIR (a folder of "
                                   "portrait images) or put the datasets in ../shared/datasets (or set "
                                   f"${DATASETS_ENV}){why}")
            refs: list[ImageRef] = []
            for spec in DEFAULT_SOURCES:
                refs += folder_refs(f"{root / spec.split(':')[0]}:{spec.split(':')[1]}")
            default_pool = _shuffled(refs)
            # The usual place by its usual name: the text is saved with calibration statistics.
            where = "../shared/datasets" if root.parent.name == "shared" and root.name == "datasets" else str(root)
            default_desc = f"{where}: {' + '.join(DEFAULT_SOURCES)}"
        return default_pool

    # Calibration images.
    if calib is not None:
        # Calibration sets the int8 ranges: it tunes the model, so never on a held-out split (the one
        # the model is measured on), as the training caches refuse them. Parity (--val) may use it.
        try:
            training_source(str(calib))
        except DatasetError as e:
            raise DatasetError(f"--calib {e}") from None
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
        if find_datasets_root() is None:  # a fresh machine: the packaged photo
            samples, desc = packaged_parity_samples()
            return ImageSets([], [], calib_source, desc, _val=samples[:n_val])
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
