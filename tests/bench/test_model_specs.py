"""portrait_bench.model_specs: what a model is (precision, family) from its contract, never its file name;
siblings of other precisions found by their contracts."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from portrait_mobile.contract import ModelContract
from portrait_mobile.contract_io import sidecar_path
from portrait_bench.model_specs import ModelError, default_model_paths, describe_model, resolve_models


def _with_contract(src: Path, dest: Path, name: str, precision: str, size: int = 32) -> Path:
    """`src` copied to `dest` with a sidecar contract, as portrait-export writes one."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)
    c = ModelContract(model_name=name, version="0", input_height=size, input_width=size, precision=precision,
                      target="tflite")
    sidecar_path(dest).write_text(json.dumps(c.to_dict()))
    return dest


def test_a_model_without_contract_is_named_by_its_file_and_read_from_its_tensors(tiny_models) -> None:
    spec = describe_model(tiny_models["good"])
    assert (spec.precision, spec.family, spec.contract) == ("fp32", "tiny_fp32", None)
    assert resolve_models([tiny_models["good"]]) == [spec]  # no contract: no siblings to look for
    if tiny_models["int8"] is not None:
        assert describe_model(tiny_models["int8"]).precision == "int8"


def test_the_contract_says_what_a_model_is_and_finds_its_siblings(tiny_models, tmp_path: Path) -> None:
    if tiny_models["int8"] is None:
        pytest.skip("ai-edge-quantizer could not make the int8 sibling")
    # Names that lie: the contract, not the name, says the precision and the model.
    fp32 = _with_contract(tiny_models["good"], tmp_path / "tiny_int8.tflite", "tiny", "fp32")
    int8 = _with_contract(tiny_models["int8"], tmp_path / "q.tflite", "tiny", "int8")
    _with_contract(tiny_models["good"], tmp_path / "tiny_fp16.tflite", "other", "fp16")  # another model
    _with_contract(tiny_models["good"], tmp_path / "big.tflite", "tiny", "fp16", size=64)  # another input size
    spec = describe_model(fp32)
    assert (spec.precision, spec.family) == ("fp32", "tiny") and spec.contract.model_name == "tiny"
    specs = resolve_models([fp32])
    assert [(s.path.name, s.precision) for s in specs] == [("q.tflite", "int8"), ("tiny_int8.tflite", "fp32")]
    assert [s.path for s in resolve_models([fp32], with_siblings=False)] == [fp32]
    assert json.loads(json.dumps(spec.to_dict()))["contract"]["precision"] == "fp32"
    assert int8 in [s.path for s in specs]


def test_default_models_are_found_by_contract(tiny_models, tmp_path: Path) -> None:
    from portrait_mobile.config import DEFAULT_CONFIG, get_config

    size = get_config(DEFAULT_CONFIG).input_size[0]
    exported = tmp_path / "exported"
    _with_contract(tiny_models["good"], exported / "a.tflite", DEFAULT_CONFIG, "fp32", size)
    _with_contract(tiny_models["good"], exported / "b.tflite", DEFAULT_CONFIG, "int8", size)
    _with_contract(tiny_models["good"], exported / f"{DEFAULT_CONFIG}_int8.tflite", "someone-else", "int8", size)
    assert default_model_paths(tmp_path) == [exported / "b.tflite", exported / "a.tflite"]


def test_a_malformed_contract_is_a_model_error_not_a_model_made_elsewhere(tiny_models, tmp_path: Path) -> None:
    model = _with_contract(tiny_models["good"], tmp_path / "m.tflite", "tiny", "fp32")
    doc = json.loads(sidecar_path(model).read_text())
    sidecar_path(model).write_text(json.dumps({**doc, "input_height": "32"}))
    with pytest.raises(ModelError, match=r"m.tflite.json: invalid model contract: input_height is '32'"):
        describe_model(model)


def test_a_file_litert_cannot_load_is_a_model_error_whatever_its_name(tmp_path: Path) -> None:
    for name in ("junk.tflite", "junk_int8.tflite"):  # the name alone used to skip the check
        bad = tmp_path / name
        bad.write_bytes(b"TFL3" + bytes(range(256)) * 4)
        with pytest.raises(ModelError, match="is not a (loadable )?TFLite model") as e:
            describe_model(bad)
        assert str(e.value).count(str(bad)) == 1, str(e.value)  # the file, named once


def test_a_model_litert_itself_refuses_names_the_file_once(tmp_path: Path) -> None:
    """A consistent graph (the graph reader passes it) with an op LiteRT does not have: LiteRT's own refusal."""
    from support.tflite_graphs import one_op_model

    bad = one_op_model(tmp_path / "custom.tflite", "MyCustomOp")
    with pytest.raises(ModelError, match="is not a loadable TFLite model: RuntimeError: .*MyCustomOp") as e:
        describe_model(bad)
    assert str(e.value).count(str(bad)) == 1, str(e.value)
