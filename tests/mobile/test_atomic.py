"""portrait_mobile.atomic: a file or a folder appears complete or not at all."""
from __future__ import annotations

import pytest

from portrait_mobile.atomic import atomic_dir, atomic_path


def test_atomic_path_and_dir(tmp_path):
    dest = tmp_path / "m.tflite"
    dest.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(dest) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert dest.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["m.tflite"]
    with atomic_path(dest) as tmp:
        tmp.write_bytes(b"new")
    assert dest.read_bytes() == b"new" and (dest.stat().st_mode & 0o044)  # readable by others

    pkg = tmp_path / "m.mlpackage"
    with atomic_dir(pkg) as tmp:
        assert tmp.suffix == ".mlpackage"
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic_dir(pkg) as tmp:
            (tmp / "b").write_text("2")
            raise RuntimeError("interrupted")
    assert [p.name for p in pkg.iterdir()] == ["a"]
    with atomic_dir(pkg) as tmp:
        (tmp / "c").write_text("3")
    assert [p.name for p in pkg.iterdir()] == ["c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mlpackage", "m.tflite"]
