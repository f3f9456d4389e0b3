"""One-file refiner checkpoints: weights + RefinerConfig + carve metrics (+ training state), read and
written by the one loader of portrait_mobile.checkpoint (the kind `REFINER_FORMAT`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..checkpoint import REFINER_FORMAT, WeightsFile
from ..contract import ModelContract, refiner_pytorch_contract
from ..errors import CheckpointError
from ..formats import EDGE_REFINER
from ..model_card import WeightsTerms, weights_terms
from ..paths import WEIGHTS_DIR
from .config import DEFAULT_REFINER, RefinerConfig
from .model import TileRefiner

FORMAT = REFINER_FORMAT
DEFAULT_REFINER_WEIGHTS = WEIGHTS_DIR / f"{DEFAULT_REFINER}.pt"


@dataclass
class RefinerCheckpoint(WeightsFile):
    config: RefinerConfig

    FORMAT: ClassVar[str] = REFINER_FORMAT
    WHAT: ClassVar[str] = "refiner checkpoint"
    role: ClassVar[str] = EDGE_REFINER

    @classmethod
    def config_from(cls, path: Path, d: dict[str, Any]) -> RefinerConfig:
        try:
            return RefinerConfig.from_dict(d)
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: bad refiner config: {e}") from None

    def new_model(self) -> TileRefiner:
        return TileRefiner(self.config)

    def sources(self) -> list[str]:
        """The labelled sets it was trained on (folder/split): recorded by fit, or read from the refine
        cache's description (checkpoints from before fit recorded them)."""
        info = self.train_info or {}
        if info.get("sources"):
            return [str(s) for s in info["sources"]]
        out = []
        for spec in (info.get("cache") or {}).get("sources", []):
            root, _, split = str(spec).rpartition(":")
            out.append(f"{Path(root).name}/{split}" if split and split != "None" else Path(root).name)
        return out

    def terms(self) -> WeightsTerms:
        return weights_terms(self.sources())

    def contract(self) -> ModelContract:
        """How the PyTorch refiner is fed, with its metrics and the terms of its training data."""
        return refiner_pytorch_contract(self.config, metrics=self.metrics, terms=self.terms())
