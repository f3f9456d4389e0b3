"""Atomic file writes: temp file in the same folder, then rename, so no half-written output."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from . import interrupts


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temp path next to `dest`; on success rename it onto `dest`, on error delete it.

    The temp name keeps dest's suffix by default, since some writers (cv2, torch) pick the format
    from it.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix if suffix is not None else dest.suffix,
                               dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    interrupts.track_temp(tmp_path, True)
    try:
        yield tmp_path
        if tmp_path.is_file():
            _default_permissions(tmp_path, 0o666)  # mkstemp makes 0600; a model file is for sharing
        interrupts.check()  # after a signal (even one a library dropped) nothing is put in place
        os.replace(tmp_path, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            if tmp_path.is_dir():
                import shutil
                shutil.rmtree(tmp_path)
            else:
                tmp_path.unlink()
        raise
    finally:
        interrupts.track_temp(tmp_path, False)


def _default_permissions(path: Path, base: int) -> None:
    """chmod to what a plain open()/mkdir() would have given under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, base & ~umask)


def write_bytes(dest: str | os.PathLike, data: bytes) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def write_text(dest: str | os.PathLike, text: str) -> None:
    write_bytes(dest, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temp directory next to `dest` (same suffix, e.g. `.mlpackage`); on success it
    replaces `dest`, on error it is deleted and `dest` is left as it was.

    A non-empty directory cannot be renamed over another, so an existing `dest` is first renamed
    aside and removed after the new one is in place: a reader sees the old or the new tree, never a
    half-written one (for an instant, none).
    """
    import shutil

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=dest.suffix, dir=dest.parent))
    interrupts.track_temp(tmp, True)
    try:
        yield tmp
        _default_permissions(tmp, 0o777)  # mkdtemp makes 0700
        interrupts.check()
        old = None
        if dest.exists() or dest.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old.", dir=dest.parent))
            os.replace(dest, old / dest.name)
        try:
            os.replace(tmp, dest)
        except BaseException:
            if old is not None:  # put the previous version back
                os.replace(old / dest.name, dest)
            raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        interrupts.track_temp(tmp, False)
