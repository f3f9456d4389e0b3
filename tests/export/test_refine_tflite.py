"""The refiner's int8 TFLite (phase 1 of issue 25): written with its description, loaded by the
runtime's TileModel, and close to the PyTorch refiner on the same tiles."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from portrait_mobile.errors import ModelLoadError

pytest.importorskip("litert_torch")
pytest.importorskip("ai_edge_quantizer")


def _tiles(n: int, t: int, seed: int = 0) -> np.ndarray:
    """Tiles with an edge: a bright disc whose coarse probability is a blurred, shifted copy."""
    import cv2

    rng = np.random.default_rng(seed)
    out = np.empty((n, t, t, 4), np.uint8)
    yy, xx = np.mgrid[:t, :t]
    for i in range(n):
        cy, cx, r = rng.uniform(0, t, 2).tolist() + [rng.uniform(t / 4, t)]
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r).astype(np.float32)
        out[i, ..., :3] = (40 + 180 * disc[..., None] + rng.integers(0, 20, (t, t, 3))).astype(np.uint8)
        coarse = cv2.GaussianBlur(np.roll(disc, 2, axis=1), (0, 0), 2)
        out[i, ..., 3] = np.clip(coarse * 255, 0, 255).astype(np.uint8)
    return out


def test_int8_refiner_round_trip(tmp_path: Path) -> None:
    import torch

    from portrait_export.refine_tflite import export_refiner_tflite
    from portrait_mobile.refine.checkpoint import RefinerCheckpoint
    from portrait_mobile.refine.model import build_refiner
    from portrait_mobile.runtime.refiner import TileModel, refiner_sidecar

    torch.manual_seed(0)
    m = build_refiner()
    with torch.no_grad():
        m.head.weight.normal_(0, 0.3)  # a refiner that corrects something
    ck = RefinerCheckpoint(m.config, m.state_dict(), {"val_score": 1.0})
    t = m.config.tile
    out = export_refiner_tflite(ck, tmp_path / "r_int8.tflite", _tiles(32, t), batch=2)
    info = json.loads(refiner_sidecar(out).read_text())
    assert info["grid"] == {"core": 40, "margin": 0, "out_stride": 2, "work_long_side": 512}
    tm = TileModel.from_file(out)
    assert tm.batch == 2 and tm.grid.tile == t
    x = _tiles(2, t, seed=1)
    got = tm(x)
    with torch.no_grad():
        want = m.eval()(torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255)[:, 0].numpy()
    assert got.shape == want.shape == (2, 20, 20)
    assert np.abs(got - want).mean() < 0.02 and ((got >= 0.5) == (want >= 0.5)).mean() > 0.97
    # The description must be there and match the file.
    refiner_sidecar(out).unlink()
    with pytest.raises(ModelLoadError, match="refiner description"):
        TileModel.from_file(out)


def test_parity_gate_refuses_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from portrait_export import refine_tflite
    from portrait_mobile.errors import ExportError
    from portrait_mobile.refine.checkpoint import RefinerCheckpoint
    from portrait_mobile.refine.model import build_refiner

    m = build_refiner()
    ck = RefinerCheckpoint(m.config, m.state_dict())
    tiles = _tiles(8, m.config.tile)
    monkeypatch.setattr(refine_tflite, "MIN_MASK_AGREEMENT", 1.01)  # no file can pass
    with pytest.raises(ExportError, match="parity gate failed.*nothing written"):
        refine_tflite.export_refiner_tflite(ck, tmp_path / "r.tflite", tiles, parity_tiles=tiles)
    assert list(tmp_path.iterdir()) == []
