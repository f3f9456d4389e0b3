"""Hostile files for the security tests: checkpoints whose pickle would run code, or whose config
name would become a path outside the folder asked for. Written as raw payloads (no ModelConfig, which
refuses such names), the way an attacker would."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from portrait_mobile.checkpoint import FORMAT
from portrait_mobile.config import DEFAULT_CONFIG, ModelConfig, get_config
from portrait_mobile.model import build_model


class CreatesFile:
    """Unpickles into `open(path, "w")`: creating the marker file is the proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return open, (str(self.marker), "w")


def raw_checkpoint(path: Path, config: dict[str, Any] | None = None, base: ModelConfig | None = None,
                   **extra: Any) -> Path:
    """A checkpoint of random weights of `base` (default: the default config) as torch.save writes
    it; `config` entries replace the config's, `extra` adds or replaces top-level entries."""
    cfg = base or get_config(DEFAULT_CONFIG)
    torch.manual_seed(0)
    payload = {"format": FORMAT, "config": {**cfg.to_dict(), **(config or {})},
               "state_dict": build_model(cfg).state_dict(), "metrics": {}, "train_info": {}, **extra}
    torch.save(payload, path)
    return path


def payload_checkpoint(path: Path, marker: Path) -> Path:
    """A well-formed checkpoint but for one entry whose unpickling creates `marker`."""
    return raw_checkpoint(path, train_info={"note": CreatesFile(marker)})
