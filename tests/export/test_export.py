"""portrait-export: every target on a tiny random-weight model, the parity gate, CLI errors.

The tiny model (widths 4-8-8-16-16, 64x64) exports in seconds; one module-scoped export makes every
artifact once and the tests inspect it. The default-model test needs the shipped weights and skips
without them. The tests that export need the export extra (torch, the converters) and skip without it
(`needs_export`, or the `tiny` fixture); the others (planning, the formats registry) run anywhere.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from portrait_export import api, cli
from portrait_export.context import Thresholds
from portrait_mobile.artifact_digest import DIGEST_KEY, artifact_sha256
from portrait_mobile.config import DEFAULT_CONFIG, ModelConfig
from portrait_mobile.contract import CONTRACT_KEY, ModelContract
from portrait_mobile.contract_io import read_contract, sidecar_path, tflite_metadata
from portrait_mobile.model_card import CARD_NAME, WEIGHTS_LICENSE, packaged_card
from portrait_mobile.paths import DEFAULT_WEIGHTS, WEIGHTS_DIR
from support.tflite_graphs import repacked_plain, run_tflite

EXPORT_EXTRA = ("torch", "onnx", "onnxruntime", "litert_torch", "ai_edge_quantizer")


def _missing(modules: tuple[str, ...]) -> list[str]:
    out = []
    for m in modules:
        try:
            if importlib.util.find_spec(m) is None:
                out.append(m)
        except (ImportError, ValueError):  # a module blocked in sys.modules
            out.append(m)
    return out


needs_export = pytest.mark.skipif(bool(_missing(EXPORT_EXTRA)),
                                  reason=f"needs the export extra (missing {', '.join(_missing(EXPORT_EXTRA))})")

TINY = ModelConfig(name="tiny-64", widths=(4, 8, 8, 16, 16), decoder_widths=(16, 8, 8), refine_width=4,
                   input_size=(64, 64))
# A random-weight model's masks are arbitrary; the gates are exercised on purpose in the gate tests
# and with their defaults on the trained default model.
LENIENT = Thresholds(mask_iou=0.5, fg_iou_drop=50.0)


def make_folder(root: Path, n: int, seed: int = 0, size: tuple[int, int] = (96, 80)) -> Path:
    """images/ + masks/: noisy backgrounds with a bright ellipse 'person' (the mask)."""
    rng = np.random.default_rng(seed)
    h, w = size
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        mask = np.zeros((h, w), np.uint8)
        cv2.ellipse(mask, (w // 2 + int(rng.integers(-8, 9)), h // 2 + int(rng.integers(-8, 9))),
                    (w // 4, h // 3), 0, 0, 360, 255, -1)
        img = rng.integers(0, 90, (h, w, 3), dtype=np.uint8)
        img[mask > 0] = np.clip(img[mask > 0].astype(int) + [150, 110, 90], 0, 255).astype(np.uint8)
        img[0, 0] = 0  # every image spans the full pixel range
        img[-1, -1] = 255
        cv2.imwrite(str(root / "images" / f"{i:03d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(root / "masks" / f"{i:03d}.png"), mask)
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    for m in EXPORT_EXTRA:
        pytest.importorskip(m)
    import torch

    from portrait_mobile.checkpoint import Checkpoint
    from portrait_mobile.model import build_model

    root = tmp_path_factory.mktemp("export")
    torch.manual_seed(0)
    ckpt = root / "tiny.pt"
    # Trained (as far as its record says) on the card's data: its artifacts carry the card's terms.
    Checkpoint(TINY, build_model(TINY).state_dict(), metrics={"fg_iou": 12.5},
               train_info={"sources": ["pfcn/train"]}).save(ckpt)
    data = make_folder(root / "data", 10)
    return {"root": root, "ckpt": ckpt, "data": data}


@pytest.fixture(scope="module")
def exported(tiny) -> dict:
    out = tiny["root"] / "out"
    results = api.export("all", weights=tiny["ckpt"], out_dir=out, precision=["fp32", "fp16", "int8"],
                         calib=tiny["data"], val=tiny["data"], n_calib=6, n_val=4, thresholds=LENIENT)
    return {"out": out, "results": {(r.target, r.precision): r for r in results}}


def cli_run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = cli.main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


# --- every target -------------------------------------------------------------------------------------

def test_all_targets_written_with_sidecars(exported):
    res = exported["results"]
    assert set(res) == {("onnx", "fp32"), ("tflite", "fp32"), ("tflite", "fp16"), ("tflite", "int8"),
                        ("coreml", "fp32"), ("coreml", "fp16"), ("coreml", "int8")}
    names = sorted(p.name for p in exported["out"].iterdir())
    assert not [n for n in names if n.startswith(".")], f"temp files left behind: {names}"
    for r in res.values():
        assert r.passed and r.path.exists() and r.size_bytes > 0 and r.seconds > 0
        assert r.json_path == sidecar_path(r.path) and r.json_path.is_file()
        doc = json.loads(r.json_path.read_text())
        # the sidecar is the contract itself (+ parity, export): the demo apps parse it as one
        c = ModelContract.from_dict(doc)
        assert c == r.contract == read_contract(r.path)
        assert (c.target, c.precision, c.model_name) == (r.target, r.precision, "tiny-64")
        assert c.metrics == {"fg_iou": 12.5} and c.version.startswith("0.1.0+")
        assert doc["parity"]["passed"] is True and doc["export"]["size_bytes"] == r.size_bytes
        assert doc["export"][DIGEST_KEY] == artifact_sha256(r.path)  # what the runtime checks before loading
    assert res["tflite", "int8"].path.name == "tiny-64_int8.tflite"
    assert res["coreml", "fp16"].path.name == "tiny-64.mlpackage"
    assert res["onnx", "fp32"].path.name == "tiny-64.onnx"
    # the card every contract names travels with the artifacts
    assert all((r.contract.license, r.contract.model_card) == (WEIGHTS_LICENSE, CARD_NAME) for r in res.values())
    assert (exported["out"] / CARD_NAME).read_bytes() == packaged_card().read_bytes()


def test_own_data_checkpoint_names_its_sources_not_our_card(tiny, tmp_path):
    import onnx

    from portrait_mobile.checkpoint import Checkpoint
    from portrait_mobile.model import build_model

    ckpt = tmp_path / "mine.pt"
    Checkpoint(TINY, build_model(TINY).state_dict(), train_info={"sources": ["studio/train", "pfcn/train"]}).save(ckpt)
    (r,) = api.export("onnx", weights=ckpt, out_dir=tmp_path / "out", calib=tiny["data"], val=tiny["data"], n_val=2)
    c = read_contract(r.path)
    assert "trained on pfcn/train, studio/train" in c.license and "research" not in c.license
    assert (c.model_card, c.model_card_version) == ("", "")
    props = {p.key: p.value for p in onnx.load(str(r.path)).metadata_props}
    assert props["license"] == c.license
    assert not (tmp_path / "out" / CARD_NAME).exists()  # our card does not describe these weights


def test_onnx_single_file_static_shape_and_parity(exported):
    import onnx
    import onnxruntime as ort

    r = exported["results"]["onnx", "fp32"]
    model = onnx.load(str(r.path))
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    props = {p.key: p.value for p in model.metadata_props}
    assert props["opset"] == "17" and model.opset_import[0].version == 17
    assert ModelContract.from_json(props[CONTRACT_KEY]) == r.contract
    sess = ort.InferenceSession(str(r.path), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].shape == [1, 3, 64, 64] and sess.get_outputs()[0].shape == [1, 1, 64, 64]
    p = r.parity
    assert p["max_abs_diff"] < 1e-4 and p["mask_iou_mean"] == 1.0 and p["n_images"] == 4
    assert p["fg_iou_drop"] == pytest.approx(0.0, abs=1e-9)
    assert r.contract.input_layout == "NCHW" and r.contract.input_dtype == "float32"


def test_tflite_int8_is_integer_with_uint8_io(exported):
    from ai_edge_litert.interpreter import Interpreter

    r = exported["results"]["tflite", "int8"]
    it = Interpreter(model_path=str(r.path))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    assert inp["dtype"] == np.uint8 and inp["shape"].tolist() == [1, 64, 64, 3]  # NHWC pixels
    assert out["dtype"] == np.uint8 and out["shape"].tolist() == [1, 64, 64, 1]
    assert inp["quantization"] == pytest.approx((1 / 255, 0))
    assert out["quantization"] == pytest.approx((1 / 255, 0))
    c = r.contract
    assert (c.input_quant.scale, c.input_quant.zero_point, c.input_layout) == (pytest.approx(1 / 255), 0, "NHWC")
    spec = r.parity["spec_checks"]
    assert spec["weights_dtype"] == {"int8": spec["weight_tensors"]}
    assert set(spec["activations_dtype"]) <= {"int8", "uint8"} and spec["activations_dtype"]["int8"] > 10
    assert set(spec["biases_dtype"]) == {"int32"}
    # --int8-granularity auto (the default): some convs use one weight scale instead of one per channel
    assert spec["per_channel_weight_tensors"] < spec["weight_tensors"]
    assert json.loads(r.json_path.read_text())["export"]["int8_granularity"] == "auto"
    # trimmed: no PyTorch scope names, no quantization min/max left
    names = [d["name"] for d in it.get_tensor_details()]
    assert max(len(n) for n in names) <= 6 and "image" in names and "mask" in names
    raw = r.path.read_bytes()
    assert b"portrait_mobile.model" not in raw and b"torch.nn" not in raw
    assert ModelContract.from_json(tflite_metadata(raw)[CONTRACT_KEY].decode()) == c
    # one pixel batch through the runtime path: what the contract says is what the model takes
    it.set_tensor(inp["index"], np.full((1, 64, 64, 3), 128, np.uint8))
    it.invoke()
    assert it.get_tensor(out["index"]).dtype == np.uint8
    # Equal vectors (the per-channel zero points) stored once: a plain packing of the same model is
    # larger and computes the same bytes.
    plain = repacked_plain(raw)
    assert len(raw) < 0.95 * len(plain)
    pixels = np.random.default_rng(0).integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)
    np.testing.assert_array_equal(run_tflite(raw, pixels), run_tflite(plain, pixels))


def test_tflite_float_precisions(exported):
    r32, r16 = exported["results"]["tflite", "fp32"], exported["results"]["tflite", "fp16"]
    assert r32.parity["max_abs_diff"] < 1e-4 and r16.parity["max_abs_diff"] < 1e-2
    assert r32.contract.input_dtype == "float32" and r32.contract.input_quant is None
    assert "float16" in r16.parity["spec_checks"]["weights_dtype"]
    assert set(r32.parity["spec_checks"]["weights_dtype"]) == {"float32"}
    assert r16.size_bytes < r32.size_bytes


def test_coreml_spec_validated(exported):
    r = exported["results"]["coreml", "fp16"]
    assert (r.path / "Manifest.json").is_file()
    spec = r.parity["spec_checks"]
    assert spec["inputs"] == [{"name": "image", "type": "imageType", "width": 64, "height": 64, "color": "RGB"}]
    assert spec["outputs"] == [{"name": "mask", "type": "multiArrayType", "shape": [1, 1, 64, 64],
                                "dtype": "FLOAT32"}]
    assert spec["spec_version"] >= 7 and spec["ops"]["conv"] > 10
    meta = spec["metadata"]
    assert meta["author"] and meta["license"] == WEIGHTS_LICENSE and meta["version"] == r.contract.version
    assert CONTRACT_KEY in meta["user_defined_keys"]
    assert "constexpr_affine_dequantize" in exported["results"]["coreml", "int8"].parity["spec_checks"]["ops"] \
        or "constexpr_blockwise_shift_scale" in exported["results"]["coreml", "int8"].parity["spec_checks"]["ops"]
    if sys.platform != "darwin":
        assert "macOS only" in r.parity["numeric"] and "mask_iou_mean" not in r.parity
        pytest.skip("Core ML numeric parity runs on macOS only; the saved spec was validated instead")
    assert r.parity["mask_iou_mean"] >= LENIENT.mask_iou


def test_onnx_dynamic_batch(tiny, tmp_path):
    import onnxruntime as ort

    (r,) = api.export("onnx", weights=tiny["ckpt"], out_dir=tmp_path, dynamic_batch=True, calib=tiny["data"],
                      val=tiny["data"], n_val=2)
    sess = ort.InferenceSession(str(r.path), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].shape[0] == "batch"
    y = sess.run(None, {"image": np.random.rand(3, 3, 64, 64).astype(np.float32)})[0]
    assert y.shape == (3, 1, 64, 64)


# --- the parity gate ------------------------------------------------------------------------------------

def export_divergent(inner):
    """`inner`, right in eager PyTorch but wrong once traced for export: the failure a parity gate exists for."""
    import torch

    class ExportDivergentNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = inner
            self.config = inner.config

        def forward(self, x):
            y = self.inner(x)
            if torch.jit.is_tracing() or torch.compiler.is_exporting():
                return 1.0 - y
            return y

    return ExportDivergentNet()


def test_gate_refuses_broken_model(tiny, tmp_path, capsys, monkeypatch):
    real = api.prepare_model
    monkeypatch.setattr(api, "prepare_model", lambda ckpt, imgsz: export_divergent(real(ckpt, imgsz)))
    out = tmp_path / "out"
    rc, stdout, err = cli_run(capsys, "--target", "onnx", "--weights", str(tiny["ckpt"]), "--out", str(out),
                              "--calib", str(tiny["data"]), "--val", str(tiny["data"]), "--val-n", "3")
    assert rc == 1
    assert list(out.iterdir()) == []  # nothing written, no temp file left
    line = err.strip().splitlines()[-1]
    assert line.startswith("portrait-export: error: onnx fp32 refused by the parity gate")
    assert "max abs diff" in line and "mask IoU" in line
    assert "REFUSED" in stdout and "Traceback" not in err


def test_gate_keeps_previous_artifact_when_refused(tiny, tmp_path):
    out = tmp_path / "out"
    (first,) = api.export("tflite", weights=tiny["ckpt"], out_dir=out, calib=tiny["data"], val=tiny["data"],
                          n_calib=4, n_val=3, thresholds=LENIENT)
    before = first.path.read_bytes(), first.json_path.read_bytes()
    with pytest.raises(Exception) as ei:
        api.export("tflite", weights=tiny["ckpt"], out_dir=out, calib=tiny["data"], val=tiny["data"],
                   n_calib=4, n_val=3, thresholds=LENIENT.replace(mask_iou=1.01))
    assert "tflite int8 refused by the parity gate" in str(ei.value) and "mask IoU" in str(ei.value)
    (res,) = ei.value.results
    assert not res.passed and res.parity["mask_iou_mean"] <= 1.0
    assert (first.path.read_bytes(), first.json_path.read_bytes()) == before
    artifacts = sorted(p.name for p in out.iterdir() if not p.name.startswith("MODEL_CARD"))
    assert artifacts == ["tiny-64_int8.tflite", "tiny-64_int8.tflite.json"]


def test_parity_compare_catches_layout_and_value_errors(tiny):
    import torch

    from portrait_mobile.model import build_model
    from portrait_export.gate import apply_thresholds
    from portrait_export.parity import Reference, compare
    from portrait_export.calibration import load_image_sets

    model = build_model(TINY).eval()
    samples = load_image_sets(tiny["data"], tiny["data"], n_calib=2, n_val=3).validation_samples(progress=False)
    ref = Reference(model, samples, "synthetic")
    contract = model.contract()

    def same(x):
        with torch.no_grad():
            return model(torch.from_numpy(x)).numpy()

    def judged(figures):
        return apply_thresholds(figures, target="onnx", precision="fp32", thresholds=Thresholds())

    ok = compare(ref, same, contract, target="onnx")
    assert "passed" not in ok  # parity measures; the gate judges
    assert judged(ok)["passed"] and ok["max_abs_diff"] == 0.0 and ok["mask_iou_mean"] == 1.0
    bad = judged(compare(ref, lambda x: 1.0 - same(x), contract, target="onnx"))
    assert not bad["passed"] and any("max abs diff" in f for f in bad["failures"])
    with pytest.raises(ValueError, match="layout or size"):
        compare(ref, lambda x: same(x)[:, :, :32], contract, target="onnx")


# --- CLI errors: one line, non-zero, no traceback -------------------------------------------------------

@pytest.mark.parametrize("args, rc, needle", [
    (["--target", "tensorrt"], 2, "unknown target 'tensorrt'"),
    (["--precision", "int4"], 2, "invalid choice: 'int4'"),
    (["--imgsz", "65"], 2, "must be a multiple of 32"),
    (["--imgsz", "1", "2", "3"], 2, "--imgsz takes H W"),
    (["--weights", "/nonexistent/w.pt"], 2, "checkpoint not found: /nonexistent/w.pt"),
    (["--calib", "/nonexistent/calib"], 2, "image folder not found: /nonexistent/calib"),
    (["--bogus"], 2, "unrecognized arguments: --bogus"),
    (["--imgsz", "100000"], 2, "--imgsz 100000 100000: at most 2048 per side"),
    (["--min-mask-iou", "nan"], 2, "expected a number in [0, 1], got 'nan'"),
    (["--min-mask-iou", "1.5"], 2, "expected a number in [0, 1], got '1.5'"),
    (["--max-fg-iou-drop", "inf"], 2, "expected a finite number >= 0, got 'inf'"),
    (["--onnx-max-abs", "-1"], 2, "expected a finite number >= 0, got '-1'"),
    (["--calib-n", "0"], 2, "expected a positive integer, got '0'"),
    (["--target", "tflite", "--dynamic-batch"], 2, "--dynamic-batch applies to onnx only, not to tflite"),
    (["--target", "coreml", "tflite", "--opset", "18"], 2, "--opset applies to onnx only, not to coreml or tflite"),
    (["--target", "onnx", "--opset", "9"], 2, "--opset 9 out of the supported range 11..21"),
    (["--target", "onnx", "--int8-granularity", "tensor"], 2, "--int8-granularity applies to tflite only"),
])
def test_cli_bad_usage(tiny, tmp_path, capsys, args, rc, needle):
    argv = ["--out", str(tmp_path / "o")]
    if "--weights" not in args:
        argv += ["--weights", str(tiny["ckpt"])]
    if "--calib" not in args:
        argv += ["--calib", str(tiny["data"])]
    try:
        got, _, err = cli_run(capsys, *argv, *args)
    except SystemExit as e:  # argparse's own errors
        got, err = e.code, capsys.readouterr().err
    assert got == rc
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("portrait-export: error:") and needle in lines[0], err


@pytest.mark.parametrize("name", ["../escaped", "ABS"])
def test_a_checkpoint_name_never_writes_outside_out(tiny, tmp_path, capsys, name):
    """issue 24: a config name with ../ or an absolute path made the artifact land outside --out."""
    from support.hostile import raw_checkpoint

    name = str(tmp_path / "abs" / "escaped") if name == "ABS" else name
    ckpt = raw_checkpoint(tiny["root"] / "named.pt", config={"name": name}, base=TINY)
    rc, _, err = cli_run(capsys, "--weights", str(ckpt), "--target", "onnx", "--out", str(tmp_path / "out"),
                         "--val", str(tiny["data"]), "--val-n", "2")
    assert rc == 2 and err.count("\n") == 1 and "model config name" in err and "not a plain file name" in err, err
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_cli_unwritable_output(tiny, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    rc, _, err = cli_run(capsys, "--weights", str(tiny["ckpt"]), "--out", str(blocker / "sub"))
    assert rc == 2
    assert err.strip() == f"portrait-export: error: --out {blocker / 'sub'}: {blocker} is a file, not a folder"


def test_a_failed_export_leaves_no_empty_out_folder(tiny, tmp_path, capsys):
    """--out was made before the first target ran: an export that wrote nothing left an empty folder."""
    out = tmp_path / "new" / "out"
    rc, _, err = cli_run(capsys, "--weights", str(tiny["ckpt"]), "--target", "onnx", "--out", str(out),
                         "--val", str(tmp_path / "no-such-images"))
    assert rc == 2, err
    assert not (tmp_path / "new").exists()


@needs_export
def test_cli_missing_default_weights(tmp_path, capsys, monkeypatch):
    import portrait_mobile.checkpoint as ck

    monkeypatch.setattr(ck, "DEFAULT_WEIGHTS", tmp_path / "absent.pt")
    rc, _, err = cli_run(capsys, "--out", str(tmp_path / "o"))
    assert rc == 2 and err.strip() == f"portrait-export: error: shipped default weights missing: {tmp_path / 'absent.pt'}"


def test_no_images_is_a_clear_error(tiny, tmp_path, capsys, monkeypatch):
    """A user's checkpoint without saved statistics needs calibration images for int8: one clear line."""
    monkeypatch.setenv("PORTRAIT_DATASETS", str(tmp_path / "empty"))
    rc, _, err = cli_run(capsys, "--target", "tflite", "--weights", str(tiny["ckpt"]), "--out", str(tmp_path))
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert "no calibration images for the int8 export: pass --calib DIR" in err
    assert "no tiny.int8-calibration.json beside the weights" in err


def test_without_datasets_parity_uses_the_packaged_photo(tiny, tmp_path, capsys, monkeypatch):
    """No ../shared and no --val: ONNX is checked on views of the packaged public-domain photo."""
    monkeypatch.setenv("PORTRAIT_DATASETS", str(tmp_path / "empty"))
    rc, out, _ = cli_run(capsys, "--target", "onnx", "--weights", str(tiny["ckpt"]), "--out", str(tmp_path / "o"))
    assert rc == 0 and (tmp_path / "o" / "tiny-64.onnx").is_file()
    assert "parity checked on: 8 views of the packaged public-domain NASA portrait astronaut.jpg" in out
    assert (Path(api.__file__).parents[1] / "portrait_mobile" / "weights" / "parity" / "SOURCE.md").is_file()


def test_saved_calibration_is_reused_and_stale_one_refused(tiny, tmp_path, capsys, monkeypatch):
    """--save-calibration writes <ckpt>.int8-calibration.json; a later export of the same weights needs no
    images and makes the same bytes; statistics of other weights are refused, naming why."""
    from portrait_export import calibration_stats

    ckpt = tmp_path / "mine.pt"
    ckpt.write_bytes(tiny["ckpt"].read_bytes())
    common = ("--weights", str(ckpt), "--min-mask-iou", "0.5", "--max-fg-iou-drop", "50")
    rc, out, err = cli_run(capsys, "--target", "tflite", "--save-calibration", "--calib", str(tiny["data"]),
                           "--calib-n", "6", "--val", str(tiny["data"]), "--out", str(tmp_path / "a"), *common)
    saved = tmp_path / "mine.int8-calibration.json"
    assert rc == 0 and saved.is_file(), err
    assert f"statistics saved to {saved}" in out
    monkeypatch.setenv("PORTRAIT_DATASETS", str(tmp_path / "empty"))
    rc, out, err = cli_run(capsys, "--target", "tflite", "--out", str(tmp_path / "b"), *common)
    assert rc == 0, err
    assert "calibrated on: int8 calibration statistics saved with the weights" in out
    name = "tiny-64_int8.tflite"
    assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # Other weights: the statistics are stale.
    stats = calibration_stats.load(saved)
    calibration_stats.save(calibration_stats.CalibrationStats(
        "0" * 64, stats.input_size, stats.source, stats.ranges, stats.tools), saved)
    rc, _, err = cli_run(capsys, "--target", "tflite", "--out", str(tmp_path / "c"), *common)
    assert rc == 2 and "is stale: they were made for other weights" in err and not (tmp_path / "c" / name).exists()
    saved.write_text("{not json")
    rc, _, err = cli_run(capsys, "--target", "tflite", "--out", str(tmp_path / "c"), *common)
    assert rc == 2 and "not a valid int8 calibration statistics file" in err and len(err.strip().splitlines()) == 1


def test_a_calibration_that_cannot_be_saved_leaves_the_old_artifact_and_sidecar(tiny, tmp_path, capsys):
    """The .tflite was replaced before --save-calibration failed, beside the old sidecar: the runtime then
    refused it (its sha256 no longer matched)."""
    from portrait_mobile.runtime import Segmenter

    ckpt = tmp_path / "mine.pt"
    ckpt.write_bytes(tiny["ckpt"].read_bytes())
    common = ("--target", "tflite", "--weights", str(ckpt), "--min-mask-iou", "0.5", "--max-fg-iou-drop", "50",
              "--calib", str(tiny["data"]), "--calib-n", "6", "--val", str(tiny["data"]), "--out", str(tmp_path / "a"))
    rc, _, err = cli_run(capsys, *common)
    assert rc == 0, err
    artifact = tmp_path / "a" / "tiny-64_int8.tflite"
    before = artifact.read_bytes(), Path(f"{artifact}.json").read_bytes()
    (tmp_path / "mine.int8-calibration.json").mkdir()  # the statistics file cannot be written
    rc, _, err = cli_run(capsys, *common, "--save-calibration", "--calib-n", "3")  # other ranges, other bytes
    assert rc != 0
    assert (artifact.read_bytes(), Path(f"{artifact}.json").read_bytes()) == before
    Segmenter.from_file(artifact)  # still the file its sidecar describes


@pytest.mark.parametrize("fails", ["sidecar write", "sidecar rename", "artifact rename"])
def test_a_failed_write_leaves_the_previous_artifact_and_sidecar(tiny, tmp_path, capsys, monkeypatch, fails):
    """The artifact was renamed into place before its sidecar was written: when that failed (an immutable
    old sidecar, a full disk), the new artifact sat beside the old sidecar, the runtime refused it (its
    sha256 no longer matched) and the summary said it was not written."""
    import os

    import torch

    from portrait_export import metadata
    from portrait_mobile import atomic
    from portrait_mobile.checkpoint import Checkpoint
    from portrait_mobile.model import build_model
    from portrait_mobile.runtime import Segmenter

    torch.manual_seed(1)
    other = tmp_path / "other.pt"  # other weights: other bytes under the same name
    Checkpoint(TINY, build_model(TINY).state_dict(), train_info={"sources": ["pfcn/train"]}).save(other)
    out = tmp_path / "out"
    common = ("--target", "onnx", "--calib", str(tiny["data"]), "--val", str(tiny["data"]), "--val-n", "2",
              "--out", str(out))
    rc, _, err = cli_run(capsys, "--weights", str(tiny["ckpt"]), *common)
    assert rc == 0, err
    artifact = out / "tiny-64.onnx"
    before = artifact.read_bytes(), sidecar_path(artifact).read_bytes()
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == {"sidecar rename": sidecar_path(artifact), "artifact rename": artifact}[fails]:
            raise PermissionError(1, "Operation not permitted")  # what `chattr +i` on the old file gives
        return real_replace(src, dst)

    def no_space(*a, **kw):
        raise OSError(28, "No space left on device")

    if fails == "sidecar write":
        monkeypatch.setattr(metadata, "write_text", no_space)
    else:
        monkeypatch.setattr(atomic.os, "replace", replace)
    rc, stdout, err = cli_run(capsys, "--weights", str(other), *common)
    monkeypatch.undo()
    assert rc == 1, err
    assert (artifact.read_bytes(), sidecar_path(artifact).read_bytes()) == before
    assert "(tiny-64.onnx not written)" in stdout and "0/1 artifacts written" in stdout
    if fails != "artifact rename":  # (that one: the sidecar is written, then put back)
        assert "cannot write its sidecar" in err and "tiny-64.onnx and its sidecar are as they were" in err
    assert sorted(p.name for p in out.iterdir()) == sorted([CARD_NAME, artifact.name, artifact.name + ".json"])
    Segmenter.from_file(artifact)  # still the file its sidecar describes


def test_a_users_own_model_card_in_out_is_kept(tiny, tmp_path, capsys):
    """A MODEL_CARD.md of the user's own in --out was replaced by ours without a word. It is kept, with one
    line saying so; our card of an earlier edition is replaced, and a re-run with our card says nothing."""
    out = tmp_path / "out"
    card = out / CARD_NAME
    common = ("--target", "onnx", "--weights", str(tiny["ckpt"]), "--calib", str(tiny["data"]),
              "--val", str(tiny["data"]), "--val-n", "2", "--out", str(out))
    out.mkdir()
    card.write_text("# My app's model card\n")
    rc, _, err = cli_run(capsys, *common)
    assert rc == 0, err
    assert card.read_text() == "# My app's model card\n"
    (note,) = [line for line in err.splitlines() if "note:" in line]
    assert note.startswith(f"portrait-export: note: kept {card}: it is not portrait-mobile's model card")
    assert str(packaged_card()) in note
    # An earlier edition of our card (it says it is generated) is an earlier export's copy: replaced.
    card.write_bytes(packaged_card().read_bytes().replace(b"card version **", b"card version **0"))
    for _ in range(2):  # and the re-run, with the card already there, is silent
        rc, _, err = cli_run(capsys, *common)
        assert rc == 0 and "note" not in err, err
        assert card.read_bytes() == packaged_card().read_bytes()


def test_calibration_never_reads_a_held_out_split(tiny, tmp_path, capsys):
    """--calib SET:test calibrated the int8 model on the split it is measured on; the training caches
    refuse it (data.folder.training_source), and so does calibration. Parity (--val) may measure on it."""
    from support.datasets import make_portrait_folder

    data = make_portrait_folder(tmp_path / "set", n=6, size=(96, 80), split="test")
    base = ("--target", "tflite", "--weights", str(tiny["ckpt"]), "--calib-n", "4", "--val-n", "2",
            "--min-mask-iou", "0.5", "--max-fg-iou-drop", "50")
    for calib in (f"{data}:test", str(data)):  # the split, or the whole folder that holds it
        rc, _, err = cli_run(capsys, *base, "--calib", calib, "--val", str(tiny["data"]), "--out", str(tmp_path / "a"))
        assert rc == 2 and err.startswith(f"portrait-export: error: --calib {calib}: "), err
        assert "held-out split" in err or "held out for measuring" in err
        assert len(err.strip().splitlines()) == 1 and not (tmp_path / "a").exists()
    rc, _, err = cli_run(capsys, *base, "--calib", str(tiny["data"]), "--val", f"{data}:test",
                         "--out", str(tmp_path / "b"))
    assert rc == 0, err


def test_save_calibration_needs_int8_tflite(tiny, tmp_path, capsys):
    rc, _, err = cli_run(capsys, "--target", "onnx", "--save-calibration", "--weights", str(tiny["ckpt"]),
                         "--calib", str(tiny["data"]), "--out", str(tmp_path))
    assert rc == 2 and "--save-calibration saves the int8 calibration: it needs the tflite target" in err


@needs_export
def test_packaged_calibration_matches_the_shipped_weights():
    """Fails when new weights are shipped without their statistics: regenerate them with
    `portrait-export --target tflite --save-calibration` (docs/export.md)."""
    from portrait_export import calibration_stats
    from portrait_export.context import weights_sha256
    from portrait_mobile.checkpoint import load_checkpoint

    path = calibration_stats.stats_path(DEFAULT_WEIGHTS)
    assert path.is_file(), f"{path} missing: run portrait-export --target tflite --save-calibration"
    ckpt = load_checkpoint(None)
    stats = calibration_stats.load(path)
    why = calibration_stats.stale_reason(stats, weights_sha256(ckpt), tuple(ckpt.config.input_size))
    assert why is None, f"{path.name}: {why}; run portrait-export --target tflite --save-calibration"


def test_demo_assets_flag_calls_copy_to_demos(tiny, tmp_path, monkeypatch):
    import portrait_export.demo_assets as da

    seen = []
    monkeypatch.setattr(da, "copy_to_demos", lambda results, repo_root: seen.append((results, repo_root)) or [])
    results = api.export("onnx", weights=tiny["ckpt"], out_dir=tmp_path, calib=tiny["data"], val=tiny["data"],
                         n_val=2, demo_assets=True)
    assert seen and seen[0][0] == results and (seen[0][1] / "pyproject.toml").is_file()


def test_int8_granularity_recipes(exported, tiny):
    from portrait_export import tflite_convert, tflite_quantize as te
    from portrait_mobile.checkpoint import Checkpoint

    model = api.prepare_model(Checkpoint.load(tiny["ckpt"]), None)
    fp32 = tflite_convert.convert_fp32(model, (64, 64))
    assert len(te.int8_recipe(fp32, None)[0]) == 1  # static_wi8_ai8 as published
    rec, n_all = te.int8_recipe(fp32, float("inf"))
    # every conv and depthwise conv of the model
    assert n_all == exported["results"]["tflite", "fp32"].parity["spec_checks"]["weight_tensors"]
    assert all(e["op_config"]["weight_tensor_config"]["granularity"] == "TENSORWISE" for e in rec[1:])
    assert 0 < te.int8_recipe(fp32, 2.0)[1] <= n_all


def test_plan_precisions():
    assert api.plan("all") == [("onnx", "fp32"), ("tflite", "int8"), ("coreml", "fp16")]
    assert api.plan(["tflite", "onnx"], ["fp32", "int8"]) == [("tflite", "fp32"), ("tflite", "int8"),
                                                              ("onnx", "fp32")]
    assert api.plan("coreml", "int8") == [("coreml", "int8")]


# --- the default model ------------------------------------------------------------------------------------

@pytest.mark.slow
@needs_export
def test_default_model_all_targets_without_shared(tmp_path, capsys, monkeypatch):
    """The README's first command on a fresh machine: no ../shared, the shipped weights, --target all.

    int8 uses the packaged calibration statistics, parity the packaged photo's views (issue 13)."""
    assert DEFAULT_WEIGHTS.is_file(), f"the shipped weights are part of the repository: {DEFAULT_WEIGHTS}"
    monkeypatch.setenv("PORTRAIT_DATASETS", str(tmp_path / "no-shared"))
    monkeypatch.chdir(tmp_path)
    rc, out, err = cli_run(capsys, "--target", "all")
    assert rc == 0, err
    exported, m = tmp_path / "exported", DEFAULT_CONFIG
    assert {p.name for p in exported.iterdir()} >= {
        f"{m}.onnx", f"{m}_int8.tflite", f"{m}.mlpackage", f"{m}.onnx.json", f"{m}_int8.tflite.json",
        f"{m}.mlpackage.json"}
    assert "3/3 artifacts written" in out and "views of the packaged public-domain NASA portrait" in out
    assert "calibrated on: int8 calibration statistics saved with the weights" in out
    side = json.loads((exported / f"{m}_int8.tflite.json").read_text())
    blob = json.dumps(side)
    assert "int8 calibration statistics saved with the weights" in blob
    int8 = read_contract(exported / f"{m}_int8.tflite")
    assert int8.precision == "int8"
    assert (exported / f"{m}_int8.tflite").stat().st_size < 200 * 1024


def test_targets_come_from_the_formats_registry(tmp_path):
    """Each export target of portrait_mobile.formats has its exporter, and the file name its row implies."""
    from types import SimpleNamespace

    from portrait_export.context import ExportContext
    from portrait_mobile.formats import EXPORT_FORMATS, format_for_suffix, resolve

    assert tuple(api.TARGETS) == tuple(EXPORT_FORMATS) == ("onnx", "tflite", "coreml")
    if not _missing(EXPORT_EXTRA):  # the converters import their converter packages
        assert all(callable(resolve(f.converter)) for f in EXPORT_FORMATS.values())
    cfg = SimpleNamespace(name="m", input_size=(256, 256))
    ctx = ExportContext(checkpoint=SimpleNamespace(config=cfg), model=SimpleNamespace(config=cfg),  # type: ignore[arg-type]
                        out_dir=tmp_path, thresholds=Thresholds(), images=None, reference=None)  # type: ignore[arg-type]
    names = {(t, p): ctx.artifact_path(t, p).name for t, f in EXPORT_FORMATS.items() for p in f.precisions}
    assert names[("onnx", "fp32")] == "m.onnx"
    assert names[("tflite", "int8")] == "m_int8.tflite" and names[("tflite", "fp32")] == "m_fp32.tflite"
    assert names[("coreml", "fp16")] == "m.mlpackage" and names[("coreml", "int8")] == "m_int8.mlpackage"
    assert all(format_for_suffix(tmp_path.joinpath(n).suffix).target == t for (t, _), n in names.items())
