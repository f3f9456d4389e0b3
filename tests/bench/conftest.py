"""Tiny models converted from PyTorch once per session (litert-torch, a few seconds), for every bench test.

Nothing under tests/bench asserts a timing: speed is a benchmark, not a test.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _convert(module, path: Path, size: int = 32) -> Path:
    import litert_torch
    import torch

    m = module.eval()
    em = litert_torch.convert(litert_torch.to_channel_last_io(m, args=[0], outputs=[0]), (torch.rand(1, size, size, 3),))
    em.export(str(path))
    assert path.is_file()
    return path


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """good: ops every delegate takes (incl. a dilated depthwise conv, concat, bilinear resize);
    bad: the same kind of model with torch.cumsum, which becomes CUMSUM: no NNAPI or GPU delegate support."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("litert_torch")
    nn = torch.nn
    F = torch.nn.functional

    class Good(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
            self.dw = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8)
            self.head = nn.Conv2d(16, 1, 1)

        def forward(self, x):
            a = torch.relu(self.stem(x))
            b = torch.relu(self.dw(a))
            c = F.interpolate(torch.cat([a, b], 1), scale_factor=2, mode="bilinear", align_corners=False)
            return torch.sigmoid(self.head(c))

    class Bad(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            return torch.sigmoid(torch.cumsum(torch.relu(self.stem(x)), dim=1))

    d = tmp_path_factory.mktemp("bench_models")
    torch.manual_seed(0)
    good = _convert(Good(), d / "tiny_fp32.tflite")
    bad = _convert(Bad(), d / "cumsum_fp32.tflite")
    # an int8 sibling of the good model, as portrait-export writes them (fp32 -> ai-edge-quantizer)
    int8 = d / "tiny_int8.tflite"
    try:
        from ai_edge_quantizer import quantizer, recipe

        q = quantizer.Quantizer(str(good), recipe.static_wi8_ai8())
        rng = np.random.default_rng(0)
        cal = q.calibrate({"serving_default": [{"args_0": rng.random((1, 32, 32, 3), dtype=np.float32)} for _ in range(4)]})
        q.quantize(cal).export_model(str(int8), overwrite=True)
    except Exception:  # noqa: BLE001 - quantizer optional here: tests needing it skip
        int8 = None
    return {"good": good, "bad": bad, "int8": int8}
