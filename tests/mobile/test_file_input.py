"""portrait_mobile.file_input: the messages for a file the user named."""
from __future__ import annotations

from pathlib import Path

import pytest

from portrait_mobile.errors import ImageError, ModelLoadError
from portrait_mobile.file_input import read_input


def test_reads_bytes_and_names_each_problem(tmp_path: Path) -> None:
    f = tmp_path / "x.bin"
    f.write_bytes(b"abc")
    assert read_input(f, ImageError, "image") == b"abc"
    with pytest.raises(ImageError, match="image not found: .*nope.jpg"):
        read_input(tmp_path / "nope.jpg", ImageError, "image")
    with pytest.raises(ModelLoadError, match="not a file: "):
        read_input(tmp_path, ModelLoadError, "TFLite model")


def test_limit_reads_only_the_head(tmp_path: Path) -> None:
    f = tmp_path / "x.bin"
    f.write_bytes(b"0123456789")
    assert read_input(f, ImageError, "image", limit=8) == b"01234567"
    assert read_input(f, ImageError, "image", limit=64) == b"0123456789"
