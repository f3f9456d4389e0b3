"""The epoch mix: shares per source, draws without repeats, named errors; partial-label sources."""
from __future__ import annotations

import numpy as np
import pytest

from portrait_mobile.data.mix import CAMPAIGN_MIX, SourceMix, is_partial_label, parse_mix
from portrait_mobile.errors import DatasetError

SOURCES = np.array(["pfcn/train"] * 10 + ["vitonplus/train"] * 40 + ["ccp_unlabeled"] * 8)


def test_draw_takes_each_source_by_its_share_without_repeats() -> None:
    mix = SourceMix({"vitonplus": 0.25, "ccp_unlabeled": 0.5})
    idx = mix.draw(SOURCES, np.random.default_rng(0))
    assert len(idx) == len(set(idx.tolist())) == mix.epoch_size(SOURCES) == 10 + 10 + 4
    picked = SOURCES[idx]
    assert (picked == "pfcn/train").sum() == 10 and (picked == "vitonplus/train").sum() == 10
    # A fresh draw each epoch: over epochs the whole studio set is seen.
    seen = set()
    for epoch in range(40):
        seen |= set(mix.draw(SOURCES, np.random.default_rng(epoch)).tolist())
    assert seen >= set(np.flatnonzero(SOURCES == "vitonplus/train").tolist())


def test_an_empty_mix_is_every_sample_once_shuffled() -> None:
    idx = SourceMix().draw(SOURCES, np.random.default_rng(1))
    assert sorted(idx.tolist()) == list(range(len(SOURCES))) and idx.tolist() != sorted(idx.tolist())


def test_source_name_beats_dataset_name() -> None:
    mix = SourceMix({"vitonplus": 0.5, "vitonplus/train": 0.1})
    assert mix.share("vitonplus/train") == 0.1 and mix.share("vitonplus/val") == 0.5 and mix.share("pfcn/train") == 1


@pytest.mark.parametrize("items, message", [
    (["vitonplus"], "NAME=SHARE"),
    (["vitonplus=lots"], "number"),
    (["vitonplus=0"], "(0, 1]"),
    (["vitonplus=1.5"], "(0, 1]"),
    (["vitonplus=nan"], "(0, 1]"),
])
def test_parse_mix_names_the_problem(items: list[str], message: str) -> None:
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace("]", r"\]")):
        parse_mix(items)


def test_a_mix_naming_no_source_of_the_cache_is_refused() -> None:
    with pytest.raises(DatasetError, match="vitonplu"):
        parse_mix(["vitonplu=0.2"]).check_sources(sorted(set(SOURCES.tolist())))
    CAMPAIGN_MIX.check_sources(sorted(set(SOURCES.tolist())))


def test_partial_label_sources() -> None:
    assert is_partial_label("ccp/train") and not is_partial_label("ccp_unlabeled")
    assert not is_partial_label("pfcn/train")
