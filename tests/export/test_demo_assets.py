"""demo_assets: only the bytes portrait-export wrote reach the demo apps (the copying itself, on fake
artifacts, is tested with the apps in tests/demos/test_demo_apps.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from portrait_export import demo_assets
from portrait_export.demo_assets import DemoAssetError, copy_to_demos, find_exported
from portrait_mobile.artifact_digest import DIGEST_KEY, artifact_sha256
from portrait_mobile.contract import ModelContract
from portrait_mobile.contract_io import sidecar_path


def _sidecar(artifact: Path, target: str, digest: str | None, **kw) -> None:
    doc = ModelContract(model_name="m", version="1", input_height=64, input_width=64, target=target,
                        **kw).to_dict()
    doc["export"] = {} if digest is None else {DIGEST_KEY: digest}
    sidecar_path(artifact).write_text(json.dumps(doc))


def _exported(out: Path) -> tuple[Path, Path]:
    """A .tflite and an .mlpackage with sidecars recording their digests, as portrait-export leaves them."""
    tfl = out / "m_int8.tflite"
    out.mkdir(parents=True)
    tfl.write_bytes(b"\0\0\0\0TFL3 exported")
    _sidecar(tfl, "tflite", artifact_sha256(tfl))
    pkg = out / "m.mlpackage"
    (pkg / "Data" / "com.apple.CoreML").mkdir(parents=True)
    (pkg / "Data" / "com.apple.CoreML" / "model.mlmodel").write_bytes(b"spec")
    (pkg / "Data" / "com.apple.CoreML" / "weights.bin").write_bytes(b"weights")
    _sidecar(pkg, "coreml", artifact_sha256(pkg), precision="fp16")
    return tfl, pkg


def test_untouched_artifacts_are_copied(tmp_path: Path) -> None:
    _exported(tmp_path / "exported")
    written = copy_to_demos(find_exported(tmp_path / "exported"), tmp_path / "repo")
    assert [p.name for p in written] == ["m_int8.tflite", "m_int8.tflite.json", "m.mlpackage", "m.mlpackage.json"]


@pytest.mark.parametrize("digest", ["recorded", "none"])
def test_a_package_holding_a_link_is_not_copied(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                digest: str) -> None:
    """A weights.bin linking to a file outside the package put that file's bytes in ios_demo."""
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not the model's")
    _, pkg = _exported(tmp_path / "exported")
    weights = pkg / "Data" / "com.apple.CoreML" / "weights.bin"
    weights.unlink()
    weights.symlink_to(secret)
    _sidecar(pkg, "coreml", "0" * 64 if digest == "recorded" else None, precision="fp16")  # none: an old sidecar
    repo = tmp_path / "repo"
    assert demo_assets.main([str(tmp_path / "exported"), "--repo-root", str(repo)]) == 1
    assert "Data/com.apple.CoreML/weights.bin is a link" in capsys.readouterr().err
    # Nothing at all is copied, not even the good .tflite checked before it.
    assert not repo.exists()


def test_a_changed_artifact_is_not_copied(tmp_path: Path) -> None:
    tfl, _ = _exported(tmp_path / "exported")
    tfl.write_bytes(b"\0\0\0\0TFL3 tampered")
    with pytest.raises(DemoAssetError, match=r"m_int8\.tflite is not the file portrait-export wrote"):
        copy_to_demos(find_exported(tmp_path / "exported"), tmp_path / "repo")
    assert not (tmp_path / "repo").exists()
