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
from .dataset import source_name
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

    @classmethod
    def from_payload(cls, path: Path, payload: dict[str, Any]) -> "RefinerCheckpoint":
        ck = super().from_payload(path, payload)
        # sources() names the training data on the card; its train_info 'sources' is checked by the
        # shared loader, the cache's description it falls back on (older checkpoints) here.
        cache = ck.train_info.get("cache")
        specs = cache.get("sources") if isinstance(cache, dict) else None
        bad_specs = specs is not None and not (isinstance(specs, list) and all(isinstance(s, str) for s in specs))
        if (cache is not None and not isinstance(cache, dict)) or bad_specs:
            raise CheckpointError(f"{path}: its train_info 'cache' is {_shown(cache)}, not a refine cache's "
                                  "description with a list of sources")
        return ck

    def new_model(self) -> TileRefiner:
        return TileRefiner(self.config)

    def sources(self) -> list[str]:
        """The labelled sets it was trained on (folder/split): recorded by fit, or read from the refine
        cache's description (checkpoints from before fit recorded them)."""
        info = self.train_info or {}
        if info.get("sources"):
            return list(info["sources"])
        return [source_name(spec) for spec in (info.get("cache") or {}).get("sources", [])]

    def terms(self) -> WeightsTerms:
        return weights_terms(self.sources())

    def contract(self) -> ModelContract:
        """How the PyTorch refiner is fed, with its metrics and the terms of its training data."""
        return refiner_pytorch_contract(self.config, metrics=self.metrics, terms=self.terms())


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
