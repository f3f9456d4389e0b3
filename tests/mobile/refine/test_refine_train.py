"""The refiner's data and training on tiny hand-made folders: the cache, the sampled tiles, one short
fit with its checkpoints and carve scores, and the CLI's refusals."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from portrait_mobile.refine.checkpoint import RefinerCheckpoint
from portrait_mobile.refine.config import DEFAULT_REFINER, get_refiner_config
from portrait_mobile.refine.dataset import RefineSource, build_refine_cache, load_refine_cache, sample_tiles
from portrait_mobile.refine.fit import FitConfig, fit
from portrait_mobile.refine.train import main
from support.datasets import make_portrait_folder

GRID = get_refiner_config("refine-t48").grid()


def blurry_coarse(image: np.ndarray) -> np.ndarray:
    """A stand-in coarse model: the bright region, blurred and at 64x64 (as a model's output)."""
    p = (image.mean(axis=2) > 100).astype(np.float32)
    return cv2.GaussianBlur(cv2.resize(p, (64, 64), interpolation=cv2.INTER_AREA), (0, 0), 2)


@pytest.fixture()
def cache_path(tmp_path: Path) -> Path:
    a = make_portrait_folder(tmp_path / "seta", n=12, size=(120, 96), seed=1)
    b = make_portrait_folder(tmp_path / "setb", n=12, size=(90, 72), seed=2)
    sources = [RefineSource(a, "train", 0.3), RefineSource(b, "train", 0.3)]
    return build_refine_cache(sources, tmp_path / "cache" / "r", blurry_coarse, GRID, "stand-in", progress=False)


def test_cache_holds_photo_coarse_and_label_at_the_working_resolution(cache_path: Path) -> None:
    cache = load_refine_cache(cache_path)
    assert len(cache) == 24 and cache.source_names() == ["seta/train", "setb/train"]
    assert cache.is_val.any() and not cache.is_val.all()
    item = cache.item(0)
    assert item.shape == (120, 96, 5) and item.dtype == np.uint8
    assert set(np.unique(item[..., 4])) >= {0, 255}
    assert 0 < (item[..., 3] >= 128).mean() < 1


def test_sampled_tiles_are_the_runtime_tiles_with_labels_at_output_resolution(cache_path: Path) -> None:
    cache = load_refine_cache(cache_path)
    b = sample_tiles(cache, np.arange(4), GRID, per_image=2, rng=np.random.default_rng(0))
    assert b.inputs.shape[1:] == (48, 48, 4) and b.inputs.dtype == np.uint8
    assert b.labels.shape == (len(b.inputs), 24, 24) and 0 <= b.labels.min() and b.labels.max() <= 1
    assert len(b.inputs) == 8


def test_short_fit_writes_checkpoints_and_history(cache_path: Path, tmp_path: Path) -> None:
    cfg = FitConfig(cache=str(cache_path), out_dir=str(tmp_path / "run"), epochs=2, steps_per_epoch=2,
                    images_per_step=4, tiles_per_image=2, warmup_steps=1,
                    mix={"seta/train": 0.5, "setb/train": 0.5})
    logs: list[str] = []
    history = fit(load_refine_cache(cache_path), cfg, log=logs.append)
    assert len(history["epochs"]) == 2 and "score" in history["coarse"]
    assert {"val_score", "val_boundary_iou/seta/train", "val_tiles_mean"} <= set(history["epochs"][0])
    best = RefinerCheckpoint.load(tmp_path / "run" / "best.pt")
    assert best.train_state is None and "val_score" in best.metrics
    last = RefinerCheckpoint.load(tmp_path / "run" / "last.pt")
    assert last.train_state["epoch"] == 2
    assert json.loads((tmp_path / "run" / "history.json").read_text())["epochs"][1]["epoch"] == 2
    # Resuming a finished run does nothing more; one more epoch continues from the state.
    more = fit(load_refine_cache(cache_path), FitConfig(**{**cfg.__dict__, "epochs": 3,
                                                           "resume": str(tmp_path / "run" / "last.pt")}),
               log=logs.append)
    assert [e["epoch"] for e in more["epochs"]] == [1, 2, 3]


def test_cli_refuses_the_benchmark_split_and_a_missing_cache(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "pfcn").mkdir()
    (tmp_path / "pfcn" / "test.txt").write_text("a\n")
    for spec, says in [("pfcn:test", "held out for measuring"), ("./pfcn:test", "held out for measuring"),
                       ("pfcn", "name the split to train on")]:
        assert main(["cache", "--out", str(tmp_path / "c"), "--source", spec, "--datasets", str(tmp_path)]) == 2
        assert says in capsys.readouterr().err
    assert main(["fit", "--cache", str(tmp_path / "none"), "--out", str(tmp_path / "run")]) == 2
    assert "refine cache not found" in capsys.readouterr().err


def test_hard_tiles_reach_the_fit_and_bad_shares_are_refused(cache_path: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    from portrait_mobile.refine.loss import RefineLossConfig

    cfg = FitConfig(cache=str(cache_path), out_dir=str(tmp_path / "run"), epochs=1, steps_per_epoch=2,
                    images_per_step=4, tiles_per_image=4, warmup_steps=1, mix={"seta/train": 1.0},
                    loss=RefineLossConfig(hard_fraction=0.5))
    history = fit(load_refine_cache(cache_path), cfg, log=lambda _: None)
    assert history["fit_config"]["loss"]["hard_fraction"] == 0.5 and len(history["epochs"]) == 1
    for bad in ("0", "1.5", "nan"):
        with pytest.raises(SystemExit) as e:
            main(["fit", "--cache", str(cache_path), "--out", str(tmp_path / "bad"), "--hard-tiles", bad])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert "--hard-tiles" in err and "(0, 1]" in err and not (tmp_path / "bad").exists()


def test_a_guided_refiner_reads_the_filtered_channel_made_once_by_the_runtime(cache_path: Path) -> None:
    from portrait_mobile.runtime.band import GUIDED, with_channel

    coarse = load_refine_cache(cache_path)
    guided = load_refine_cache(cache_path, GUIDED, progress=False)
    made = cache_path.with_suffix(f".{GUIDED}.u8")
    assert made.is_file() and guided.channel == GUIDED
    a, b = coarse.item(3), guided.item(3)
    np.testing.assert_array_equal(a[..., [0, 1, 2, 4]], b[..., [0, 1, 2, 4]])
    np.testing.assert_array_equal(b[..., 3], with_channel(np.ascontiguousarray(a[..., :3]),
                                                          np.ascontiguousarray(a[..., 3]), GUIDED))
    assert not np.array_equal(a[..., 3], b[..., 3])
    stamp = made.stat().st_mtime_ns
    load_refine_cache(cache_path, GUIDED, progress=False)
    assert made.stat().st_mtime_ns == stamp  # made once, then read


def test_fit_can_start_from_another_refiners_weights(cache_path: Path, tmp_path: Path) -> None:
    from portrait_mobile.errors import DatasetError
    from portrait_mobile.refine.model import build_refiner

    m = build_refiner("refine-t48")
    RefinerCheckpoint(m.config, m.state_dict()).save(tmp_path / "t48.pt")
    base = dict(cache=str(cache_path), epochs=1, steps_per_epoch=1, images_per_step=2, tiles_per_image=1,
                warmup_steps=1, mix={"seta/train": 0.5, "setb/train": 0.5})
    fit(load_refine_cache(cache_path), FitConfig(**base, out_dir=str(tmp_path / "a"), config="refine-t48",
                                                 init=str(tmp_path / "t48.pt")), log=lambda _: None)
    with pytest.raises(DatasetError, match=f"do not fit {DEFAULT_REFINER}: another layout"):
        fit(load_refine_cache(cache_path), FitConfig(**base, out_dir=str(tmp_path / "b"), init=str(tmp_path / "t48.pt")),
            log=lambda _: None)


def test_levels_on_the_carve_score_the_photos_the_cache_carves(cache_path: Path, tmp_path: Path) -> None:
    from portrait_mobile.data.folder import PortraitFolder
    from portrait_mobile.refine.evaluate import score_levels
    from portrait_mobile.refine.validate import carve_indices

    cache = load_refine_cache(cache_path)
    folder = PortraitFolder(tmp_path / "seta", "train")
    carve = carve_indices(folder, fraction=0.3)
    in_cache = sorted(str(cache.ids[i]) for i in range(len(cache))
                      if cache.is_val[i] and cache.sources[i] == "seta/train")
    assert carve and sorted(folder.ids[i] for i in carve) == in_cache
    assert carve_indices(folder, fraction=0.3, per_source=1) == carve[:1]

    def identity(tiles: np.ndarray) -> np.ndarray:
        return tiles[:, ::2, ::2, 3].astype(np.float32) / 255

    hard = score_levels(folder, blurry_coarse, identity, GRID, 4, progress=False, indices=carve, feather=0)
    soft = score_levels(folder, blurry_coarse, identity, GRID, 4, progress=False, indices=carve)
    assert hard.n_images == soft.n_images == len(carve)
    assert hard.metrics["fast"] == soft.metrics["fast"]


def test_resume_refuses_another_config_and_a_broken_training_state(cache_path: Path, tmp_path: Path) -> None:
    import torch

    from portrait_mobile.errors import CheckpointError

    base = dict(cache=str(cache_path), epochs=1, steps_per_epoch=1, images_per_step=2, tiles_per_image=1,
                warmup_steps=1, mix={"seta/train": 0.5, "setb/train": 0.5}, config="refine-t48")
    cache = load_refine_cache(cache_path)
    fit(cache, FitConfig(**base, out_dir=str(tmp_path / "a")), log=lambda _: None)
    last = tmp_path / "a" / "last.pt"
    with pytest.raises(CheckpointError, match=f"last.pt: a checkpoint of refiner refine-t48 .*not of {DEFAULT_REFINER}"):
        fit(cache, FitConfig(**{**base, "config": DEFAULT_REFINER}, out_dir=str(tmp_path / "b"), resume=str(last)),
            log=lambda _: None)
    payload = torch.load(last, weights_only=True)
    for name, change, problem in [("noopt", {"optimizer": None}, "'optimizer' is missing"),
                                  ("hist", {"history": 5}, "'history' is not a JSON mapping"),
                                  ("step", {"step": "3"}, "'step' is '3'"),
                                  ("opt", {"optimizer": {"state": {}}}, r"does not fit the refiner \(KeyError")]:
        ts = {k: v for k, v in {**payload["train_state"], **change}.items() if v is not None}
        torch.save({**payload, "train_state": ts}, tmp_path / f"{name}.pt")
        with pytest.raises(CheckpointError, match=f"{name}.pt: its training state.*{problem}"):
            fit(cache, FitConfig(**{**base, "epochs": 2}, out_dir=str(tmp_path / name), resume=str(tmp_path / f"{name}.pt")),
                log=lambda _: None)


def test_a_diverging_fit_stops_before_writing_checkpoints(cache_path: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    from portrait_mobile.errors import PortraitError

    base = dict(cache=str(cache_path), epochs=2, steps_per_epoch=2, images_per_step=2, tiles_per_image=1,
                warmup_steps=1, mix={"seta/train": 0.5, "setb/train": 0.5}, config="refine-t48")
    for lr in (float("inf"), 1e30):  # inf: a NaN loss at the 2nd step; 1e30: inf weights after the last step
        out = tmp_path / f"run{lr}"
        with pytest.raises(PortraitError, match="training diverged in epoch 1"):
            fit(load_refine_cache(cache_path), FitConfig(**base, lr=lr, out_dir=str(out)), log=lambda _: None)
        assert not (out / "best.pt").exists() and not (out / "last.pt").exists()
    for bad in ("inf", "nan"):
        with pytest.raises(SystemExit) as e:
            main(["fit", "--cache", str(cache_path), "--out", str(tmp_path / "cli"), "--lr", bad])
        assert e.value.code == 2 and "--lr" in capsys.readouterr().err


def test_ship_refuses_a_dest_that_is_not_a_pt_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from portrait_mobile.refine.model import build_refiner

    m = build_refiner("refine-t48")
    RefinerCheckpoint(m.config, m.state_dict(), {"val_score": 1.0}).save(tmp_path / "r.pt")
    for dest in ("w.json", "w", "w.pth"):
        with pytest.raises(SystemExit) as e:
            main(["ship", str(tmp_path / "r.pt"), "--dest", str(tmp_path / dest)])
        assert e.value.code == 2 and ".pt file" in capsys.readouterr().err
        assert not (tmp_path / dest).exists()
    assert main(["ship", str(tmp_path / "r.pt"), "--dest", str(tmp_path / "w.pt")]) == 0
    assert RefinerCheckpoint.load(tmp_path / "w.pt").metrics == {"val_score": 1.0}
    assert json.loads((tmp_path / "w.json").read_text())["refiner"] == "refine-t48"


def test_ship_never_replaces_a_packaged_file_nor_its_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    """The config's name chose the file in the package's weights folder: a refiner named
    'portrait-sd-256_int8.tflite' replaced the shipped model's sidecar, 'portrait-sd-256' its weights."""
    from dataclasses import replace

    import portrait_mobile.refine.checkpoint as rc
    from portrait_mobile.refine.model import build_refiner

    weights = tmp_path / "weights"  # the package's folder, for this test
    weights.mkdir()
    monkeypatch.setattr(rc, "DEFAULT_REFINER_WEIGHTS", weights / f"{DEFAULT_REFINER}.pt")
    packaged = {weights / n: n.encode() for n in ("portrait-sd-256.pt", "portrait-sd-256.json",
                                                   "portrait-sd-256_int8.tflite.json")}
    for p, data in packaged.items():
        p.write_bytes(data)
    m = build_refiner("refine-t48")
    for name, says in [("portrait-sd-256_int8.tflite", "is not a registered refiner"),
                       ("portrait-sd-256", "is not a registered refiner"),
                       (DEFAULT_REFINER, f"named '{DEFAULT_REFINER}' but is not the registered")]:
        RefinerCheckpoint(replace(m.config, name=name), m.state_dict()).save(tmp_path / "r.pt")
        assert main(["ship", str(tmp_path / "r.pt")]) == 2
        assert says in capsys.readouterr().err
    assert {p: p.read_bytes() for p in weights.iterdir()} == packaged
    RefinerCheckpoint(m.config, m.state_dict(), {"val_score": 1.0}).save(tmp_path / "r.pt")
    assert main(["ship", str(tmp_path / "r.pt")]) == 0  # a registered refiner: weights/<name>.pt and .json
    assert RefinerCheckpoint.load(weights / "refine-t48.pt").metrics == {"val_score": 1.0}
    before = (tmp_path / "r.pt").read_bytes()
    assert main(["ship", str(tmp_path / "r.pt"), "--dest", str(tmp_path / "." / "r.pt")]) == 2
    assert "would overwrite the input checkpoint" in capsys.readouterr().err
    assert (tmp_path / "r.pt").read_bytes() == before


def test_val_and_levels_refuse_a_json_onto_an_input_before_scoring(cache_path: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture) -> None:
    """val R.pt --json R.pt (or the cache) and levels --refiner R --json R replaced their input; a folder
    as --json failed only after all the scoring."""
    import portrait_mobile.refine.evaluate as evaluate
    import portrait_mobile.refine.validate as validate
    from portrait_mobile.refine.model import build_refiner

    monkeypatch.setattr(validate, "score", lambda *_a, **_k: pytest.fail("scored although --json is refused"))
    monkeypatch.setattr(evaluate, "score_levels", lambda *_a, **_k: pytest.fail("scored although --json is refused"))
    m = build_refiner("refine-t48")
    ref = tmp_path / "r.pt"
    RefinerCheckpoint(m.config, m.state_dict()).save(ref)
    cache_files = [cache_path, cache_path.with_suffix(".u8")]
    before = {p: p.read_bytes() for p in [ref, *cache_files]}
    for out, says in [(ref, "would overwrite the input checkpoint"), (cache_path, "would overwrite the input --cache"),
                      (cache_files[1], "would overwrite the input --cache"), (tmp_path, "is a folder")]:
        assert main(["val", str(ref), "--cache", str(cache_path), "--json", str(out)]) == 2
        assert says in capsys.readouterr().err
    levels = ["levels", "--datasets", str(tmp_path), "--data", "seta:train", "--refiner", str(ref), "--json"]
    for out, says in [(ref, "would overwrite the input --refiner"), (tmp_path / "seta" / "train.txt", "the input --data"),
                      (tmp_path, "is a folder")]:
        assert main([*levels, str(out)]) == 2
        assert says in capsys.readouterr().err
    assert {p: p.read_bytes() for p in before} == before
    with pytest.raises(SystemExit) as e:
        main([*levels, str(tmp_path / "l.json"), "--time-images", "-3"])
    assert e.value.code == 2 and "--time-images" in capsys.readouterr().err
