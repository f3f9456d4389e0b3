"""Which models a benchmark times: our exported .tflite files (each precision) and the reference.

What a model is comes from its contract (``portrait_mobile.contract_io.read_contract``: embedded in
the .tflite, or the sidecar beside it), never from its file name: its precision, its model name (the
family) and its input size. A .tflite made elsewhere, with no contract, is labelled by its file name
and its precision is read from its tensors. The other precisions of a model are the .tflite files
beside it whose contract names the same model at the same input size.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from portrait_mobile.config import DEFAULT_CONFIG
from portrait_mobile.contract import ModelContract
from portrait_mobile.contract_io import read_contract
from portrait_mobile.errors import ContractError, ModelLoadError, PortraitError
from portrait_mobile.formats import EXPORT_FORMATS
from portrait_mobile.litert import load_interpreter
from portrait_mobile.paths import ANCHORS_ENV
from portrait_mobile.reference.mediapipe import MEDIAPIPE_FILES, mediapipe_path

SUFFIX = EXPORT_FORMATS["tflite"].suffix  # what portrait-bench times (LiteRT)
PRECISION_ORDER = ("int8", "fp16", "fp32")  # how a family's models are listed


class ModelError(ValueError):
    """A model file is missing, unreadable or cannot be timed."""


@dataclass
class ModelSpec:
    path: Path
    label: str
    precision: str
    family: str
    is_reference: bool = False
    contract: ModelContract | None = None
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
            "contract": self.contract.to_dict() if self.contract else None,
            "notes": self.notes,
        }


def contract_of(path: Path) -> ModelContract | None:
    """The contract ``path`` carries (embedded, or its sidecar), None for a model made elsewhere;
    ModelError for one that is there but malformed (it is not silently timed as another model)."""
    try:
        return read_contract(path)
    except ContractError as e:
        raise ModelError(str(e)) from None
    except ModelLoadError:
        return None


def _open(path: Path) -> Any:
    """A LiteRT interpreter of `path`; ModelError naming the file once if LiteRT cannot load it (checked
    before any timing), worded as the runtime words it (litert.load_interpreter)."""
    try:
        return load_interpreter(path, needed_by="portrait-bench")[0]
    except ModelLoadError as e:
        raise ModelError(str(e)) from None


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
    if p.suffix != SUFFIX:
        raise ModelError(f"{p}: portrait-bench times {SUFFIX} files (got {p.suffix or 'no suffix'})")
    interpreter = _open(p)
    contract = contract_of(p)
    if contract is not None:
        precision, family = contract.precision, contract.model_name
    else:
        precision, family = _precision_from_tensors(interpreter), p.stem
    return ModelSpec(path=p, label=label or p.name, precision=precision, family=family,
                     is_reference=is_reference, contract=contract)


def _same_model(a: ModelContract, b: ModelContract) -> bool:
    return (a.model_name, a.input_height, a.input_width) == (b.model_name, b.input_height, b.input_width)


def sibling_precisions(path: Path) -> list[Path]:
    """The other precisions of the model at ``path``: the .tflite files beside it whose contract names
    the same model at the same input size ([] for a model without a contract)."""
    own = contract_of(path)
    if own is None:
        return []
    out = []
    for cand in sorted(path.parent.glob(f"*{SUFFIX}")):
        if cand.resolve() == path.resolve():
            continue
        c = contract_of(cand)
        if c is not None and _same_model(c, own) and c.precision != own.precision:
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
    rank = {p: i for i, p in enumerate(PRECISION_ORDER)}
    specs.sort(key=lambda s: (s.family, rank.get(s.precision, len(rank))))
    return specs


def default_model_paths(root: str | Path = ".") -> list[Path]:
    """The int8 and fp32 .tflite of the default config in exported/ (what portrait-export writes there),
    int8 first; found by their contracts."""
    from portrait_mobile.config import get_config

    h, w = get_config(DEFAULT_CONFIG).input_size
    found: dict[str, Path] = {}
    for p in sorted((Path(root) / "exported").glob(f"*{SUFFIX}")):
        c = contract_of(p)
        if c is not None and (c.model_name, c.input_height, c.input_width) == (DEFAULT_CONFIG, h, w):
            found.setdefault(c.precision, p)
    return [found[prec] for prec in ("int8", "fp32") if prec in found]


def anchors_dir() -> Path | None:
    """The folder of the shared reference models (portrait_mobile.reference.mediapipe's lookup), None
    when it or its general model is missing."""
    try:
        return mediapipe_path().parent
    except PortraitError:
        return None


NO_REFERENCE = ("none", "off", "")


def reference_file(ref: str | None) -> str | None:
    """The path a reference value names; None for no reference or a MediaPipe name, which are not paths."""
    if ref is None or ref.lower() in NO_REFERENCE or ref in MEDIAPIPE_FILES:
        return None
    return ref


def resolve_reference(ref: str | None) -> ModelSpec | None:
    """'mediapipe' (the shared anchor), a path to a .tflite, or None / 'none'."""
    if ref is None or ref.lower() in NO_REFERENCE:
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
