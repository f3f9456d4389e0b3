"""contract_io: reading the contract of .onnx / .tflite / .mlpackage without the export toolchain.

Each artifact here is built by hand (no converter runs), so the readers are checked against the
formats themselves: a flatbuffer written with LiteRT's schema, an ONNX graph from onnx.helper, a
Core ML spec from coremltools' protobuf classes.
"""
from __future__ import annotations

import builtins
import json
from pathlib import Path

import numpy as np
import pytest

from portrait_mobile.contract import CONTRACT_KEY, ModelContract, TensorQuant
from portrait_mobile.contract_io import (coreml_user_metadata, read_contract, read_sidecar, sidecar_path,
                                         tflite_metadata)
from portrait_mobile.errors import ModelLoadError

CONTRACT = ModelContract(model_name="m", version="1.2.3+abcd", input_height=32, input_width=48,
                         input_dtype="uint8", input_quant=TensorQuant("uint8", 1 / 255, 0),
                         output_quant=TensorQuant("uint8", 1 / 255, 0), precision="int8", target="tflite",
                         metrics={"fg_iou": 94.5})


def write_tflite(path: Path, metadata: dict[str, bytes]) -> Path:
    schema = pytest.importorskip("ai_edge_litert.schema_py_generated")
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    m = schema.ModelT()
    m.version = 3
    m.description = "test"
    sg = schema.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.operators = [], [], [], []
    m.subgraphs = [sg]
    m.operatorCodes = []
    m.buffers = [schema.BufferT()]
    m.metadata = []
    for name, data in metadata.items():
        b = schema.BufferT()
        b.data = np.frombuffer(data, np.uint8)
        m.buffers.append(b)
        md = schema.MetadataT()
        md.name, md.buffer = name, len(m.buffers) - 1
        m.metadata.append(md)
    path.write_bytes(bytes(fbu.convert_object_to_bytearray(m)))
    return path


def write_onnx(path: Path, props: dict[str, str]) -> Path:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for k, v in props.items():
        e = model.metadata_props.add()
        e.key, e.value = k, v
    onnx.save(model, str(path))
    return path


def write_mlpackage(path: Path, user: dict[str, str]) -> Path:
    pb = pytest.importorskip("coremltools.proto.Model_pb2")
    spec = pb.Model()
    spec.specificationVersion = 7
    spec.description.metadata.author = "someone"
    for k, v in user.items():
        spec.description.metadata.userDefined[k] = v
    data = path / "Data" / "com.apple.CoreML"
    data.mkdir(parents=True)
    (data / "model.mlmodel").write_bytes(spec.SerializeToString())
    (path / "Manifest.json").write_text(json.dumps({
        "fileFormatVersion": "1.0.0", "rootModelIdentifier": "X",
        "itemInfoEntries": {"X": {"path": "com.apple.CoreML/model.mlmodel", "name": "model.mlmodel"}}}))
    return path


def write_sidecar(artifact: Path, contract: ModelContract) -> Path:
    doc = contract.to_dict() | {"parity": {"passed": True}, "export": {"file": artifact.name}}
    p = sidecar_path(artifact)
    p.write_text(json.dumps(doc))
    return p


def test_tflite_embedded(tmp_path):
    p = write_tflite(tmp_path / "m.tflite", {"min_runtime_version": b"1.5.0\0",
                                             CONTRACT_KEY: CONTRACT.to_json().encode()})
    assert tflite_metadata(p.read_bytes())["min_runtime_version"] == b"1.5.0\0"
    assert read_contract(p) == CONTRACT


def test_onnx_embedded_via_onnxruntime_and_onnx(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    p = write_onnx(tmp_path / "m.onnx", {CONTRACT_KEY: CONTRACT.to_json(), "other": "x"})
    assert read_contract(p) == CONTRACT
    real_import = builtins.__import__

    def no_ort(name, *a, **kw):
        if name == "onnxruntime":
            raise ImportError("not installed")
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_ort)
    assert read_contract(p) == CONTRACT


def test_mlpackage_embedded_without_coremltools(tmp_path):
    p = write_mlpackage(tmp_path / "m.mlpackage", {CONTRACT_KEY: CONTRACT.to_json(), "k": "v"})
    spec = (p / "Data" / "com.apple.CoreML" / "model.mlmodel").read_bytes()
    assert coreml_user_metadata(spec) == {CONTRACT_KEY: CONTRACT.to_json(), "k": "v"}
    assert read_contract(p) == CONTRACT


@pytest.mark.parametrize("where", ["../../outside/model.mlmodel", "ABS"])
def test_mlpackage_manifest_cannot_point_outside_the_package(tmp_path, where):
    outside = tmp_path / "outside"
    write_mlpackage(outside / "planted.mlpackage", {CONTRACT_KEY: CONTRACT.to_json()})
    (outside / "model.mlmodel").write_bytes(
        (outside / "planted.mlpackage" / "Data" / "com.apple.CoreML" / "model.mlmodel").read_bytes())
    p = write_mlpackage(tmp_path / "pkg" / "m.mlpackage", {})
    path = str(outside / "model.mlmodel") if where == "ABS" else where
    (p / "Manifest.json").write_text(json.dumps({
        "rootModelIdentifier": "X", "itemInfoEntries": {"X": {"path": path}}}))
    with pytest.raises(ModelLoadError, match="points outside"):
        read_contract(p)


@pytest.mark.parametrize("link", ["Data", "spec", "spec-no-manifest"])
def test_mlpackage_links_cannot_lead_outside_the_package(tmp_path, link):
    """A package whose Data folder, or whose spec, is a link to another package's read that one's
    contract: the manifest's path was only checked against Data/ once Data itself was resolved."""
    outside = write_mlpackage(tmp_path / "outside" / "planted.mlpackage", {CONTRACT_KEY: CONTRACT.to_json()})
    p = write_mlpackage(tmp_path / "pkg" / "m.mlpackage", {})
    spec = p / "Data" / "com.apple.CoreML" / "model.mlmodel"
    if link == "Data":
        import shutil

        shutil.rmtree(p / "Data")
        (p / "Data").symlink_to(outside / "Data", target_is_directory=True)
    else:
        spec.unlink()
        spec.symlink_to(outside / "Data" / "com.apple.CoreML" / "model.mlmodel")
        if link == "spec-no-manifest":
            (p / "Manifest.json").unlink()
    with pytest.raises(ModelLoadError, match="points outside"):
        read_contract(p)
    # A link to a whole package is that package: its files are inside it.
    (tmp_path / "alias.mlpackage").symlink_to(outside, target_is_directory=True)
    assert read_contract(tmp_path / "alias.mlpackage") == CONTRACT


@pytest.mark.parametrize("kind", ["tflite", "onnx", "mlpackage"])
def test_sidecar_fallback_and_missing(tmp_path, kind):
    p = tmp_path / f"m.{kind}"
    {"tflite": lambda: write_tflite(p, {}), "onnx": lambda: write_onnx(p, {}),
     "mlpackage": lambda: write_mlpackage(p, {})}[kind]()
    with pytest.raises(ModelLoadError, match=f"no embedded '{CONTRACT_KEY}' entry, and no sidecar contract"):
        read_contract(p)
    write_sidecar(p, CONTRACT)
    assert sidecar_path(p).name == f"m.{kind}.json"
    assert read_contract(p) == CONTRACT
    assert read_sidecar(p)["parity"] == {"passed": True}


def test_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="model not found"):
        read_contract(tmp_path / "absent.tflite")
    (tmp_path / "x.bin").write_bytes(b"123")
    with pytest.raises(ModelLoadError, match="unknown model kind"):
        read_contract(tmp_path / "x.bin")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(ModelLoadError, match="TFL3"):
        read_contract(bad)
    p = write_tflite(tmp_path / "m.tflite", {CONTRACT_KEY: b'{"schema": "other"}'})
    with pytest.raises(ModelLoadError, match="invalid model contract"):
        read_contract(p)
    q = write_tflite(tmp_path / "q.tflite", {})
    sidecar_path(q).write_text("{broken")
    with pytest.raises(ModelLoadError, match="q.tflite.json: not valid JSON"):
        read_contract(q)
