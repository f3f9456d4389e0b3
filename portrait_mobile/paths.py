"""Where the project's files live: ../shared next to the working directory or the repo, the packaged
weights, and the source checkout (the demo apps, which an install from a wheel does not have)."""
from __future__ import annotations

import os
from pathlib import Path

from .config import DEFAULT_CONFIG
from .errors import PortraitError
from .formats import FORMATS

# The repository when the package runs from a source checkout; in an installed wheel, site-packages.
REPO_ROOT = Path(__file__).resolve().parents[1]
# The shipped weights (and the artifacts exported from them) live in the package.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# The shipped model's checkpoint, and its int8 TFLite export packaged beside it (docs/results/refresh.sh).
DEFAULT_WEIGHTS = WEIGHTS_DIR / f"{DEFAULT_CONFIG}.pt"
DEFAULT_INT8 = WEIGHTS_DIR / f"{DEFAULT_CONFIG}_int8.tflite"
# Environment variables that, when set, are the only place looked at for a shared folder.
DATASETS_ENV = "PORTRAIT_DATASETS"
ANCHORS_ENV = "PORTRAIT_ANCHORS_DIR"
# Exported artifacts that may be packaged beside a model's weights, in the order Segmenter.default() tries them.
PACKAGED_SUFFIXES = tuple(s for f in FORMATS for s in f.packaged)


def packaged_artifacts(weights_dir: Path, name: str) -> list[Path]:
    """The exported artifacts of model `name` present in `weights_dir`, in PACKAGED_SUFFIXES order."""
    return [p for s in PACKAGED_SUFFIXES if (p := Path(weights_dir) / f"{name}{s}").is_file()]


def find_shared(sub: str, explicit: str | Path | None = None, flag: str = "", env: str | None = None) -> Path:
    """`explicit` if given, else the folder environment variable `env` names (when set and not empty:
    an explicit choice, never a fallback to another copy), else ../shared/<sub> beside the cwd or the
    repository."""
    if explicit is None and env:
        explicit = os.environ.get(env) or None
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


def source_checkout(*folders: str, what: str) -> Path:
    """The repository checkout that holds `folders` (e.g. "web_demo"): the working directory when it
    holds them, else the checkout this package runs from.

    `what` names the feature for the error: an install from a wheel has no demo apps, and this says
    so (PortraitError) instead of failing later on a path inside site-packages.
    """
    for root in (Path.cwd(), REPO_ROOT):
        if all((root / f).is_dir() for f in folders):
            return root
    need = ", ".join(f"{f}/" for f in folders)
    raise PortraitError(f"{what} needs a source checkout of portrait-mobile (the repository, with {need}); "
                        f"none in the working directory {Path.cwd()} nor where the package runs from "
                        f"({REPO_ROOT}): run it from a clone of the repository")
