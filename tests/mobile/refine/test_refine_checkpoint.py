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
