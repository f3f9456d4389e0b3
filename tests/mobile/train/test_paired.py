"""The paired comparison of two checkpoints' carve scores: the difference and its standard error."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from support.datasets import make_tiny_cache
from portrait_mobile.checkpoint import Checkpoint
from portrait_mobile.model import build_model
from portrait_mobile.train.cli import main as train_main
from portrait_mobile.train.paired import paired_comparison
from portrait_mobile.train.trainer import selection_score
from support.train_models import TINY


def test_the_difference_is_the_carve_scores_difference_and_its_error_the_paired_one() -> None:
    sources = np.array(["a"] * 4 + ["b"] * 2)
    base = np.array([90.0, 80.0, 70.0, 60.0, 50.0, 40.0])
    other = base + np.array([1.0, 3.0, 1.0, 3.0, -2.0, -4.0])
    cmp = paired_comparison(base, other, sources)
    # by source: a +2 (four images), b -3 (two); the score weighs sources, not images
    assert cmp.by_source["a"].mean == pytest.approx(2.0) and cmp.by_source["b"].mean == pytest.approx(-3.0)
    assert cmp.score.mean == pytest.approx(-0.5)

    def score(v: np.ndarray) -> float:
        return selection_score({f"val_fg_iou/{s}": float(v[sources == s].mean()) for s in ("a", "b")})

    assert cmp.score.mean == pytest.approx(score(other) - score(base))
    se_a = np.std([1, 3, 1, 3], ddof=1) / 2
    se_b = np.std([-2, -4], ddof=1) / np.sqrt(2)
    assert cmp.by_source["a"].se == pytest.approx(se_a)
    assert cmp.score.se == pytest.approx(np.hypot(se_a, se_b) / 2)
    assert str(cmp.score) == f"-0.50 +/- {1.96 * np.hypot(se_a, se_b) / 2:.2f}"


def test_a_shift_common_to_every_image_has_no_error() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(40, 99, 50)
    cmp = paired_comparison(base, base + 0.3, np.array(["x"] * 50))
    assert cmp.score.mean == pytest.approx(0.3) and cmp.score.se == pytest.approx(0.0, abs=1e-9)


def test_the_error_is_what_resampling_each_source_gives() -> None:
    rng = np.random.default_rng(1)
    sources = np.array(["s1"] * 40 + ["s2"] * 120 + ["s3"] * 25)
    base = rng.uniform(50, 98, len(sources))
    other = base + rng.normal(0.2, np.where(sources == "s3", 3.0, 0.5))
    cmp = paired_comparison(base, other, sources)
    idx = [np.where(sources == s)[0] for s in ("s1", "s2", "s3")]
    d = other - base
    boots = [np.mean([d[rng.choice(i, len(i))].mean() for i in idx]) for _ in range(3000)]
    assert cmp.score.se == pytest.approx(np.std(boots), rel=0.1)


def test_unpaired_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="paired"):
        paired_comparison(np.zeros(3), np.zeros(4), np.array(["a"] * 3))
    with pytest.raises(ValueError, match="no images"):
        paired_comparison(np.zeros(0), np.zeros(0), np.array([]))


def test_val_compares_each_checkpoint_with_the_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = make_tiny_cache(tmp_path / "data", n=20)
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        paths.append(tmp_path / f"m{seed}.pt")
        Checkpoint(TINY, build_model(TINY).state_dict()).save(paths[-1])
    paths.append(tmp_path / "m0-copy.pt")
    paths[-1].write_bytes(paths[0].read_bytes())
    out = tmp_path / "val.json"
    argv = ["val", *map(str, paths), "--cache", str(cache), "--json", str(out)]
    assert train_main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    vs = [line for line in lines if line.startswith(f"  vs {paths[0]}: score ")]
    assert len(vs) == 2 and vs[1].startswith(f"  vs {paths[0]}: score +0.00 +/- 0.00 (95%, paired over ")
    got = json.loads(out.read_text())
    assert "paired" not in got[str(paths[0])]
    paired = got[str(paths[1])]["paired"]
    assert paired["base"] == str(paths[0])
    assert paired["val_score"]["mean"] == pytest.approx(got[str(paths[1])]["val_score"] - got[str(paths[0])]["val_score"])


def test_val_refuses_a_checkpoint_given_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = make_tiny_cache(tmp_path / "data")
    ckpt = tmp_path / "m.pt"
    Checkpoint(TINY, build_model(TINY).state_dict()).save(ckpt)
    out = tmp_path / "val.json"
    assert train_main(["val", str(ckpt), str(ckpt), "--cache", str(cache), "--json", str(out)]) == 2
    assert f"given more than once: {ckpt}" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("onto", ["checkpoint", "cache", "folder"])
def test_val_never_writes_its_json_over_what_it_reads(onto: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`--json` onto a checkpoint replaced the weights with their scores."""
    cache = make_tiny_cache(tmp_path / "data")
    ckpt = tmp_path / "m.pt"
    Checkpoint(TINY, build_model(TINY).state_dict()).save(ckpt)
    out = {"checkpoint": ckpt, "cache": cache, "folder": tmp_path}[onto]
    before = {p: p.read_bytes() for p in (ckpt, cache)}
    assert train_main(["val", str(ckpt), "--cache", str(cache), "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--json {out}" in err and ("would overwrite the input" in err or "is a folder" in err), err
    assert {p: p.read_bytes() for p in (ckpt, cache)} == before
