"""artifact_digest: the sha256 portrait-export records in a sidecar, and the runtime's refusal of a file
whose bytes no longer match it."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from portrait_mobile.artifact_digest import DIGEST_KEY, artifact_sha256, recorded_sha256, verify_artifact
from portrait_mobile.contract_io import sidecar_path
from portrait_mobile.errors import ModelLoadError
from portrait_mobile.runtime import Segmenter
from portrait_mobile.runtime.cli import main as cli_main
from portrait_export import metadata
from support.runtime_models import make_tiny_onnx, red_person, tiny_contract


def _exported(tmp_path: Path, name: str = "m.onnx") -> Path:
    """A tiny model with the sidecar portrait-export writes (its digest included)."""
    path = make_tiny_onnx(tmp_path / name)
    metadata.write_sidecar(path, tiny_contract(), {"passed": True}, {DIGEST_KEY: artifact_sha256(path)})
    return path


def _change(path: Path) -> None:
    """Another loadable model under the exported one's name: the engine alone would run it."""
    make_tiny_onnx(path, emits_nan=True)


def test_file_digest_is_sha256_of_its_bytes(tmp_path: Path) -> None:
    p = tmp_path / "f.bin"
    p.write_bytes(b"x" * 3_000_000)  # over one read chunk
    assert artifact_sha256(p) == hashlib.sha256(p.read_bytes()).hexdigest()


def test_folder_digest_covers_names_and_bytes_not_listing_order(tmp_path: Path) -> None:
    def package(root: Path, files: dict[str, bytes]) -> Path:
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        return root

    files = {"Manifest.json": b"{}", "Data/model.mlmodel": b"spec", "Data/weights/weight.bin": b"\x00" * 10}
    a = package(tmp_path / "a.mlpackage", files)
    b = package(tmp_path / "b.mlpackage", dict(reversed(list(files.items()))))
    assert artifact_sha256(a) == artifact_sha256(b)
    renamed = package(tmp_path / "c.mlpackage", {**{k: v for k, v in files.items() if k != "Manifest.json"},
                                                 "manifest.json": b"{}"})
    changed = package(tmp_path / "d.mlpackage", {**files, "Data/weights/weight.bin": b"\x00" * 9 + b"\x01"})
    # moving bytes across a file boundary changes it too
    shifted = package(tmp_path / "e.mlpackage", {**files, "Data/model.mlmodel": b"spec\x00",
                                                 "Data/weights/weight.bin": b"\x00" * 9})
    digests = {artifact_sha256(p) for p in (a, renamed, changed, shifted)}
    assert len(digests) == 4
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"elsewhere")
    (a / "Data" / "weights" / "weight.bin").unlink()
    (a / "Data" / "weights" / "weight.bin").symlink_to(secret)  # a package file that is another file
    with pytest.raises(ModelLoadError, match=r"Data/weights/weight.bin is a link"):
        artifact_sha256(a)


def test_untouched_artifact_loads_and_a_changed_one_is_refused(tmp_path: Path) -> None:
    path = _exported(tmp_path)
    assert recorded_sha256(path) == artifact_sha256(path)
    verify_artifact(path)
    img, _ = red_person()
    before = Segmenter.from_file(path).segment(img)
    _change(path)
    with pytest.raises(ModelLoadError, match=r"m\.onnx is not the file portrait-export wrote.*m\.onnx\.json"):
        Segmenter.from_file(path)
    make_tiny_onnx(path)  # the exported bytes again
    np.testing.assert_array_equal(Segmenter.from_file(path).segment(img), before)


def test_no_sidecar_or_no_digest_is_not_checked(tmp_path: Path) -> None:
    bare = make_tiny_onnx(tmp_path / "bare.onnx")
    assert recorded_sha256(bare) is None
    Segmenter.from_file(bare)
    older = _exported(tmp_path, "older.onnx")
    doc = json.loads(sidecar_path(older).read_text())
    del doc["export"][DIGEST_KEY]  # a sidecar from before the digest was recorded
    sidecar_path(older).write_text(json.dumps(doc))
    _change(older)
    assert recorded_sha256(older) is None
    Segmenter.from_file(older)


@pytest.mark.parametrize("cut", ["half", "not-ours"])
def test_a_broken_sidecar_is_refused_not_skipped(tmp_path: Path, cut: str) -> None:
    """A changed model whose sidecar was also cut in half ran without a word: the check was off."""
    path = _exported(tmp_path)
    side = sidecar_path(path)
    text = side.read_text()
    side.write_text(text[: len(text) // 2] if cut == "half" else json.dumps({"schema": "other"}))
    _change(path)
    with pytest.raises(ModelLoadError, match=r"m\.onnx\.json.*sha256 cannot be checked"):
        recorded_sha256(path)
    with pytest.raises(ModelLoadError, match="sha256 cannot be checked"):
        Segmenter.from_file(path)


@pytest.mark.parametrize("export", [{DIGEST_KEY: 12345}, {DIGEST_KEY: None}, {DIGEST_KEY: ["0" * 64]},
                                    {DIGEST_KEY: 0}, {DIGEST_KEY: ""}, {DIGEST_KEY: "0" * 63},
                                    {DIGEST_KEY: "g" * 64}, "tampered", None, 0, ["0" * 64]])
def test_a_malformed_digest_is_refused_not_skipped(tmp_path: Path, export: object) -> None:
    """A sidecar whose "export" section or digest is not a 64-hex-digit string loaded a changed model
    without a word (the check was off); only a missing key means a sidecar from before the digest."""
    path = _exported(tmp_path)
    doc = json.loads(sidecar_path(path).read_text())
    doc["export"] = export
    sidecar_path(path).write_text(json.dumps(doc))
    _change(path)
    with pytest.raises(ModelLoadError, match=r"m\.onnx\.json.*sha256 cannot be checked"):
        recorded_sha256(path)
    with pytest.raises(ModelLoadError, match="sha256 cannot be checked"):
        Segmenter.from_file(path)


def test_no_export_section_is_an_old_sidecar(tmp_path: Path) -> None:
    path = _exported(tmp_path)
    doc = json.loads(sidecar_path(path).read_text())
    del doc["export"]
    sidecar_path(path).write_text(json.dumps(doc))
    assert recorded_sha256(path) is None
    upper = _exported(tmp_path, "upper.onnx")  # the digest's case is not part of it
    doc = json.loads(sidecar_path(upper).read_text())
    doc["export"][DIGEST_KEY] = doc["export"][DIGEST_KEY].upper()
    sidecar_path(upper).write_text(json.dumps(doc))
    verify_artifact(upper)


def test_cli_refuses_a_changed_model_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _exported(tmp_path)
    img, _ = red_person()
    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), img[..., ::-1])
    _change(model)
    rc = cli_main([str(photo), "--model", str(model), "--effect", "mask", "--out", str(tmp_path / "o"), "-q"])
    err = capsys.readouterr().err
    assert rc == 1 and "is not the file portrait-export wrote" in err and "export it again" in err, err
    assert not (tmp_path / "o").exists()
