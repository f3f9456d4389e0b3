"""Reading a file the user named: one set of messages for missing, not-a-file, unreadable and not JSON."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .errors import DatasetError, PortraitError


def read_input(path: str | os.PathLike, error: type[PortraitError], what: str, limit: int | None = None) -> bytes:
    """The bytes of `path` (its first `limit` bytes if given); `error` naming the path (and `what` it
    should be) if there are none."""
    p = Path(path)
    if not p.exists():
        raise error(f"{what} not found: {p}")
    if not p.is_file():
        raise error(f"not a file: {p}")
    try:
        if limit is None:
            return p.read_bytes()
        with p.open("rb") as f:
            return f.read(limit)
    except OSError as e:
        raise error(f"cannot read {p}: {e.strerror or e}") from None


def parse_json(text: str | bytes, error: type[Exception], where: str) -> Any:
    """The JSON value of `text`; `error` naming `where` when it is not JSON, or nested too deeply for
    Python's parser (a RecursionError otherwise, with a traceback)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise error(f"{where}: JSON nested too deeply to read") from None
    except ValueError as e:  # JSONDecodeError; UnicodeDecodeError for bytes
        raise error(f"{where}: not valid JSON ({e})") from None


def read_npz(path: Path, keys: Sequence[str], what: str, check: Callable[[dict[str, Any]], Any]) -> tuple[dict, Any]:
    """The arrays `keys` of the .npz at `path` (never unpickled) and `check(arrays)`'s result; a
    DatasetError "<path> is not a <what> (...)" for a missing key, a damaged file or what `check`
    (raising DatasetError) finds wrong."""
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise DatasetError(f"missing {', '.join(missing)}")
            raw = {k: z[k] for k in keys}
        return raw, check(raw)
    except DatasetError as e:
        raise DatasetError(f"{path} is not a {what} ({e})") from None
    except Exception as e:  # numpy and zipfile raise many types for a damaged file
        raise DatasetError(f"{path} is not a {what} ({type(e).__name__}: {e})") from None
