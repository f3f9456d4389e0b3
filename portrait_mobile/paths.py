"""Where the project's shared data lives: ../shared next to the working directory or the repo."""
from __future__ import annotations

from pathlib import Path

from .errors import PortraitError

REPO_ROOT = Path(__file__).resolve().parents[1]


def find_shared(sub: str, explicit: str | Path | None = None, flag: str = "") -> Path:
    """`explicit` if given, else ../shared/<sub> beside the cwd or the repository."""
    if explicit is not None:
        p = Path(explicit)
        if not p.exists():
            raise PortraitError(f"not found: {p}")
        return p
    candidates = [Path.cwd().parent / "shared" / sub, REPO_ROOT.parent / "shared" / sub]
    for c in candidates:
        if c.is_dir():
            return c
    hint = f"; pass {flag}" if flag else ""
    raise PortraitError(f"shared/{sub} not found in " + " or ".join(str(c) for c in candidates) + hint)
