"""A compact, pre-resized training cache: JPEG/PNG bytes in one .npz, decoded once into RAM.

Training reads this instead of the original photos so a 2-core CPU does not decode 600x800 JPEGs
every step, and so the whole training set travels to a GPU machine in a few tens of MB.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from ..atomic import atomic_path
from ..errors import DatasetError
from ..file_input import read_npz
from .carve import is_validation
from .folder import PortraitFolder

Teacher = Callable[[np.ndarray], np.ndarray]  # RGB uint8 SxSx3 -> probability SxS in [0, 1]


def _pack(chunks: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(chunks) + 1, np.int64)
    offsets[1:] = np.cumsum([len(c) for c in chunks])
    buf = np.frombuffer(b"".join(chunks), np.uint8) if chunks else np.zeros(0, np.uint8)
    return buf, offsets


def _encode(ext: str, arr: np.ndarray, params: list[int]) -> bytes:
    ok, data = cv2.imencode(ext, arr, params)
    if not ok:
        raise DatasetError(f"could not encode a {ext} for the cache")
    return data.tobytes()


@dataclass(frozen=True)
class CacheSource:
    root: Path
    split: str | None
    labelled: bool = True
    val_fraction: float = 0.0  # share of this source carved out for validation


def build_cache(sources: Sequence[CacheSource], out: str | Path, size: int = 256,
                teacher: Teacher | None = None, quality: int = 80, teacher_levels: int = 16,
                progress: bool = True) -> Path:
    """Squash-resize every pair to size x size (as the model sees it) and pack it into `out`.

    Images are WebP (a third smaller than JPEG at equal quality) and teacher maps are quantized to
    `teacher_levels` grey levels: together they keep ~4K pairs under the 64 MiB a GPU run can carry.
    """
    step = 255 // (teacher_levels - 1)
    ids, src_names, imgs, masks, teach, val = [], [], [], [], [], []
    has_mask, has_teacher = [], []
    folders = [(s, PortraitFolder(s.root, s.split, labelled=s.labelled)) for s in sources]
    total = sum(len(f) for _, f in folders)
    bar = tqdm(total=total, desc="caching", unit="img", disable=not progress)
    for src, folder in folders:
        for i in range(len(folder)):
            sample = folder[i]
            img = cv2.resize(sample.image, (size, size), interpolation=cv2.INTER_AREA)
            ids.append(sample.id)
            src_names.append(folder.name)
            imgs.append(_encode(".webp", cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_WEBP_QUALITY, quality]))
            if sample.mask is not None:
                # Area-resize keeps a soft edge; the loss treats it as a soft target.
                m = cv2.resize(sample.mask, (size, size), interpolation=cv2.INTER_AREA)
                masks.append(_encode(".png", m, [cv2.IMWRITE_PNG_COMPRESSION, 9]))
            else:
                masks.append(b"")
            has_mask.append(sample.mask is not None)
            if teacher is not None:
                t = np.clip(np.round(teacher(img) * (teacher_levels - 1)), 0, teacher_levels - 1)
                t = (t * step).astype(np.uint8)
                teach.append(_encode(".png", t, [cv2.IMWRITE_PNG_COMPRESSION, 9]))
            else:
                teach.append(b"")
            has_teacher.append(teacher is not None)
            val.append(src.labelled and is_validation(sample.id, folder.name, src.val_fraction))
            bar.update()
    bar.close()
    img_buf, img_off = _pack(imgs)
    mask_buf, mask_off = _pack(masks)
    t_buf, t_off = _pack(teach)
    return _write_raw(dict(size=np.int64(size), ids=np.array(ids), sources=np.array(src_names),
                           img_buf=img_buf, img_off=img_off, mask_buf=mask_buf, mask_off=mask_off,
                           teacher_buf=t_buf, teacher_off=t_off, has_mask=np.array(has_mask),
                           has_teacher=np.array(has_teacher), is_val=np.array(val)), Path(out))


_BUFFERS = ("img", "mask", "teacher")  # each a packed byte buffer + offsets, one entry a sample
_PER_SAMPLE = ("ids", "sources", "has_mask", "has_teacher", "is_val")
_KEYS = ("size", *_PER_SAMPLE, *(f"{b}_{k}" for b in _BUFFERS for k in ("buf", "off")))
# Side of the square samples: a tampered `size` would otherwise ask for TiBs before decoding anything.
MIN_SIZE, MAX_SIZE = 16, 4096


def _size(z) -> int:
    size = z["size"]
    if size.shape != () or size.dtype.kind not in "iu" or not MIN_SIZE <= int(size) <= MAX_SIZE:
        what = size.item() if size.shape == () else f"of shape {size.shape}"
        raise DatasetError(f"size is {what}, not an integer in {MIN_SIZE}..{MAX_SIZE}")
    return int(size)


def _check(raw: dict[str, np.ndarray]) -> None:
    """DatasetError unless `raw` is a well-formed cache: every array of its kind and length, offsets that
    cut its buffer into one entry a sample. Cheap (no decoding), so every read runs it."""
    _size(raw)
    if raw["ids"].ndim != 1:
        raise DatasetError(f"ids has shape {raw['ids'].shape}, expected one id a sample")
    n = len(raw["ids"])  # may be 0: split_cache cuts as many parts as samples with some of them empty
    for f in _PER_SAMPLE:
        a = raw[f]
        if a.ndim != 1 or len(a) != n:
            raise DatasetError(f"{f} has shape {a.shape}, expected ({n},) like ids")
        if a.dtype.kind not in ("U" if f in ("ids", "sources") else "b"):
            raise DatasetError(f"{f} has dtype {a.dtype}, expected {'str' if f in ('ids', 'sources') else 'bool'}")
    for b in _BUFFERS:
        buf, off = raw[f"{b}_buf"], raw[f"{b}_off"]
        if buf.ndim != 1 or buf.dtype != np.uint8:
            raise DatasetError(f"{b}_buf is {buf.dtype} {buf.shape}, expected 1-D uint8 bytes")
        if off.shape != (n + 1,) or off.dtype.kind not in "iu":
            raise DatasetError(f"{b}_off is {off.dtype} {off.shape}, expected {n + 1} integer offsets")
        # Compared pairwise, not by np.diff: a diff of unsigned offsets wraps instead of going negative.
        if off[0] != 0 or (off[1:] < off[:-1]).any() or off[-1] != len(buf):
            raise DatasetError(f"{b}_off does not cut {b}_buf ({len(buf)} bytes) into consecutive entries")
        # An image every sample; a mask or teacher map exactly where its flag says (else an empty entry).
        flag = {"mask": "has_mask", "teacher": "has_teacher"}.get(b)
        wrong = np.flatnonzero((off[1:] > off[:-1]) != (raw[flag] if flag else True))
        if len(wrong):
            i = wrong[0]
            raise DatasetError(f"entry {i}'s {b} is {'empty' if off[i + 1] == off[i] else 'present'}"
                               + (f" but {flag} is {bool(raw[flag][i])}" if flag else ""))


def _read_raw(path: Path) -> dict[str, np.ndarray]:
    """The checked arrays of the cache at `path`; DatasetError naming it and what is wrong otherwise."""
    return read_npz(path, _KEYS, "training cache", _check)[0]


def _write_raw(arrays: dict[str, np.ndarray], out: Path) -> Path:
    with atomic_path(out, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)
    return out


def split_cache(path: str | Path, parts: int, out_dir: str | Path) -> list[Path]:
    """Cut a cache into `parts` smaller caches of about equal bytes (consecutive samples), e.g. to carry
    a cache larger than one transfer allows in several; `join_caches` puts them back together."""
    path, out_dir = Path(path), Path(out_dir)
    raw = _read_raw(path)
    n = len(raw["ids"])
    if not 1 <= parts <= n:
        raise DatasetError(f"cannot split {n} samples into {parts} parts")
    sizes = sum(np.diff(raw[f"{b}_off"]) for b in _BUFFERS)
    bounds = np.searchsorted(np.cumsum(sizes), np.arange(1, parts) * sizes.sum() / parts)
    edges = [0, *(int(b) + 1 for b in bounds), n]
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for k, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        part = {"size": raw["size"], **{f: raw[f][a:b] for f in _PER_SAMPLE}}
        for buf in _BUFFERS:
            off = raw[f"{buf}_off"]
            part[f"{buf}_buf"] = raw[f"{buf}_buf"][off[a]:off[b]]
            part[f"{buf}_off"] = off[a:b + 1] - off[a]
        written.append(_write_raw(part, out_dir / f"{path.stem}.part{k + 1}of{parts}.npz"))
    return written


_PART = re.compile(r"\.part(\d+)of(\d+)\.npz$")


def join_cache_parts(folder: str | Path, out: str | Path) -> Path:
    """`join_caches` over every `split_cache` part in `folder`, in their order (part10of12 after
    part9of12); DatasetError unless they are all the parts of one split."""
    found = sorted(((int(m[1]), int(m[2]), p) for p in Path(folder).glob("*.part*of*.npz")
                    if (m := _PART.search(p.name))), key=lambda t: t[:2])
    counts = {n for _, n, _ in found}
    # The stem is the split cache's name: parts of two caches cut in as many parts would join silently.
    stems = {p.name[:_PART.search(p.name).start()] for _, _, p in found}
    if (not found or len(counts) > 1 or len(stems) > 1
            or [k for k, _, _ in found] != list(range(1, found[0][1] + 1))):
        raise DatasetError(f"{folder}: expected parts 1..N of one split (STEM.partKofN.npz), found "
                           f"{[p.name for _, _, p in found] or 'none'}")
    return join_caches([p for _, _, p in found], out)


def join_caches(paths: Sequence[str | Path], out: str | Path) -> Path:
    """One cache from several of the same size (`split_cache`'s parts, in order)."""
    raws = [_read_raw(Path(p)) for p in paths]
    if not raws:
        raise DatasetError("no caches to join")
    sizes = {int(r["size"]) for r in raws}
    if len(sizes) > 1:
        raise DatasetError(f"caches of different sizes cannot be joined: {sorted(sizes)}")
    joined = {"size": raws[0]["size"], **{f: np.concatenate([r[f] for r in raws]) for f in _PER_SAMPLE}}
    for buf in _BUFFERS:
        offs, start = [np.zeros(1, np.int64)], 0
        for r in raws:
            offs.append(r[f"{buf}_off"][1:] + start)
            start += int(r[f"{buf}_off"][-1])
        joined[f"{buf}_buf"] = np.concatenate([r[f"{buf}_buf"] for r in raws])
        joined[f"{buf}_off"] = np.concatenate(offs)
    return _write_raw(joined, Path(out))


@dataclass
class CachedSet:
    """Decoded cache: uint8 arrays ready to become tensors."""

    ids: np.ndarray
    sources: np.ndarray
    images: np.ndarray  # N x S x S x 3 RGB
    masks: np.ndarray  # N x S x S (0 where unlabelled)
    teacher: np.ndarray  # N x S x S (0 where absent)
    has_mask: np.ndarray
    has_teacher: np.ndarray
    is_val: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, idx: np.ndarray) -> "CachedSet":
        return CachedSet(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))


def decoded_bytes(path: str | Path) -> int | None:
    """Bytes `load_cache` will hold for this cache (images, masks, teacher maps), read from its header
    alone; None if it is not a readable cache (load_cache then says why)."""
    try:
        z = np.load(path, allow_pickle=False)
        return len(z["ids"]) * _size(z) ** 2 * (3 + 1 + 1)
    except Exception:
        return None


def load_cache(path: str | Path, progress: bool = True) -> CachedSet:
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"training cache not found: {path} (build it with `portrait-train cache`)")
    z = _read_raw(path)
    size, n = int(z["size"]), len(z["ids"])
    images = np.zeros((n, size, size, 3), np.uint8)
    masks = np.zeros((n, size, size), np.uint8)
    teacher = np.zeros((n, size, size), np.uint8)

    def dec(b: str, i: int, flag: int) -> np.ndarray | None:
        buf, off = z[f"{b}_buf"], z[f"{b}_off"]
        if off[i + 1] == off[i]:
            return None
        out = cv2.imdecode(buf[off[i]:off[i + 1]], flag)
        if out is None:
            raise DatasetError(f"{path}: entry {i} is corrupt")
        if out.shape[:2] != (size, size):
            raise DatasetError(f"{path}: entry {i}'s {b} is {out.shape[1]}x{out.shape[0]}, the cache says {size}x{size}")
        return out

    for i in tqdm(range(n), desc="decoding cache", unit="img", disable=not progress):
        images[i] = cv2.cvtColor(dec("img", i, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        m = dec("mask", i, cv2.IMREAD_GRAYSCALE)
        if m is not None:
            masks[i] = m
        t = dec("teacher", i, cv2.IMREAD_GRAYSCALE)
        if t is not None:
            teacher[i] = t
    return CachedSet(z["ids"], z["sources"], images, masks, teacher, z["has_mask"], z["has_teacher"], z["is_val"])
