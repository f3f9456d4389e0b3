"""Checking up front that an output folder can be written, before minutes of work are spent on it."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


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
