"""A refine cache is read from a file someone else may have made: every malformed one is refused in one
line naming it, and the names it holds never lead a read outside its dataset folders."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from portrait_mobile.errors import DatasetError, UnsafeNameError
from portrait_mobile.refine.config import get_refiner_config
from portrait_mobile.refine.dataset import RefineSource, build_refine_cache, load_refine_cache
from portrait_mobile.refine.train import main
from portrait_mobile.refine.validate import CarveSet
from support.datasets import make_portrait_folder


def coarse(image: np.ndarray) -> np.ndarray:
    return cv2.resize((image.mean(axis=2) > 100).astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA)


@pytest.fixture()
def cache_path(tmp_path: Path) -> Path:
    folder = make_portrait_folder(tmp_path / "data" / "seta", n=6, size=(60, 48), seed=3)
    return build_refine_cache([RefineSource(folder, "train", 0.5)], tmp_path / "cache" / "r", coarse,
                              get_refiner_config("refine-t40").grid(), "stand-in", progress=False)


def tampered(cache_path: Path, out: Path, **arrays) -> Path:
    """The cache with some of its index's arrays replaced (None: removed), its data file copied."""
    z = dict(np.load(cache_path))
    z.update(arrays)
    np.savez(out, allow_pickle=True, **{k: v for k, v in z.items() if v is not None})
    shutil.copy(cache_path.with_suffix(".u8"), out.with_suffix(".u8"))
    return out


def info(cache_path: Path, **changes) -> np.ndarray:
    d = json.loads(str(np.load(cache_path)["info"]))
    return np.array(json.dumps({**d, **changes}))


def test_ids_that_are_not_file_names_are_refused_as_the_cache_loads(cache_path: Path, tmp_path: Path) -> None:
    ids = np.load(cache_path)["ids"].copy().astype("<U40")
    ids[1] = "../../../outside/secret"
    bad = tampered(cache_path, tmp_path / "trav.npz", ids=ids)
    with pytest.raises(DatasetError, match=r"trav\.npz is not a refine cache \(photo id '\.\./\.\./\.\./outside"):
        load_refine_cache(bad)


def test_val_never_reads_a_mask_outside_the_dataset(cache_path: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    # A real mask where the tampered id points: before the check, val scored it and exited 0.
    secret = tmp_path / "outside" / "secret.png"
    secret.parent.mkdir()
    cv2.imwrite(str(secret), np.full((60, 48), 255, np.uint8))
    cache = load_refine_cache(cache_path)
    carved = [i for i in range(len(cache)) if cache.is_val[i]]
    ids = cache.ids.astype("<U64")
    ids[carved[0]] = "../../../outside/secret"
    assert (tmp_path / "data" / "seta" / "masks" / f"{ids[carved[0]]}.png").resolve() == secret
    bad = tampered(cache_path, tmp_path / "trav.npz", ids=ids)

    from portrait_mobile.refine.model import build_refiner
    from portrait_mobile.refine.checkpoint import RefinerCheckpoint

    m = build_refiner("refine-t40")
    RefinerCheckpoint(m.config, m.state_dict()).save(tmp_path / "r.pt")
    assert main(["val", str(tmp_path / "r.pt"), "--cache", str(bad)]) == 2
    assert "photo id" in capsys.readouterr().err
    # A cache made in memory skips the loader's check: the mask path itself must stay in masks/.
    cache.ids = ids
    with pytest.raises(UnsafeNameError, match="outside"):
        CarveSet.from_cache(cache)


def test_photos_of_a_source_the_info_does_not_list_are_refused(cache_path: Path, tmp_path: Path) -> None:
    sources = np.load(cache_path)["sources"].copy().astype("<U20")
    sources[:] = "../../x"
    with pytest.raises(DatasetError, match=r"src\.npz is not a refine cache \(photos of '\.\./\.\./x' come from no source"):
        load_refine_cache(tampered(cache_path, tmp_path / "src.npz", sources=sources))
    cache = load_refine_cache(cache_path)
    cache.info = {**cache.info, "sources": []}
    with pytest.raises(DatasetError, match="come from no source its info lists"):
        CarveSet.from_cache(cache)


@pytest.mark.parametrize("change, problem", [
    (dict(shapes=None), "missing shapes"),
    (dict(info=None), "missing info"),
    (dict(info=np.array("not json")), "info is not JSON"),
    (dict(offsets="float"), "offsets is float64"),
    (dict(shapes="7x7"), "offsets do not cut the data"),
    (dict(ids="object"), "Object arrays cannot be loaded"),
    (dict(is_val="short"), "is_val is bool"),
    (dict(info="sources int"), "info is not a JSON object listing its sources"),
])
def test_malformed_caches_are_refused_naming_the_file(cache_path: Path, tmp_path: Path, change: dict,
                                                      problem: str) -> None:
    z = np.load(cache_path)
    made = {"float": z["offsets"].astype(np.float64), "7x7": np.concatenate([[[7, 7]], z["shapes"][1:]]),
            "object": np.array(list(z["ids"]), dtype=object), "short": z["is_val"][:-1],
            "sources int": info(cache_path, sources=5)}
    arrays = {k: made.get(v, v) if isinstance(v, str) else v for k, v in change.items()}
    bad = tampered(cache_path, tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError, match=rf"bad\.npz is not a refine cache \(.*{problem}"):
        load_refine_cache(bad)


def test_a_truncated_index_is_refused_naming_the_file(cache_path: Path, tmp_path: Path) -> None:
    data = cache_path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:len(data) // 2])
    shutil.copy(cache_path.with_suffix(".u8"), tmp_path / "cut.u8")
    with pytest.raises(DatasetError, match=r"cut\.npz is not a refine cache \(BadZipFile"):
        load_refine_cache(tmp_path / "cut")


def test_a_well_formed_cache_still_loads_memory_mapped(cache_path: Path) -> None:
    cache = load_refine_cache(cache_path)
    assert isinstance(cache.data, np.memmap) and len(cache) == 6 and cache.item(5).shape == (60, 48, 5)
    assert CarveSet.from_cache(cache).labels
