"""portrait-train average: the weighted mean of checkpoints' weights, sources merged, bad input refused."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from portrait_mobile.checkpoint import Checkpoint
from portrait_mobile.config import ModelConfig
from portrait_mobile.model import build_model
from portrait_mobile.train.average import average_checkpoints, parse_weights
from portrait_mobile.train.cli import main as train_main
from support.train_models import TINY


def _ck(path: Path, seed: int, sources: list[str], config: ModelConfig = TINY) -> Path:
    torch.manual_seed(seed)
    model = build_model(config)
    for m in model.modules():  # batch-norm statistics differ too, as two runs' do
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.num_batches_tracked.fill_(seed)
    Checkpoint(config, model.state_dict(), {"val_score": 1.0}, {"sources": sources}).save(path)
    return path


def test_the_mean_is_weighted_and_sources_merge(tmp_path: Path) -> None:
    a, b = _ck(tmp_path / "a.pt", 1, ["pfcn/train"]), _ck(tmp_path / "b.pt", 2, ["ccp/train", "pfcn/train"])
    sa, sb = Checkpoint.load(a).state_dict, Checkpoint.load(b).state_dict
    soup = average_checkpoints([a, b], [0.25, 0.75])
    for k, v in soup.state_dict.items():
        if v.is_floating_point():
            assert torch.allclose(v, 0.25 * sa[k] + 0.75 * sb[k], atol=1e-6), k
        else:
            assert torch.equal(v, sb[k]), k  # counters: the last checkpoint's
    assert soup.train_info["sources"] == ["ccp/train", "pfcn/train"]
    assert [p["weight"] for p in soup.train_info["averaged_from"]] == [0.25, 0.75] and soup.metrics == {}
    # Weight 1 on one checkpoint gives it back exactly: its model computes the same.
    same = average_checkpoints([a, b], [1.0, 0.0])
    x = torch.rand(1, 3, 64, 64)
    assert torch.equal(same.build()(x), Checkpoint.load(a).build()(x))


def test_cli_writes_the_soup_with_its_carve_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from support.datasets import make_tiny_cache

    a, b = _ck(tmp_path / "a.pt", 1, ["x"]), _ck(tmp_path / "b.pt", 2, ["y"])
    out = tmp_path / "soup.pt"
    assert train_main(["average", str(a), str(b), "--weight", "0.3", "--out", str(out)]) == 0
    assert [p["weight"] for p in Checkpoint.load(out).train_info["averaged_from"]] == pytest.approx([0.3, 0.7])
    assert "0.3 x" in capsys.readouterr().out
    cache = make_tiny_cache(tmp_path / "data")
    assert train_main(["average", str(a), str(b), "--weight", "0.3", "--out", str(out), "--cache", str(cache)]) == 0
    metrics = Checkpoint.load(out).metrics
    assert 0 <= metrics["val_score"] <= 100 and metrics["val_images"] > 0
    assert f"carve score {metrics['val_score']:.2f}" in capsys.readouterr().out
    assert parse_weights([0.2, 0.3], 3) == pytest.approx([0.2, 0.3, 0.5])


@pytest.mark.parametrize("weights, message", [
    (["0.5", "0.6"], "sum to 1"),
    (["-0.5", "1.5"], ">= 0"),
    (["nan"], ">= 0"),
    (["0.2", "0.3", "0.5"], "2 checkpoints but 3 weights"),
])
def test_cli_refuses_bad_weights(weights: list[str], message: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _ck(tmp_path / "a.pt", 1, []), _ck(tmp_path / "b.pt", 2, [])
    out = tmp_path / "soup.pt"
    assert train_main(["average", str(a), str(b), "--weight", *weights, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and not out.exists()


def test_cli_refuses_other_architectures_and_one_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _ck(tmp_path / "a.pt", 1, [])
    wider = ModelConfig(**{**TINY.to_dict(), "name": "tiny-64-wide", "refine_width": 6})
    b = _ck(tmp_path / "b.pt", 2, [], wider)
    out = tmp_path / "soup.pt"
    assert train_main(["average", str(a), str(b), "--weight", "0.5", "--out", str(out)]) == 2
    assert "cannot be averaged into tiny-64-wide (other widths or layers)" in capsys.readouterr().err
    assert train_main(["average", str(a), "--weight", "1", "--out", str(out)]) == 2
    assert "at least two" in capsys.readouterr().err and not out.exists()


def test_a_smaller_member_is_grown_into_the_last_ones_architecture(tmp_path: Path) -> None:
    """s_ft4 (portrait-s-256) and a run grown from it (portrait-sd-256) average in the deeper model:
    the new blocks' last scale is the deeper run's times its weight, everything else the plain mean."""
    deeper = ModelConfig(**{**TINY.to_dict(), "name": "tiny-64-deep", "blocks_per_stage": (0, 1, 1, 2, 2)})
    a, b = _ck(tmp_path / "a.pt", 1, ["x"]), _ck(tmp_path / "b.pt", 2, ["y"], deeper)
    sa, sb = Checkpoint.load(a).state_dict, Checkpoint.load(b).state_dict
    soup = average_checkpoints([a, b], [0.4, 0.6])
    assert soup.config == deeper and soup.state_dict.keys() == sb.keys()
    new_scale = "encoder.stages.3.2.body.pw.bn.weight"
    assert torch.allclose(soup.state_dict[new_scale], 0.6 * sb[new_scale], atol=1e-6)
    # The stage's HDC block moved one down in the deeper model: it averages with a's from its old place.
    moved = "encoder.stages.3.3.body.0.dw.conv.weight"
    assert torch.allclose(soup.state_dict[moved], 0.4 * sa["encoder.stages.3.2.body.0.dw.conv.weight"]
                          + 0.6 * sb[moved], atol=1e-6)
    with pytest.raises(Exception, match="cannot be averaged into tiny-64 \\(fewer residual blocks"):
        average_checkpoints([b, a], [0.5, 0.5])


@pytest.mark.parametrize("tamper", ["scalar", "shape", "sources"])
def test_a_tampered_member_is_refused_not_broadcast(tmp_path: Path, tamper: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A one-element tensor in place of a conv weight was broadcast into the soup, exit 0; another shape
    died with a traceback; integer sources did too."""
    a, b = _ck(tmp_path / "a.pt", 1, ["pfcn/train"]), _ck(tmp_path / "b.pt", 2, ["pfcn/train"])
    ck = Checkpoint.load(a)
    key = next(k for k, v in ck.state_dict.items() if v.ndim == 4)
    if tamper == "sources":
        ck.train_info = {"sources": [1, "a"]}
    else:
        ck.state_dict[key] = torch.ones(1) if tamper == "scalar" else torch.ones(3, 3)
    ck.save(a)
    out = tmp_path / "soup.pt"
    assert train_main(["average", str(a), str(b), "--weight", "0.5", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "a.pt" in err and err.count("\n") == 1 and not out.exists(), err
    assert (key in err) if tamper != "sources" else ("'sources' must be a list" in err)


@pytest.mark.parametrize("onto", ["first", "second", "cache", "folder"])
def test_cli_never_writes_over_what_it_reads(onto: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--out` onto a member replaced it with the soup without a word."""
    from support.datasets import make_tiny_cache

    a, b = _ck(tmp_path / "a.pt", 0, ["x"]), _ck(tmp_path / "b.pt", 1, ["x"])
    cache = make_tiny_cache(tmp_path / "data")
    out = {"first": a, "second": b, "cache": cache, "folder": tmp_path}[onto]
    before = {p: p.read_bytes() for p in (a, b, cache)}
    assert train_main(["average", str(a), str(b), "--weight", "0.5", "--out", str(out), "--cache", str(cache)]) == 2
    err = capsys.readouterr().err
    assert f"--out {out}" in err and ("would overwrite the input" in err or "is a folder" in err), err
    assert {p: p.read_bytes() for p in (a, b, cache)} == before
