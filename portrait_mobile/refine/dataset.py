"""The refiner's training data: each labelled photo at the working resolution with the coarse model's
probability, cached once on disk, and tiles sampled from it the way the runtime cuts them.

The cache is two files: `<name>.npz` (ids, sources, shapes, offsets, the validation carve) and
`<name>.u8` (per photo h x w x 5 uint8: R, G, B, coarse probability, label), read through a memory
map, so thousands of photos at 512 cost page cache, not process memory. A refiner whose 4th channel
is not the coarse probability itself (RefinerConfig.prob_channel: the guided filter's output) reads
it from `<name>.<channel>.u8` (h x w a photo), made from the cache once, on first use, by the
runtime's own `band.with_channel`: the tiles it learns on are the runtime's.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from ..atomic import atomic_path
from ..contract import EXTRA_CHANNELS
from ..data.carve import VAL_FRACTION, is_validation
from ..data.folder import PortraitFolder
from ..errors import DatasetError, UnsafeNameError
from ..file_input import read_npz
from ..names import check_file_stem
from ..runtime.band import COARSE, TileGrid, crop_tiles, select_tiles, to_work, with_channel

CoarsePredictor = Callable[[np.ndarray], np.ndarray]  # RGB uint8 photo -> coarse probability (any size)
CHANNELS = 5  # R, G, B, coarse probability, label
# The index's arrays; `info` is the JSON description (coarse model, work_long_side, sources).
_KEYS = ("ids", "sources", "shapes", "offsets", "is_val", "info")
MAX_SIDE = 1 << 15  # a photo's side at the working resolution: bounds h * w * 5 far below int64's range


@dataclass(frozen=True)
class RefineSource:
    root: Path
    split: str | None
    val_fraction: float = VAL_FRACTION  # the carve (data.carve): the coarse model's own rule


@dataclass
class RefineCache:
    ids: np.ndarray
    sources: np.ndarray
    shapes: np.ndarray  # N x 2 (h, w) at the working resolution
    offsets: np.ndarray  # N + 1 byte offsets into data
    is_val: np.ndarray
    data: np.ndarray  # flat uint8 memory map
    info: dict
    channel: str = COARSE  # what item()'s channel 3 holds
    channel_data: np.ndarray | None = None  # flat uint8 map of that channel when it is not the coarse one

    def __len__(self) -> int:
        return len(self.ids)

    def item(self, i: int) -> np.ndarray:
        """h x w x 5 uint8: R, G, B, the refiner's 4th channel (`channel`), label (a view for the coarse one)."""
        h, w = self.shapes[i]
        x = self.data[self.offsets[i]:self.offsets[i + 1]].reshape(h, w, CHANNELS)
        if self.channel_data is None:
            return x
        x = np.array(x)
        x[..., 3] = self.channel_data[self.offsets[i] // CHANNELS:self.offsets[i + 1] // CHANNELS].reshape(h, w)
        return x

    def source_names(self) -> list[str]:
        return sorted(set(self.sources.tolist()))


def _paths(out: str | Path) -> tuple[Path, Path]:
    base = Path(out)
    base = base.with_suffix("") if base.suffix == ".npz" else base
    return base.with_suffix(".npz"), base.with_suffix(".u8")


def cache_files(path: str | Path) -> list[Path]:
    """Every file of the cache at `path`: its index, its data and the channel files made from it (an
    output must be none of them)."""
    index_path, data_path = _paths(path)
    return [index_path, data_path, *(data_path.with_suffix(f".{c}.u8") for c in EXTRA_CHANNELS if c != COARSE)]


def build_refine_cache(sources: Sequence[RefineSource], out: str | Path, coarse: CoarsePredictor,
                       grid: TileGrid, coarse_name: str = "", progress: bool = True) -> Path:
    """Run `coarse` once per labelled photo (as the runtime does) and cache photo, coarse probability
    and label at the working resolution. Returns the index path."""
    index_path, data_path = _paths(out)
    folders = [(s, PortraitFolder(s.root, s.split)) for s in sources]
    ids, names, shapes, offsets, val = [], [], [], [0], []
    bar = tqdm(total=sum(len(f) for _, f in folders), desc="refine cache", unit="img", disable=not progress)
    data_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(data_path, suffix=".u8") as tmp, open(tmp, "wb") as fh:
        for src, folder in folders:
            for i in range(len(folder)):
                sample = folder[i]
                img_w, prob_w = to_work(sample.image, coarse(sample.image), grid)
                h, w = prob_w.shape
                label = cv2.resize(sample.mask, (w, h), interpolation=cv2.INTER_AREA)
                fh.write(np.concatenate([img_w, prob_w[..., None], label[..., None]], axis=2).tobytes())
                ids.append(sample.id)
                names.append(folder.name)
                shapes.append((h, w))
                offsets.append(offsets[-1] + h * w * CHANNELS)
                val.append(is_validation(sample.id, folder.name, src.val_fraction))
                bar.update()
    bar.close()
    info = {"coarse": coarse_name, "work_long_side": grid.work_long_side,
            "sources": [f"{s.root}:{s.split}" for s in sources]}
    with atomic_path(index_path, suffix=".npz") as tmp:
        np.savez(tmp, ids=np.array(ids), sources=np.array(names), shapes=np.array(shapes, np.int64),
                 offsets=np.array(offsets, np.int64), is_val=np.array(val), info=np.array(json.dumps(info)))
    return index_path


def source_name(spec: str) -> str:
    """The name of the cached photos of the source `spec` ("<root>:<split>", as the cache's info lists
    them): the folder's name and split (PortraitFolder.name), e.g. "pfcn/train"."""
    root, _, split = spec.rpartition(":")
    return f"{Path(root).name}/{split}" if split and split != "None" else Path(root).name


def source_roots(info: dict) -> dict[str, Path]:
    """Each source's name -> its dataset folder, from the cache's info."""
    return {source_name(spec): Path(spec.rpartition(":")[0]) for spec in info.get("sources", [])}


def load_refine_cache(path: str | Path, channel: str = COARSE, progress: bool = True) -> RefineCache:
    """The cache at `path`, its channel 3 the refiner's 4th input `channel` (made once if missing).
    DatasetError naming the file and what is wrong unless it is a well-formed cache."""
    index_path, data_path = _paths(path)
    if not index_path.is_file() or not data_path.is_file():
        raise DatasetError(f"refine cache not found: {index_path} and {data_path} (build it with "
                           "python -m portrait_mobile.refine.train cache)")
    raw, info = read_npz(index_path, _KEYS, "refine cache", _check)
    try:
        data = np.memmap(data_path, np.uint8, mode="r")
    except (OSError, ValueError) as e:
        raise DatasetError(f"{data_path}: cannot map the refine cache's data ({e})") from None
    offsets = raw["offsets"].astype(np.int64)
    if int(offsets[-1]) != data.size:
        raise DatasetError(f"{data_path} holds {data.size} bytes, its index expects {int(offsets[-1])}")
    cache = RefineCache(raw["ids"], raw["sources"], raw["shapes"].astype(np.int64), offsets, raw["is_val"], data, info)
    if channel == COARSE:
        return cache
    chan_path = data_path.with_suffix(f".{channel}.u8")
    if not chan_path.is_file() or chan_path.stat().st_size != data.size // CHANNELS:
        _build_channel(cache, chan_path, channel, progress)
    cache.channel, cache.channel_data = channel, np.memmap(chan_path, np.uint8, mode="r")
    return cache


def _check(raw: dict[str, np.ndarray]) -> dict:
    """The cache's info, or DatasetError unless every array is of its kind and length, the offsets cut
    the data into one h x w x 5 photo each, and each id is a plain file name (CarveSet reads
    `masks/<id>.png` from it). Cheap: the index only, never the memory-mapped data."""
    n = len(raw["ids"]) if raw["ids"].ndim == 1 else -1
    if n < 1:
        raise DatasetError(f"ids has shape {raw['ids'].shape}, expected one id a photo")
    for key, kind in (("ids", "U"), ("sources", "U"), ("is_val", "b")):
        a = raw[key]
        if a.shape != (n,) or a.dtype.kind != kind:
            raise DatasetError(f"{key} is {a.dtype} {a.shape}, expected ({n},) {'str' if kind == 'U' else 'bool'}")
    shapes, offsets = raw["shapes"], raw["offsets"]
    if shapes.shape != (n, 2) or shapes.dtype.kind not in "iu" or (shapes < 1).any() or (shapes > MAX_SIDE).any():
        raise DatasetError(f"shapes is {shapes.dtype} {shapes.shape}, expected ({n}, 2) sides in 1..{MAX_SIDE}")
    if offsets.shape != (n + 1,) or offsets.dtype.kind not in "iu":
        raise DatasetError(f"offsets is {offsets.dtype} {offsets.shape}, expected {n + 1} integer offsets")
    sizes = shapes.astype(np.int64).prod(axis=1) * CHANNELS
    if offsets[0] != 0 or not np.array_equal(np.cumsum(sizes), offsets[1:].astype(np.int64)):
        raise DatasetError("offsets do not cut the data into one h x w x 5 photo each (as shapes says)")
    try:
        info = json.loads(str(raw["info"]))
    except ValueError as e:
        raise DatasetError(f"info is not JSON ({e})") from None
    specs = info.get("sources", []) if isinstance(info, dict) else None
    if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
        raise DatasetError("info is not a JSON object listing its sources as strings")
    unknown = sorted(set(raw["sources"].tolist()) - set(source_roots(info)))
    if unknown:
        raise DatasetError(f"photos of {unknown[0]!r} come from no source its info lists ({specs})")
    try:
        for i in raw["ids"].tolist():
            check_file_stem(i, "photo id")
    except UnsafeNameError as e:
        raise DatasetError(str(e)) from None
    return info


def _build_channel(cache: RefineCache, path: Path, channel: str, progress: bool) -> None:
    with atomic_path(path, suffix=".u8") as tmp, open(tmp, "wb") as fh:
        for i in tqdm(range(len(cache)), desc=f"refine cache: {channel}", unit="img", disable=not progress):
            item = cache.item(i)
            fh.write(with_channel(np.ascontiguousarray(item[..., :3]), np.ascontiguousarray(item[..., 3]),
                                  channel).tobytes())


@dataclass(frozen=True)
class TileBatch:
    inputs: np.ndarray  # N x T x T x 4 uint8 (R, G, B, coarse probability)
    labels: np.ndarray  # N x t x t float32 in [0, 1], at the output's resolution


def label_at_output(labels_u8: np.ndarray, grid: TileGrid) -> np.ndarray:
    """N x T x T uint8 labels -> N x t x t float32 in [0, 1] (area average over each output pixel)."""
    s = grid.out_stride
    n, t = labels_u8.shape[:2]
    x = labels_u8.astype(np.float32).reshape(n, t // s, s, t // s, s).mean(axis=(2, 4))
    return x * np.float32(1 / 255)


def sample_tiles(cache: RefineCache, indices: np.ndarray, grid: TileGrid, per_image: int,
                 rng: np.random.Generator, flip: bool = True) -> TileBatch:
    """Up to `per_image` tiles of each photo, chosen among those the runtime would refine on a grid
    shifted by a random offset (so every position of an edge within a tile is seen)."""
    crops = []
    for i in indices:
        item = cache.item(int(i))
        offset = (int(rng.integers(grid.core)), int(rng.integers(grid.core)))
        origins = select_tiles(item[..., 3], grid, offset)
        if len(origins) == 0:
            continue
        pick = rng.choice(len(origins), size=min(per_image, len(origins)), replace=False)
        crops.append(crop_tiles(np.ascontiguousarray(item), origins[pick], grid))
    if not crops:
        raise DatasetError("no photo in this batch has a coarse contour to refine")
    tiles = np.concatenate(crops)
    if flip:
        which = rng.random(len(tiles)) < 0.5
        tiles[which] = tiles[which, :, ::-1]
    return TileBatch(np.ascontiguousarray(tiles[..., :4]), label_at_output(tiles[..., 4], grid))
