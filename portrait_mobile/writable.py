"""Checking up front that an output folder can be written, before minutes of work are spent on it."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

# (flag, path): a path a run reads or writes, with the option that named it; None when not given.
Named = Iterable[tuple[str, "str | os.PathLike[str] | None"]]


def ensure_writable_dir(path: str | os.PathLike) -> None:
    """Create ``path`` if needed and write and remove a probe file in it; OSError when either fails.

    Permission bits are not enough (root writes through them, a read-only mount refuses everyone):
    only a real write says.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=path)
    os.close(fd)
    os.unlink(probe)


class OutputError(ValueError):
    """An output path that cannot be written (checked before the work starts)."""


def check_output_dir(path: Path, flag: str = "--out") -> None:
    """An output folder we can write: refuse an existing file or a read-only place up front."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"{flag} {path}: exists and is not a folder")
    try:
        ensure_writable_dir(path)
    except OSError as e:
        raise OutputError(f"{flag} {path}: cannot write there ({e.strerror or e})") from None


def check_creatable_dir(path: Path, flag: str) -> None:
    """An output folder we could write, without making it: the atomic writers make it with the first
    file, so a run that writes nothing leaves no empty folder behind."""
    if path.exists():
        check_output_dir(path, flag)
    else:
        _check_nearest_folder(path, flag)


def check_output_file(path: Path, flag: str) -> None:
    """An output file name we can write, not a folder; its folder may be missing (the atomic writers
    make it), but then the nearest existing one must be a folder that takes a file."""
    if path.is_dir():
        raise OutputError(f"{flag} {path}: is a folder, expected a file name")
    _check_nearest_folder(path, flag)


def _check_nearest_folder(path: Path, flag: str) -> None:
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{flag} {path}: {parent} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=parent)
    except OSError as e:
        raise OutputError(f"{flag} {path}: cannot write in {parent} ({e.strerror or e})") from None
    os.close(fd)
    os.unlink(probe)


def refuse_collisions(inputs: Named, outputs: Named) -> None:
    """OutputError when an output is a file the run reads (a model replaced by its own scores), lies
    inside a folder it reads (an .mlpackage, a dataset's masks/), or is another output (one result
    lost). Checked before the work: the atomic writers would replace the input without a word.

    Compared resolved, so ./a, a and a link to a are one file. Callers list every file they read,
    companions included (a model's sidecar, a cache's data files)."""
    reads = [(Path(p).resolve(), f"{flag} {p}") for flag, p in inputs if p]
    writes: dict[Path, str] = {}
    for flag, p in outputs:
        if not p:
            continue
        r = Path(p).resolve()
        for src, named in reads:
            if r == src:
                raise OutputError(f"{flag} {p} would overwrite the input {named}: write it elsewhere")
            if r.is_relative_to(src) and src.is_dir():
                raise OutputError(f"{flag} {p} would write inside the input {named}: write it elsewhere")
        if r in writes:
            raise OutputError(f"{flag} {p} and {writes[r]} are the same file: give each output its own path")
        writes[r] = f"{flag} {p}"
