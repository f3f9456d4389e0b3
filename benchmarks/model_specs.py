"""Which models a benchmark times: our exported .tflite files (both precisions) and the reference.

A model's precision comes from its sidecar contract (``<model>.tflite.json``, read by
portrait_mobile.contract_io) when there is one, else from the file name (``_int8``/``_fp32``/``_fp16``),
else from its tensors.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from portrait_mobile.config import DEFAULT_CONFIG
from portrait_mobile.contract_io import read_sidecar
from portrait_mobile.errors import ModelLoadError, PortraitError
from portrait_mobile.litert import new_interpreter
from portrait_mobile.paths import ANCHORS_ENV
from portrait_mobile.reference.mediapipe import MEDIAPIPE_FILES, mediapipe_path

_PREC_RE = re.compile(r"_(int8|fp32|fp16|float32|float16|uint8)$")
_PREC_ALIASES = {"float32": "fp32", "float16": "fp16", "uint8": "int8"}


class ModelError(ValueError):
    """A model file is missing, unreadable or cannot be timed."""


@dataclass
class ModelSpec:
    path: Path
    label: str
    precision: str
    family: str
    is_reference: bool = False
    contract: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size

    @property
    def size_kb(self) -> float:
        return self.size_bytes / 1024.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "label": self.label,
            "precision": self.precision,
            "family": self.family,
            "is_reference": self.is_reference,
            "size_bytes": self.size_bytes,
            "size_kb": round(self.size_kb, 1),
            "contract": self.contract,
            "notes": self.notes,
        }


def _read_contract(path: Path) -> dict[str, Any] | None:
    """The sidecar document portrait-export wrote next to ``path``, or None (a model made elsewhere)."""
    try:
        return read_sidecar(path)
    except ModelLoadError:
        return None


def _open(path: Path) -> Any:
    """A LiteRT interpreter of `path`; ModelError if LiteRT cannot load it (checked before any timing)."""
    try:
        return new_interpreter(path)
    except (ValueError, RuntimeError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"{path}: not a TFLite model LiteRT can load ({msg})") from None


def _precision_from_tensors(interpreter: Any) -> str:
    types = {np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
    if types & {"int8", "uint8"}:
        return "int8"
    if "float16" in types:
        return "fp16"
    return "fp32"


def describe_model(path: str | Path, label: str | None = None, is_reference: bool = False) -> ModelSpec:
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"model not found: {p}")
    if p.suffix != ".tflite":
        raise ModelError(f"{p}: portrait-bench times .tflite files (got {p.suffix or 'no suffix'})")
    interpreter = _open(p)
    contract = _read_contract(p)
    stem = p.stem
    m = _PREC_RE.search(stem)
    family = stem[: m.start()] if m else stem
    if contract and contract.get("precision"):
        precision = str(contract["precision"])
        family = str(contract.get("model_name") or family)
    elif m:
        precision = _PREC_ALIASES.get(m.group(1), m.group(1))
    else:
        precision = _precision_from_tensors(interpreter)
    return ModelSpec(
        path=p,
        label=label or p.name,
        precision=precision,
        family=family,
        is_reference=is_reference,
        contract=contract,
    )


def sibling_precisions(path: Path) -> list[Path]:
    """exported/x_int8.tflite -> the other precisions of x that exist next to it."""
    m = _PREC_RE.search(path.stem)
    if not m:
        return []
    base = path.stem[: m.start()]
    out = []
    for prec in ("int8", "fp32", "fp16"):
        cand = path.with_name(f"{base}_{prec}.tflite")
        if cand != path and cand.is_file():
            out.append(cand)
    return out


def resolve_models(paths: list[str | Path], with_siblings: bool = True) -> list[ModelSpec]:
    """Our models: the given files, plus their other-precision siblings unless told not to."""
    seen: list[Path] = []
    for raw in paths:
        p = Path(raw)
        for cand in [p, *(sibling_precisions(p) if with_siblings and p.is_file() else [])]:
            if cand.resolve() not in [s.resolve() for s in seen]:
                seen.append(cand)
    specs = [describe_model(p) for p in seen]
    specs.sort(key=lambda s: (s.family, {"int8": 0, "fp16": 1, "fp32": 2}.get(s.precision, 3)))
    return specs


def default_model_paths(root: str | Path = ".") -> list[Path]:
    """exported/<default config>_int8.tflite (and its siblings), if portrait-export has written it."""
    base = Path(root) / "exported"
    found = [base / f"{DEFAULT_CONFIG}_{p}.tflite" for p in ("int8", "fp32")]
    return [p for p in found if p.is_file()]


def anchors_dir() -> Path | None:
    """The folder of the shared reference models (portrait_mobile.reference.mediapipe's lookup), None
    when it or its general model is missing."""
    try:
        return mediapipe_path().parent
    except PortraitError:
        return None


def resolve_reference(ref: str | None) -> ModelSpec | None:
    """'mediapipe' (the shared anchor), a path to a .tflite, or None / 'none'."""
    if ref is None or ref.lower() in ("none", "off", ""):
        return None
    if ref in MEDIAPIPE_FILES:
        try:
            path = mediapipe_path(name=ref)
        except PortraitError:
            raise ModelError(
                f"reference {ref!r}: {MEDIAPIPE_FILES[ref]} not found; set ${ANCHORS_ENV} to the folder that holds it"
            ) from None
        spec = describe_model(path, label=f"{ref} ({MEDIAPIPE_FILES[ref]})", is_reference=True)
        spec.precision = "fp32"
        spec.family = ref
        return spec
    spec = describe_model(ref, is_reference=True)
    return spec
