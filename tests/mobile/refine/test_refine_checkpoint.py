"""Refiner checkpoints: a round trip, and anything else refused in one line."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from portrait_mobile.errors import CheckpointError
from portrait_mobile.refine.checkpoint import RefinerCheckpoint
from portrait_mobile.refine.model import build_refiner


def test_round_trip(tmp_path: Path) -> None:
    m = build_refiner()
    ck = RefinerCheckpoint(m.config, m.state_dict(), {"val_score": 70.0}, {"epoch": 1})
    ck.save(tmp_path / "r.pt")
    back = RefinerCheckpoint.load(tmp_path / "r.pt")
    assert back.config == m.config and back.metrics == {"val_score": 70.0}
    x = torch.rand(1, 4, 40, 40)
    torch.testing.assert_close(back.build()(x), m.eval()(x))


def test_refuses_other_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        RefinerCheckpoint.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        RefinerCheckpoint.load(tmp_path / "junk.pt")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="refiner checkpoint"):
        RefinerCheckpoint.load(tmp_path / "other.pt")


@pytest.mark.parametrize("info, problem", [
    ({"sources": 7}, "'sources' must be a list of source names"),
    ({"sources": ["pfcn/train", 3]}, "'sources' must be a list of source names"),
    ({"cache": {"sources": 5}}, "'cache' is {'sources': 5}, not a refine cache's description"),
    ({"cache": 5}, "'cache' is 5"),
])
def test_training_sources_that_are_not_names_are_refused_as_it_loads(tmp_path: Path, info: dict,
                                                                      problem: str) -> None:
    m = build_refiner()
    RefinerCheckpoint(m.config, m.state_dict(), {}, info).save(tmp_path / "r.pt")
    with pytest.raises(CheckpointError, match=f"r.pt: its train_info {problem}"):
        RefinerCheckpoint.load(tmp_path / "r.pt")


def test_sources_fall_back_on_the_cache_description(tmp_path: Path) -> None:
    m = build_refiner()
    info = {"cache": {"sources": ["/data/pfcn:train", "/data/ccp:None"]}}
    RefinerCheckpoint(m.config, m.state_dict(), {}, info).save(tmp_path / "r.pt")
    assert RefinerCheckpoint.load(tmp_path / "r.pt").sources() == ["pfcn/train", "ccp"]


@pytest.mark.parametrize("field, value, problem", [
    ("widths", [1025, 32], "widths must be integers in 1..1024"),  # [200000, 200000] asked torch for 160 GB
    ("context_dilations", [1] * 17, "at most 16 context_dilations"),
    ("core", 4096, "core must be integers in 1..2048"),
    ("core", 40.0, "core must be integers"),
    ("work_long_side", 10**6, "work_long_side must be integers in 1..8192"),
    ("base_gain", float("nan"), "base_gain must be a number in"),  # shipped with exit 0: a refiner of NaN masks
    ("base_gain", float("inf"), "base_gain must be a number in"),
    ("base_gain", -4.0, "base_gain must be a number in"),
])
def test_a_tampered_config_is_named_before_torch_sees_it(tmp_path: Path, field: str, value: object,
                                                         problem: str) -> None:
    from portrait_mobile.checkpoint import REFINER_FORMAT

    m = build_refiner("refine-t48")
    torch.save({"format": REFINER_FORMAT, "config": {**m.config.to_dict(), field: value},
                "state_dict": m.state_dict()}, tmp_path / "r.pt")
    with pytest.raises(CheckpointError, match=rf"r.pt: bad refiner config: refine-t48: {problem}"):
        RefinerCheckpoint.load(tmp_path / "r.pt")
