"""The one rule for names that become file names: a plain file-name stem.

A checkpoint's config name becomes `<out>/<name>.onnx`, `<weights>/<name>.pt` and the names of the
packaged artifacts `portrait-train ship` replaces; a contract names its model card beside the
artifact. Those names are read from files someone else may have made, so a name with a separator,
`..` or an absolute path would write or delete outside the folder asked for. Every such name is
checked here, when it is read (ModelConfig, ModelContract), so a path built from it stays inside
its folder.
"""
from __future__ import annotations

import re
from pathlib import Path

from .errors import UnsafeNameError

MAX_NAME_LENGTH = 100
# Starts with a letter or digit (so never ".", ".." or an option-like "-x"); no separators.
_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def is_file_stem(name: object) -> bool:
    """Whether `name` is a plain file-name stem (the rule above)."""
    return isinstance(name, str) and len(name) <= MAX_NAME_LENGTH and _STEM.fullmatch(name) is not None


def check_file_stem(name: object, what: str) -> str:
    """`name` if it is a plain file-name stem, else UnsafeNameError naming `what` it is."""
    if is_file_stem(name):
        return name  # type: ignore[return-value]
    shown = repr(name) if len(repr(name)) <= 80 else repr(name)[:77] + "..."
    raise UnsafeNameError(f"{what} {shown} is not a plain file name (letters, digits, '.', '_' and '-', starting "
                          f"with a letter or digit, at most {MAX_NAME_LENGTH} characters)")


def path_inside(folder: Path, relative: object, what: str) -> Path:
    """`folder / relative` when it stays inside `folder` once `..` and links are resolved, else
    UnsafeNameError naming `what` (for relative paths a file lists, e.g. an .mlpackage's manifest)."""
    if not isinstance(relative, str) or not relative or "\0" in relative:
        raise UnsafeNameError(f"{what} {relative!r} is not a path")
    root = folder.resolve()
    target = (folder / relative).resolve()
    if target == root or not target.is_relative_to(root):
        raise UnsafeNameError(f"{what} {relative!r} points outside {folder}")
    return folder / relative
