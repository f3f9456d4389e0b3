"""portrait-export of an edge refiner (issue 25): the refiner's checkpoint through the same targets,
each artifact with an edge-refiner contract and gated on contour tiles against the PyTorch refiner."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from portrait_export import api, cli
from portrait_export.context import Thresholds
from portrait_mobile.contract import ModelContract
from portrait_mobile.contract_io import read_contract, sidecar_path
from portrait_mobile.paths import WEIGHTS_DIR
from portrait_mobile.refine.config import DEFAULT_REFINER as R
from portrait_mobile.refine.config import get_refiner_config

# The shipped refiner writes its 40x40 tile at this side (sub-pixel: 40).
OUT = get_refiner_config(R).out_tile

for _m in ("torch", "onnx", "onnxruntime", "litert_torch", "ai_edge_quantizer"):
    pytest.importorskip(_m)

LENIENT = Thresholds(mask_iou=0.5, fg_iou_drop=50.0)


@pytest.fixture(scope="module")
def refiner(tmp_path_factory) -> dict:
    import torch

    from portrait_mobile.checkpoint import Checkpoint
    from portrait_mobile.config import ModelConfig
    from portrait_mobile.model import build_model
    from portrait_mobile.refine.checkpoint import RefinerCheckpoint
    from portrait_mobile.refine.model import build_refiner
    from support.datasets import make_portrait_folder

    root = tmp_path_factory.mktemp("refiner")
    torch.manual_seed(0)
    m = build_refiner()
    with torch.no_grad():
        m.head.weight.normal_(0, 0.3)  # a refiner that corrects something (an untrained one copies the coarse mask)
    RefinerCheckpoint(m.config, m.state_dict(), {"val_score": 1.0}, {"sources": ["pfcn/train"]}).save(root / "r.pt")
    seg = ModelConfig(name="tiny-64", widths=(4, 8, 8, 16, 16), decoder_widths=(16, 8, 8), refine_width=4,
                      input_size=(64, 64))
    Checkpoint(seg, build_model(seg).state_dict()).save(root / "seg.pt")
    data = make_portrait_folder(root / "data", n=10, size=(160, 120))
    return {"root": root, "ckpt": root / "r.pt", "seg": root / "seg.pt", "data": data, "model": m.eval()}


@pytest.fixture(scope="module")
def exported(refiner) -> dict:
    out = refiner["root"] / "out"
    # A refiner's checkpoint is known by its kind: no flag needed with --weights.
    results = api.export(["onnx", "tflite"], weights=refiner["ckpt"], out_dir=out, precision=["int8", "fp32"],
                         calib=refiner["data"], val=refiner["data"], n_calib=6, n_val=4, thresholds=LENIENT)
    return {"out": out, "results": {(r.target, r.precision): r for r in results}}


def test_each_artifact_has_an_edge_refiner_contract_and_passed_on_tiles(exported) -> None:
    res = exported["results"]
    assert set(res) == {("onnx", "fp32"), ("tflite", "int8"), ("tflite", "fp32")}
    assert sorted(p.name for p in exported["out"].iterdir()) == [
        "MODEL_CARD.md", f"{R}.onnx", f"{R}.onnx.json", f"{R}_fp32.tflite", f"{R}_fp32.tflite.json",
        f"{R}_int8.tflite", f"{R}_int8.tflite.json"]
    for r in res.values():
        c = read_contract(r.path)
        assert c == r.contract == ModelContract.from_dict(json.loads(sidecar_path(r.path).read_text()))
        assert (c.role, c.extra_channels, c.resize, c.input_name) == ("edge-refiner", ("guided_probability",),
                                                                      "contour-tiles", "tiles")
        assert (c.tiles.core, c.input_height, c.output_height) == (40, 40, OUT)
        p = r.parity
        assert p["passed"] and p["n_tiles"] > 0 and {"tile_mean_abs_diff", "tile_mask_agreement"} <= set(p["gates"])
    assert res["tflite", "int8"].contract.input_dtype == "int8" and res["tflite", "int8"].contract.input_quant.zero_point == -128
    assert res["onnx", "fp32"].parity["max_abs_diff"] < 1e-4


def test_the_runtime_runs_each_artifact_like_pytorch(exported, refiner) -> None:
    import torch

    from portrait_mobile.runtime.refiner import TileModel

    rng = np.random.default_rng(1)
    tiles = rng.integers(0, 256, (3, 40, 40, 4), dtype=np.uint8)
    with torch.no_grad():
        want = refiner["model"](torch.from_numpy(tiles).permute(0, 3, 1, 2).float() / 255)[:, 0].numpy()
    for (target, prec), r in exported["results"].items():
        got = TileModel.from_file(r.path)(tiles)
        assert got.shape == want.shape == (3, OUT, OUT)
        tol = 0.05 if prec == "int8" else 1e-4
        assert np.abs(got - want).mean() < tol, (target, prec)


def test_core_ml_spec_is_validated(refiner, tmp_path) -> None:
    pytest.importorskip("coremltools")
    (r,) = api.export("coreml", weights=refiner["ckpt"], out_dir=tmp_path, calib=refiner["data"],
                      val=refiner["data"], n_calib=6, n_val=4, thresholds=LENIENT)
    assert r.passed and r.path.name == f"{R}.mlpackage" and read_contract(r.path).role == "edge-refiner"
    spec = r.parity["spec_checks"]
    assert spec["inputs"] == [{"name": "tiles", "type": "multiArrayType", "shape": [1, 4, 40, 40], "dtype": "FLOAT32"}]
    assert spec["outputs"][0]["shape"] == [1, 1, OUT, OUT]


def test_a_refused_refiner_writes_nothing(refiner, tmp_path) -> None:
    results = api.export("onnx", weights=refiner["ckpt"], out_dir=tmp_path, calib=refiner["data"],
                         val=refiner["data"], n_calib=6, n_val=4, raise_on_failure=False,
                         thresholds=Thresholds(mask_iou=0.5, fg_iou_drop=50.0, tile_agreement=1.01))
    assert not results[0].passed and "tiles' mask agreement" in results[0].error
    assert list(tmp_path.iterdir()) == []


def test_cli_refiner_flag_refuses_a_segmenter_and_imgsz(refiner, capsys) -> None:
    base = ["--target", "onnx", "--calib", str(refiner["data"]), "--out", str(refiner["root"] / "cli")]
    assert cli.main(["--refiner", "--weights", str(refiner["seg"]), *base]) == 2
    assert "--refiner exports an edge refiner" in capsys.readouterr().err
    assert cli.main(["--weights", str(refiner["ckpt"]), "--imgsz", "64", *base]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "an edge refiner's input is its tile (40x40" in err[0]


def test_the_packaged_refiner_is_the_export_of_the_shipped_weights() -> None:
    from portrait_export.context import model_version
    from portrait_mobile.refine.checkpoint import DEFAULT_REFINER_WEIGHTS, RefinerCheckpoint
    from portrait_mobile.runtime.refiner import packaged_refiner

    c = read_contract(packaged_refiner(WEIGHTS_DIR))
    assert c.version == model_version(RefinerCheckpoint.load(DEFAULT_REFINER_WEIGHTS))
    assert (c.role, c.target, c.precision) == ("edge-refiner", "tflite", "int8")


def test_every_format_that_exports_a_segmenter_exports_a_refiner() -> None:
    from portrait_mobile.formats import EDGE_REFINER, EXPORT_FORMATS, resolve

    assert all(callable(resolve(f.converter_for(EDGE_REFINER))) for f in EXPORT_FORMATS.values())


def test_tile_calibration_merges_each_tiles_range(refiner) -> None:
    """calibrate_int8(union=True): every tensor's range covers each tile's own, where the quantizer's
    moving average of per-input ranges (right for photos) is narrower than the extreme tile's."""
    from portrait_export.tflite_convert import convert_fp32
    from portrait_export.tflite_quantize import calibrate_int8

    fp32 = convert_fp32(refiner["model"], (40, 40), channels=4)
    rng = np.random.default_rng(0)
    tiles = [rng.random((1, 40, 40, 4), dtype=np.float32) * s for s in (0.1, 1.0, 0.3)]
    merged = calibrate_int8(fp32, tiles, progress=False, union=True)
    averaged = calibrate_int8(fp32, tiles, progress=False)
    wider = 0
    for t in tiles:
        alone = calibrate_int8(fp32, [t], progress=False)
        for k, v in alone.items():
            assert np.all(merged[k]["min"] <= v["min"] + 1e-6) and np.all(merged[k]["max"] >= v["max"] - 1e-6), k
    for k in merged:
        wider += int(np.any(merged[k]["max"] > averaged[k]["max"] + 1e-6))
    assert wider > 0


def test_a_half_resolution_refiner_exports_at_half_the_working_resolution(refiner, tmp_path) -> None:
    """refine-t40g (output stride 2, the refiners before the sub-pixel one): every target writes 20x20
    tiles, the contract says stride 2, and the runtime reads them like PyTorch."""
    import torch

    from portrait_mobile.refine.checkpoint import RefinerCheckpoint
    from portrait_mobile.refine.model import build_refiner
    from portrait_mobile.runtime.refiner import TileModel

    torch.manual_seed(1)
    m = build_refiner("refine-t40g")
    with torch.no_grad():
        m.head.weight.normal_(0, 0.3)
    RefinerCheckpoint(m.config, m.state_dict(), {"val_score": 1.0}, {"sources": ["pfcn/train"]}).save(tmp_path / "s.pt")
    targets = ["onnx", "tflite"] + (["coreml"] if _has("coremltools") else [])
    results = api.export(targets, weights=tmp_path / "s.pt", out_dir=tmp_path / "out", precision=["int8", "fp32"],
                         calib=refiner["data"], val=refiner["data"], n_calib=6, n_val=4, thresholds=LENIENT)
    tiles = np.random.default_rng(2).integers(0, 256, (2, 40, 40, 4), dtype=np.uint8)
    with torch.no_grad():
        want = m.eval()(torch.from_numpy(tiles).permute(0, 3, 1, 2).float() / 255)[:, 0].numpy()
    for r in results:
        assert r.passed, (r.target, r.precision, r.error)
        c = read_contract(r.path)
        assert (c.tiles.out_stride, c.output_height, c.output_width) == (2, 20, 20)
        if r.target != "coreml":
            got = TileModel.from_file(r.path)(tiles)
            assert got.shape == (2, 20, 20)
            assert np.abs(got - want).mean() < (0.05 if r.precision == "int8" else 1e-4), (r.target, r.precision)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
