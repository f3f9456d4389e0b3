"""portrait_mobile.checkpoint: one file of weights, config, metrics; its contract and its terms."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from portrait_mobile.checkpoint import Checkpoint
from portrait_mobile.config import ModelConfig, get_config
from portrait_mobile.errors import CheckpointError
from portrait_mobile.model import build_model
from portrait_mobile.model_card import CARD_NAME, WEIGHTS_LICENSE

TINY = ModelConfig(name="tiny-ck", widths=(4, 8, 8, 16, 16), decoder_widths=(8, 8, 4), refine_width=4,
                   input_size=(32, 32))


def test_a_registered_name_on_another_architecture_is_refused(tmp_path: Path) -> None:
    cfg = replace(get_config("portrait-s-256"), global_context=24)  # what portrait-sgc-256 is
    path = tmp_path / "mislabelled.pt"
    Checkpoint(cfg, build_model(cfg).state_dict()).save(path)
    with pytest.raises(CheckpointError, match="named 'portrait-s-256' but is not the registered.*global_context 24"):
        Checkpoint.load(path)
    renamed = tmp_path / "renamed.pt"
    Checkpoint(replace(cfg, name="portrait-sgc-256"), build_model(cfg).state_dict()).save(renamed)
    assert Checkpoint.load(renamed).config == get_config("portrait-sgc-256")


def test_contract_terms_follow_the_training_sources(tmp_path: Path) -> None:
    state = build_model(TINY).state_dict()
    ours = Checkpoint(TINY, state, train_info={"sources": ["pfcn/train", "voc_person/train"]}).contract()
    assert (ours.license, ours.model_card) == (WEIGHTS_LICENSE, CARD_NAME)
    mine = Checkpoint(TINY, state, train_info={"sources": ["shop/train"]}).contract()
    assert "shop/train" in mine.license and mine.model_card == "" and mine.license != WEIGHTS_LICENSE
    unknown = Checkpoint(TINY, state).contract()
    assert "not recorded" in unknown.license and unknown.model_card == ""
