"""One-file checkpoints: weights + model config + metrics (+ optional training state).

Two kinds share the file layout and this module's one loader: the segmentation model's
(`Checkpoint`) and the edge refiner's (`portrait_mobile.refine.checkpoint.RefinerCheckpoint`). The
payload's "format" says which; `load_any` reads a file of either kind.
"""
from __future__ import annotations

import io
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from .atomic import write_bytes
from .config import DEFAULT_CONFIG, ModelConfig, get_config, list_configs
from .contract import ModelContract, pytorch_contract
from .errors import CheckpointError
from .formats import SEGMENTER, resolve
from .model_card import WeightsTerms, weights_terms
from .model import PortraitNet, build_model
from .names import is_file_stem
from .paths import DEFAULT_WEIGHTS, WEIGHTS_DIR
from .tflite_graph import has_tflite_identifier

FORMAT = "portrait-mobile-checkpoint/1"
# Every kind of one-file checkpoint by its payload's "format": the class that reads it ("module:Class",
# imported when used, as in portrait_mobile.formats).
REFINER_FORMAT = "portrait-mobile-refiner/1"
KINDS = {FORMAT: "portrait_mobile.checkpoint:Checkpoint",
         REFINER_FORMAT: "portrait_mobile.refine.checkpoint:RefinerCheckpoint"}


@dataclass
class WeightsFile:
    """What both kinds hold and how they are read and written; a kind names its `FORMAT`, what it is
    called in messages (`WHAT`), the contract `role` its model plays, and how its config and model are made."""

    config: Any
    state_dict: dict[str, torch.Tensor]
    metrics: dict[str, Any] = field(default_factory=dict)
    train_info: dict[str, Any] = field(default_factory=dict)
    # Present only in training checkpoints, for --resume.
    train_state: dict[str, Any] | None = None

    FORMAT: ClassVar[str]
    WHAT: ClassVar[str]
    role: ClassVar[str]

    @classmethod
    def config_from(cls, path: Path, d: dict[str, Any]) -> Any:
        """The kind's config from the payload's dict; CheckpointError naming `path` when malformed."""
        raise NotImplementedError

    def new_model(self) -> nn.Module:
        raise NotImplementedError

    def terms(self) -> WeightsTerms:
        """The licence statement and card for these weights, from the sources their training recorded."""
        return weights_terms((self.train_info or {}).get("sources"))

    def build(self) -> nn.Module:
        model = self.new_model()
        try:
            model.load_state_dict(self.state_dict)
        except RuntimeError as e:
            raise CheckpointError(f"weights do not match config {self.config.name}: {e}") from None
        return model.eval()

    def save(self, path: str | Path, include_train_state: bool = True) -> None:
        payload = {
            "format": self.FORMAT,
            "config": self.config.to_dict(),
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict.items()},
            "metrics": self.metrics,
            "train_info": self.train_info,
        }
        if include_train_state and self.train_state is not None:
            payload["train_state"] = self.train_state
        buf = io.BytesIO()
        torch.save(payload, buf)
        write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> Any:
        path = Path(path)
        payload = read_payload(path, cls.WHAT)
        fmt = payload.get("format")
        if fmt != cls.FORMAT:
            if fmt in KINDS:  # the other kind (a refiner's .pt given as the model's): say which it is
                other = resolve(KINDS[fmt])
                name = payload["config"].get("name") if isinstance(payload.get("config"), dict) else None
                shown = f" ({name})" if is_file_stem(name) else ""
                raise CheckpointError(f"{path} is {_a(other.role)} checkpoint{shown}, not {_a(cls.role)} checkpoint")
            raise CheckpointError(f"{path} is not a portrait-mobile {cls.WHAT} (format {cls.FORMAT!r} expected)")
        return cls.from_payload(path, payload)

    @classmethod
    def from_payload(cls, path: Path, payload: dict[str, Any]) -> Any:
        """A checked payload (`read_payload`) of this kind as the object."""
        _check_payload(path, payload)
        ck = cls(cls.config_from(path, payload["config"]), payload["state_dict"], payload.get("metrics", {}),
                 payload.get("train_info", {}), payload.get("train_state"))
        _check_weights_fit(path, ck.state_dict, ck.new_model().state_dict())
        return ck


@dataclass
class Checkpoint(WeightsFile):
    """The segmentation model's checkpoint."""

    config: ModelConfig

    FORMAT: ClassVar[str] = FORMAT
    WHAT: ClassVar[str] = "checkpoint"
    role: ClassVar[str] = SEGMENTER

    def contract(self) -> ModelContract:
        """The input/output contract of this checkpoint's PyTorch model, with its version, metrics and
        the terms of the data it was trained on."""
        return pytorch_contract(self.config, version=str(self.train_info.get("version", "pytorch")),
                                metrics=self.metrics, terms=self.terms())

    def new_model(self) -> PortraitNet:
        return build_model(self.config)

    @classmethod
    def config_from(cls, path: Path, d: dict[str, Any]) -> ModelConfig:
        try:
            config = ModelConfig.from_dict(d)
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: bad model config: {e}") from None
        registered = get_config(config.name) if config.name in list_configs() else None
        if registered is not None and registered != config:
            # Its artifacts would take the registered model's file names (and could replace it).
            raise CheckpointError(f"{path}: its config is named {config.name!r} but is not the registered "
                                  f"{config.name} ({_config_diff(registered, config)}); give it its own name")
        return config


def read_payload(path: str | Path, what: str = "checkpoint") -> dict[str, Any]:
    """The payload of a one-file checkpoint of any kind: a dict, read with torch's weights-only loader.

    weights_only: tensors and plain data only (dicts, lists, tuples, numbers, strings), which is all
    a checkpoint holds, training state included; a pickle that asks for any other object (a payload
    that would run code) is refused before anything is built. `what` names the file in messages.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{what} not found: {path}")
    if not path.is_file():  # a folder, a FIFO, /dev/null: there, but "not found" would mislead
        kind = ("a folder" if path.is_dir() else "a FIFO" if path.is_fifo() else "a device"
                if path.is_char_device() or path.is_block_device() else "a socket")
        raise CheckpointError(f"{what} {path} is {kind}, not a checkpoint file")
    _check_container(path, what)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a non-checkpoint file
        raise CheckpointError(_unreadable(path, e)) from None
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path} is not a portrait-mobile {what} (a {type(payload).__name__}, not a mapping)")
    return payload


def load_any(path: str | Path) -> WeightsFile:
    """A checkpoint of either kind (`KINDS`), by the format its payload names."""
    path = Path(path)
    payload = read_payload(path)
    ref = KINDS.get(payload.get("format"))  # type: ignore[arg-type]
    if ref is None:
        raise CheckpointError(f"{path} is not a portrait-mobile checkpoint (format one of "
                              f"{', '.join(map(repr, KINDS))} expected)")
    return resolve(ref).from_payload(path, payload)


def _check_container(path: Path, what: str) -> None:
    """A file that is neither torch.save's zip nor its legacy pickle is not a checkpoint at all: say
    so, rather than let the weights-only loader call its first byte a refused (dangerous) object."""
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as e:
        raise CheckpointError(f"{path}: unreadable ({e.strerror or e})") from None
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\x80"):
        return
    kind = ("empty" if not head else "a TFLite model" if has_tflite_identifier(head)
            else "text, not a PyTorch file" if head.lstrip()[:1] in (b"{", b"[") else "not a PyTorch file")
    raise CheckpointError(f"{path} is not a portrait-mobile {what}: {kind} (torch.save writes a zip archive)")


def _a(role: str) -> str:
    """The role with its article: "a segmenter", "an edge-refiner"."""
    return f"{'an' if role[:1] in 'aeiou' else 'a'} {role}"


def _unreadable(path: Path, e: Exception) -> str:
    """One line for a file torch.load could not read; a pickle the weights-only loader refused names
    what it asked for."""
    text = str(e)
    if isinstance(e, pickle.UnpicklingError) and "weights only" in text.lower():
        m = re.search(r"GLOBAL (\S+)", text)
        what = f"the Python object {m.group(1)}" if m else "something other than tensors and plain data"
        return (f"{path}: refused: a checkpoint holds only tensors and plain data, but this file asks to load "
                f"{what} (loading it could run code); it was not loaded")
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return f"{path} is not a readable checkpoint ({type(e).__name__}: {first})"


# What each part of a checkpoint must be (torch.load(weights_only=True) already limits the types).
_PARTS = {"config": dict, "state_dict": dict, "metrics": dict, "train_info": dict, "train_state": (dict, type(None))}


def _check_payload(path: Path, payload: dict[str, Any]) -> None:
    for key, kind in _PARTS.items():
        if key in ("config", "state_dict") and key not in payload:
            raise CheckpointError(f"{path}: no {key!r} in the checkpoint")
        if key in payload and not isinstance(payload[key], kind):
            raise CheckpointError(f"{path}: its {key!r} is a {type(payload[key]).__name__}, not a mapping")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in payload["state_dict"].items()):
        raise CheckpointError(f"{path}: its 'state_dict' must map parameter names to tensors")
    sources = payload.get("train_info", {}).get("sources")
    if sources is not None and not (isinstance(sources, list) and all(isinstance(x, str) for x in sources)):
        raise CheckpointError(f"{path}: its train_info 'sources' must be a list of source names")


def _check_weights_fit(path: Path, got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    """The weights are the ones their config builds, tensor by tensor: a tampered shape would otherwise
    broadcast silently into an average, or fail deep in torch with a traceback."""
    missing, unexpected = sorted(want.keys() - got.keys()), sorted(got.keys() - want.keys())
    if missing or unexpected:
        raise CheckpointError(f"{path}: its weights do not match its config (missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]})")
    for k, v in want.items():
        if got[k].shape != v.shape or got[k].is_floating_point() != v.is_floating_point():
            raise CheckpointError(f"{path}: its weight {k} is a {got[k].dtype} tensor of shape {tuple(got[k].shape)}, "
                                  f"its config builds a {v.dtype} {tuple(v.shape)}")


def _config_diff(want: Any, got: Any) -> str:
    """What differs between two configs of one kind (a model's or a refiner's), field by field."""
    wd, gd = want.to_dict(), got.to_dict()
    return ", ".join(f"{k} {gd[k]!r} instead of {wd[k]!r}" for k in wd if wd[k] != gd.get(k))


def load_checkpoint(path: str | Path | None = None) -> Checkpoint:
    """Load `path`, or the shipped default weights when `path` is None."""
    if path is None:
        if not DEFAULT_WEIGHTS.is_file():
            raise CheckpointError(f"shipped default weights missing: {DEFAULT_WEIGHTS}")
        path = DEFAULT_WEIGHTS
    return Checkpoint.load(path)


def load_model(path: str | Path | None = None) -> PortraitNet:
    """The eval-mode PyTorch model from `path` (default: the shipped weights)."""
    return load_checkpoint(path).build()
