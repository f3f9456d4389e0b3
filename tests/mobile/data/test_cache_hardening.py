"""A tampered or mismatched training cache is a DatasetError naming the file and the problem, never a
KeyError, IndexError, cv2.error or a TiB allocation from deep inside the loader."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from support.datasets import make_tiny_cache
from portrait_mobile.data.cache import decoded_bytes, join_cache_parts, join_caches, load_cache, split_cache
from portrait_mobile.errors import DatasetError

Raw = dict[str, np.ndarray]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_cache(tmp_path_factory.mktemp("good"), n=6)


def _tamper(src: Path, out: Path, change: Callable[[Raw], None]) -> Path:
    with np.load(src) as z:
        raw = {k: z[k] for k in z.files}
    change(raw)
    np.savez(out, **raw)
    return out


def _set(key: str, value: Callable[[Raw], np.ndarray]) -> Callable[[Raw], None]:
    return lambda raw: raw.__setitem__(key, value(raw))


def _reversed_offsets(raw: Raw) -> None:
    raw["img_off"] = raw["img_off"][::-1].copy()


def _unsigned_offsets_out_of_order(raw: Raw) -> None:
    # np.diff of these wraps to a huge positive size instead of a negative one.
    off = raw["img_off"].astype(np.uint64)
    off[[2, 3]] = off[[3, 2]]
    raw["img_off"] = off


@pytest.mark.parametrize("change, message", [
    (lambda raw: raw.pop("img_buf"), "missing img_buf"),
    (lambda raw: raw.pop("is_val"), "missing is_val"),
    (_set("img_off", lambda raw: raw["img_off"][:4]), r"img_off is int64 \(4,\), expected 7 integer offsets"),
    (_set("img_off", lambda raw: raw["img_off"].astype(np.float64)), "img_off is float64"),
    (_reversed_offsets, "img_off does not cut img_buf"),
    (_set("mask_off", lambda raw: np.r_[raw["mask_off"][:-1], 10**9]), "mask_off does not cut mask_buf"),
    (_unsigned_offsets_out_of_order, "img_off does not cut"),
    (_set("has_mask", lambda raw: raw["has_mask"][:3]), r"has_mask has shape \(3,\), expected \(6,\)"),
    (_set("has_mask", lambda raw: np.r_[False, raw["has_mask"][1:]]), "entry 0's mask is present but has_mask is False"),
    (_set("is_val", lambda raw: np.array(["x"] * 6)), "is_val has dtype <U1, expected bool"),
    (_set("img_buf", lambda raw: raw["img_buf"].astype(np.float32)), "img_buf is float32"),
    (_set("size", lambda raw: np.int64(200_000)), r"size is 200000, not an integer in 16\.\.4096"),
    (_set("size", lambda raw: np.array([1, 2])), r"size is of shape \(2,\)"),
    (_set("size", lambda raw: np.float64(64)), "size is 64.0"),
])
def test_a_tampered_cache_is_a_dataset_error_naming_the_file(good: Path, tmp_path: Path, change, message: str) -> None:
    bad = _tamper(good, tmp_path / "bad.npz", change)
    with pytest.raises(DatasetError, match=message) as e:
        load_cache(bad, progress=False)
    assert str(bad) in str(e.value)
    with pytest.raises(DatasetError, match=message):  # split and join read it through the same check
        split_cache(bad, 2, tmp_path / "parts")


def test_a_size_that_disagrees_with_the_entries_is_caught_where_they_are_decoded(good: Path, tmp_path: Path) -> None:
    bad = _tamper(good, tmp_path / "bad.npz", _set("size", lambda raw: np.int64(32)))
    with pytest.raises(DatasetError, match=rf"{re.escape(str(bad))}: entry 0's img is 64x64, the cache says 32x32"):
        load_cache(bad, progress=False)


def test_decoded_bytes_refuses_a_size_it_would_multiply_into_tebibytes(good: Path, tmp_path: Path) -> None:
    bad = _tamper(good, tmp_path / "bad.npz", _set("size", lambda raw: np.int64(200_000)))
    assert decoded_bytes(bad) is None and decoded_bytes(good) == 6 * 64 * 64 * 5


def test_parts_of_two_caches_are_not_joined(good: Path, tmp_path: Path) -> None:
    other = make_tiny_cache(tmp_path / "o", n=4)  # named cache.npz: give it another stem
    other = other.rename(other.with_name("other.npz"))
    split_cache(good, 2, tmp_path / "a")
    split_cache(other, 2, tmp_path / "b")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (tmp_path / "a" / "cache.part1of2.npz").rename(mixed / "cache.part1of2.npz")
    (tmp_path / "b" / "other.part2of2.npz").rename(mixed / "other.part2of2.npz")
    with pytest.raises(DatasetError, match=r"one split .*cache.part1of2.npz.*other.part2of2.npz"):
        join_cache_parts(mixed, tmp_path / "j.npz")
    assert not (tmp_path / "j.npz").exists()


def test_a_part_missing_a_key_is_named(good: Path, tmp_path: Path) -> None:
    parts = split_cache(good, 3, tmp_path / "parts")
    _tamper(parts[1], parts[1], lambda raw: raw.pop("mask_off"))
    for join in (lambda: join_cache_parts(tmp_path / "parts", tmp_path / "j.npz"),
                 lambda: join_caches(parts, tmp_path / "j.npz")):
        with pytest.raises(DatasetError, match=rf"{re.escape(str(parts[1]))} is not a training cache \(missing mask_off\)"):
            join()
    assert not (tmp_path / "j.npz").exists()
