"""portrait_mobile.contract: a contract is checked once, where it is read or made (issue 24: tampered
sidecars and embedded contracts gave NaN or empty masks, raw TypeErrors, a 30 GB allocation or a
RecursionError)."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from portrait_mobile.contract import MAX_INPUT_SIDE, ModelContract
from portrait_mobile.contract_io import read_contract, sidecar_path
from portrait_mobile.errors import ContractError, ModelLoadError
from support.runtime_models import make_tiny_onnx, red_person, tiny_contract

NESTED = "[" * 100_000 + "]" * 100_000

# (what is changed, the field the error must name); every case is a contract that looked fine to the
# old reader or failed with a raw TypeError/ValueError/RecursionError.
BAD: list[tuple[dict[str, Any], str]] = [
    ({"std": [0, 1, 1]}, "std[0]"),
    ({"std": [float("nan"), 1, 1]}, "std[0]"),
    ({"std": [1, 1, -2]}, "std[2]"),
    ({"mean": [0.5, 0.5]}, "mean"),
    ({"mean": ["a", 0, 0]}, "mean[0]"),
    ({"mean": [0, float("inf"), 0]}, "mean[1]"),
    ({"mean": None}, "mean"),
    ({"input_height": "256"}, "input_height"),
    ({"input_width": 48.0}, "input_width"),
    ({"input_height": None}, "input_height"),
    ({"input_height": True}, "input_height"),
    ({"input_height": 0}, "input_height"),
    ({"input_height": 100_000}, "input_height"),
    ({"output_width": -1}, "output_width"),
    ({"input_layout": "NWHC"}, "input_layout"),
    ({"output_layout": 3}, "output_layout"),
    ({"color_order": "BRG"}, "color_order"),
    ({"resize": "crop"}, "resize"),
    ({"input_dtype": "float64"}, "input_dtype"),
    ({"precision": "int4"}, "precision"),
    ({"target": "tensorrt"}, "target"),
    ({"input_dtype": "uint8"}, "input_quant"),  # an integer input with no scale to make it
    ({"input_dtype": "uint8", "input_quant": {"dtype": "uint8", "scale": 0, "zero_point": 0}}, "input_quant.scale"),
    ({"input_dtype": "uint8", "input_quant": {"dtype": "int8", "scale": 0.1, "zero_point": 0}}, "input_quant"),
    ({"output_dtype": "uint8", "output_quant": {"dtype": "uint8", "scale": 0.0, "zero_point": 0}},
     "output_quant.scale"),
    ({"output_dtype": "uint8", "output_quant": {"dtype": "uint8", "scale": 0.1, "zero_point": 300}},
     "output_quant.zero_point"),
    ({"output_quant": {"dtype": "uint8", "scale": 0.1}}, "output_quant"),
    ({"output_quant": [1, 2, 3]}, "output_quant"),
    ({"model_name": ""}, "model_name"),
    ({"model_name": 5}, "model_name"),
    ({"version": None}, "version"),
    ({"model_card": "../../etc/passwd"}, "model_card"),
    ({"metrics": []}, "metrics"),
]


def _doc(**changes: Any) -> dict[str, Any]:
    return {**json.loads(tiny_contract().to_json()), **changes}


def test_a_good_contract_round_trips() -> None:
    c = tiny_contract()
    assert ModelContract.from_json(c.to_json()) == c
    assert ModelContract.from_dict({**_doc(), "parity": {}, "export": {}}) == c  # a sidecar's extra keys


@pytest.mark.parametrize("changes, field", BAD)
def test_each_malformed_field_is_named(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ContractError, match=rf"^m\.json: invalid model contract: {re.escape(field)} "):
        ModelContract.from_dict(_doc(**changes), "m.json")


@pytest.mark.parametrize("changes, field", BAD[:3])
def test_a_contract_made_in_code_is_checked_too(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ContractError, match="invalid model contract: std"):
        tiny_contract(std=tuple(changes["std"]))


@pytest.mark.parametrize("text, message", [
    (NESTED, "nested too deeply"),
    ("{broken", "not valid JSON"),
    ("[1, 2]", "contract is a JSON list"),
    ('{"schema": "other/1"}', "schema is 'other/1'"),
    (json.dumps({k: v for k, v in _doc().items() if k != "input_width"}), "input_width is missing"),
])
def test_unreadable_documents_are_one_error(text: str, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        ModelContract.from_json(text, "m.json")


def test_the_input_size_limit_is_stated() -> None:
    assert ModelContract.from_dict(_doc(input_height=MAX_INPUT_SIDE)).input_height == MAX_INPUT_SIDE


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    """The tiny model with no embedded contract: it reads its sidecar."""
    return make_tiny_onnx(tmp_path / "bare.onnx", with_contract=False)


@pytest.mark.parametrize("changes, field", [BAD[0], BAD[7], BAD[12], BAD[14], BAD[17], BAD[22]])
def test_a_tampered_sidecar_is_refused_naming_file_and_field(bare: Path, changes: dict[str, Any],
                                                              field: str) -> None:
    from portrait_mobile.runtime import Segmenter

    sidecar_path(bare).write_text(json.dumps(_doc(**changes)))
    with pytest.raises(ContractError, match=rf"{sidecar_path(bare)}: invalid model contract: {re.escape(field)} "):
        Segmenter.from_file(bare)
    sidecar_path(bare).write_text(NESTED)
    with pytest.raises(ContractError, match="nested too deeply"):
        read_contract(bare)


def test_a_tampered_embedded_contract_is_refused(tmp_path: Path) -> None:
    import onnx

    from portrait_mobile.contract import CONTRACT_KEY
    from portrait_mobile.runtime import Segmenter

    model = onnx.load(str(make_tiny_onnx(tmp_path / "m.onnx")))
    for p in model.metadata_props:
        if p.key == CONTRACT_KEY:
            p.value = json.dumps(_doc(std=[0, 0, 0]))
    onnx.save(model, str(tmp_path / "m.onnx"))
    with pytest.raises(ContractError, match=r"m.onnx \(embedded\): invalid model contract: std\[0\]"):
        Segmenter.from_file(tmp_path / "m.onnx")
    with pytest.raises(ContractError, match=r"m.onnx \(embedded\): invalid model contract: std\[0\]"):
        read_contract(tmp_path / "m.onnx")


def test_the_cli_says_which_field_in_one_line(bare: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import cv2

    from portrait_mobile.runtime.cli import main

    sidecar_path(bare).write_text(json.dumps(_doc(input_height="256")))
    cv2.imwrite(str(tmp_path / "a.png"), red_person()[0])
    assert main([str(tmp_path / "a.png"), "--model", str(bare), "--effect", "mask", "--out", str(tmp_path / "o")]) == 1
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and "invalid model contract: input_height is '256'" in err[0] and "unexpected" not in err[0]
    assert not (tmp_path / "o").exists()


def test_a_model_that_emits_nan_is_an_error_not_a_mask(tmp_path: Path) -> None:
    from portrait_mobile.runtime import Segmenter

    seg = Segmenter.from_file(make_tiny_onnx(tmp_path / "nan.onnx", emits_nan=True))
    with pytest.raises(ModelLoadError, match="nan.onnx: model output holds .* NaN or infinite values"):
        seg.segment(red_person()[0])
    with pytest.raises(ModelLoadError, match="NaN"):
        seg.predict_lowres(np.zeros((8, 8, 3), np.uint8))


# --- the edge refiner's contract (issue 25): its role, 4th channel and tiles, checked like the rest ----

def _refiner_doc(**changes: Any) -> dict[str, Any]:
    from portrait_mobile.contract import refiner_fields
    from portrait_mobile.tile_grid import TileGrid

    c = ModelContract(model_name="r", version="1", **refiner_fields(TileGrid(40, 0, 2, 512)))
    return {**json.loads(c.to_json()), **changes}


def test_a_refiner_contract_round_trips_and_a_segmenters_json_is_unchanged() -> None:
    from portrait_mobile.contract import LATER_FIELDS

    r = ModelContract.from_dict(_refiner_doc())
    assert (r.role, r.extra_channels, r.tiles.tile, r.tiles.out_tile, r.input_channels) == (
        "edge-refiner", ("coarse_probability",), 40, 20, 4)
    assert ModelContract.from_json(r.to_json()) == r
    # A segmenter writes none of the refiner's fields: its embedded JSON and sidecar are what they were.
    assert not set(LATER_FIELDS) & set(tiny_contract().to_dict()) and tiny_contract().input_channels == 3


@pytest.mark.parametrize("changes, field", [
    ({"role": "matting"}, "role"),
    ({"tiles": None}, "tiles"),
    ({"tiles": {"core": 40, "margin": 0}}, "tiles"),
    ({"tiles": {"core": 40, "margin": 1, "out_stride": 2, "work_long_side": 512}}, "tiles"),
    ({"tiles": {"core": 40, "margin": 0, "out_stride": 2, "work_long_side": 10 ** 9}}, "tiles.work_long_side"),
    ({"extra_channels": []}, "extra_channels"),
    ({"extra_channels": ["depth"]}, "extra_channels"),
    ({"resize": "squash"}, "resize"),
    ({"input_height": 48}, "input_height"),
    ({"output_width": 40}, "output_height"),
    ({"std": [0.5, 0.5, 0.5]}, "mean"),
])
def test_each_malformed_refiner_field_is_named(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ContractError, match=rf"^r\.json: invalid model contract: {re.escape(field)} "):
        ModelContract.from_dict(_refiner_doc(**changes), "r.json")


@pytest.mark.parametrize("changes, field", [
    ({"tiles": {"core": 40, "margin": 0, "out_stride": 2, "work_long_side": 512}}, "tiles"),
    ({"extra_channels": ["coarse_probability"]}, "extra_channels"),
    ({"resize": "contour-tiles"}, "resize"),
])
def test_a_segmenter_takes_none_of_the_refiners_fields(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ContractError, match=rf"invalid model contract: {re.escape(field)} .*a segmenter's"):
        ModelContract.from_dict(_doc(**changes), "m.json")
