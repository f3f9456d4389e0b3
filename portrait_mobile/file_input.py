"""Reading a file the user named: one set of messages for missing, not-a-file and unreadable."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import PortraitError


def read_input(path: str | os.PathLike, error: type[PortraitError], what: str) -> bytes:
    """The bytes of `path`; `error` naming the path (and `what` it should be) if there are none."""
    p = Path(path)
    if not p.exists():
        raise error(f"{what} not found: {p}")
    if not p.is_file():
        raise error(f"not a file: {p}")
    try:
        return p.read_bytes()
    except OSError as e:
        raise error(f"cannot read {p}: {e.strerror or e}") from None
