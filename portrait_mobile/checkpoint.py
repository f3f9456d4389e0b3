"""One-file checkpoints: weights + model config + metrics (+ optional training state)."""
from __future__ import annotations

import io
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .atomic import write_bytes
from .config import DEFAULT_CONFIG, ModelConfig, get_config, list_configs
from .contract import ModelContract, pytorch_contract
from .errors import CheckpointError
from .model_card import WeightsTerms, weights_terms
from .model import PortraitNet, build_model
from .paths import WEIGHTS_DIR

FORMAT = "portrait-mobile-checkpoint/1"
DEFAULT_WEIGHTS = WEIGHTS_DIR / f"{DEFAULT_CONFIG}.pt"


@dataclass
class Checkpoint:
    config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    metrics: dict[str, Any] = field(default_factory=dict)
    train_info: dict[str, Any] = field(default_factory=dict)
    # Present only in training checkpoints, for --resume.
    train_state: dict[str, Any] | None = None

    def contract(self) -> ModelContract:
        """The input/output contract of this checkpoint's PyTorch model, with its version, metrics and
        the terms of the data it was trained on."""
        return pytorch_contract(self.config, version=str(self.train_info.get("version", "pytorch")),
                                metrics=self.metrics, terms=self.terms())

    def terms(self) -> WeightsTerms:
        """The licence statement and card for these weights, from the sources their training recorded."""
        return weights_terms((self.train_info or {}).get("sources"))

    def build(self) -> PortraitNet:
        model = build_model(self.config)
        try:
            model.load_state_dict(self.state_dict)
        except RuntimeError as e:
            raise CheckpointError(f"weights do not match config {self.config.name}: {e}") from None
        return model.eval()

    def save(self, path: str | Path, include_train_state: bool = True) -> None:
        payload = {
            "format": FORMAT,
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
    def load(cls, path: str | Path) -> "Checkpoint":
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"checkpoint not found: {path}")
        try:
            # weights_only: tensors and plain data only (dicts, lists, tuples, numbers, strings), which is
            # all a checkpoint holds, training state included; a pickle that asks for any other object
            # (a payload that would run code) is refused before anything is built.
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises many types for a non-checkpoint file
            raise CheckpointError(_unreadable(path, e)) from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise CheckpointError(f"{path} is not a portrait-mobile checkpoint (format {FORMAT!r} expected)")
        _check_payload(path, payload)
        try:
            config = ModelConfig.from_dict(payload["config"])
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: bad model config: {e}") from None
        registered = get_config(config.name) if config.name in list_configs() else None
        if registered is not None and registered != config:
            # Its artifacts would take the registered model's file names (and could replace it).
            raise CheckpointError(f"{path}: its config is named {config.name!r} but is not the registered "
                                  f"{config.name} ({_config_diff(registered, config)}); give it its own name")
        return cls(config, payload["state_dict"], payload.get("metrics", {}), payload.get("train_info", {}),
                   payload.get("train_state"))


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


def _config_diff(want: ModelConfig, got: ModelConfig) -> str:
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
