"""One-file refiner checkpoints: weights + RefinerConfig + carve metrics (+ training state)."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..atomic import write_bytes
from ..errors import CheckpointError
from ..paths import WEIGHTS_DIR
from .config import DEFAULT_REFINER, RefinerConfig
from .model import TileRefiner

FORMAT = "portrait-mobile-refiner/1"
DEFAULT_REFINER_WEIGHTS = WEIGHTS_DIR / f"{DEFAULT_REFINER}.pt"


@dataclass
class RefinerCheckpoint:
    config: RefinerConfig
    state_dict: dict[str, torch.Tensor]
    metrics: dict[str, Any] = field(default_factory=dict)
    train_info: dict[str, Any] = field(default_factory=dict)
    train_state: dict[str, Any] | None = None  # optimizer, EMA, step: only in training checkpoints

    def build(self) -> TileRefiner:
        model = TileRefiner(self.config)
        try:
            model.load_state_dict(self.state_dict)
        except RuntimeError as e:
            raise CheckpointError(f"weights do not match refiner config {self.config.name}: {e}") from None
        return model.eval()

    def save(self, path: str | Path, include_train_state: bool = True) -> None:
        payload = {"format": FORMAT, "config": self.config.to_dict(),
                   "state_dict": {k: v.detach().cpu() for k, v in self.state_dict.items()},
                   "metrics": self.metrics, "train_info": self.train_info}
        if include_train_state and self.train_state is not None:
            payload["train_state"] = self.train_state
        buf = io.BytesIO()
        torch.save(payload, buf)
        write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> "RefinerCheckpoint":
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"refiner checkpoint not found: {path}")
        try:
            # Tensors and plain data only: a pickle asking for any other object is refused.
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises many types for a non-checkpoint file
            raise CheckpointError(f"{path} is not a readable refiner checkpoint: {type(e).__name__}: {e}") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise CheckpointError(f"{path} is not a portrait-mobile refiner checkpoint ({FORMAT!r} expected)")
        try:
            config = RefinerConfig.from_dict(payload["config"])
            state = payload["state_dict"]
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: malformed refiner checkpoint: {e}") from None
        return cls(config, state, payload.get("metrics", {}), payload.get("train_info", {}),
                   payload.get("train_state"))
