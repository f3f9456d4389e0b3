"""portrait_mobile.reference.mediapipe: finding the reference files (torch-free)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from portrait_mobile.errors import ModelLoadError
from portrait_mobile.reference.mediapipe import MEDIAPIPE_FILES, mediapipe_path


def test_a_folder_resolves_to_the_named_reference(tmp_path: Path) -> None:
    for name, file in MEDIAPIPE_FILES.items():
        (tmp_path / file).write_bytes(b"x")
        assert mediapipe_path(tmp_path, name) == tmp_path / file
    assert mediapipe_path(tmp_path / MEDIAPIPE_FILES["mediapipe"]) == tmp_path / MEDIAPIPE_FILES["mediapipe"]


def test_missing_or_unknown_references_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelLoadError, match="not found: .*selfie_segmentation.tflite"):
        mediapipe_path(tmp_path)
    with pytest.raises(ValueError, match="unknown reference 'mediapipe-xl'"):
        mediapipe_path(tmp_path, "mediapipe-xl")
    (tmp_path / MEDIAPIPE_FILES["mediapipe"]).write_bytes(b"x")
    monkeypatch.setenv("PORTRAIT_ANCHORS_DIR", str(tmp_path))  # the environment names the folder
    assert mediapipe_path() == tmp_path / MEDIAPIPE_FILES["mediapipe"]


def test_imports_without_torch() -> None:
    code = ("import sys; import portrait_mobile.reference.mediapipe; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
