"""The epoch mix: shares per source, draws without repeats, named errors; partial-label sources;
hard examples drawn again."""
from __future__ import annotations

import numpy as np
import pytest

from portrait_mobile.data.mix import CAMPAIGN_MIX, HardDraw, SourceMix, is_partial_label, parse_mix
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


@pytest.mark.parametrize("share, whole", [(2, 2), (1.5, 1), (3.25, 3)])
def test_a_share_above_one_draws_every_sample_whole_times_and_the_rest_once(share: float, whole: int) -> None:
    mix = SourceMix({"pfcn": share})
    idx = mix.draw(SOURCES, np.random.default_rng(2))
    pfcn = np.flatnonzero(SOURCES == "pfcn/train")
    times = np.bincount(idx, minlength=len(SOURCES))
    assert times[pfcn].sum() == round(share * 10) == mix.count("pfcn/train", 10)
    assert set(times[pfcn].tolist()) <= {whole, whole + 1} and times[pfcn].min() == whole
    others = np.flatnonzero(SOURCES != "pfcn/train")
    assert (times[others] == 1).all() and len(idx) == mix.epoch_size(SOURCES)
    assert idx.tolist() != sorted(idx.tolist())  # the copies are shuffled in, not appended


def test_a_share_of_one_draws_as_it_always_did() -> None:
    """A whole source makes no random draw: runs resumed across this change see the same epochs."""
    mix = SourceMix({"vitonplus": 0.25})
    got = mix.draw(SOURCES, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    picked = [np.flatnonzero(SOURCES == "ccp_unlabeled"), np.flatnonzero(SOURCES == "pfcn/train"),
              rng.choice(np.flatnonzero(SOURCES == "vitonplus/train"), size=10, replace=False)]
    want = np.concatenate(picked)
    rng.shuffle(want)
    assert got.tolist() == want.tolist()


def test_source_name_beats_dataset_name() -> None:
    mix = SourceMix({"vitonplus": 0.5, "vitonplus/train": 0.1})
    assert mix.share("vitonplus/train") == 0.1 and mix.share("vitonplus/val") == 0.5 and mix.share("pfcn/train") == 1


@pytest.mark.parametrize("items, message", [
    (["vitonplus"], "NAME=SHARE"),
    (["vitonplus=lots"], "number"),
    (["vitonplus=0"], "(0, 4]"),
    (["vitonplus=4.5"], "(0, 4]"),
    (["vitonplus=nan"], "(0, 4]"),
    (["vitonplus=-1"], "(0, 4]"),
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


def _hardness() -> np.ndarray:
    """pfcn: one photo badly wrong, the rest nearly right; vitonplus: all equally easy; no labels on ccp_unlabeled."""
    h = np.r_[[0.02] * 9 + [0.6], [0.05] * 40, [np.nan] * 8]
    assert len(h) == len(SOURCES)
    return h


def test_hard_draw_favours_the_worst_samples_within_each_source() -> None:
    hard = HardDraw(share=0.5)
    labelled = np.isfinite(_hardness())
    # Half of each labelled source's mix draw again; the teacher-only source never.
    assert hard.counts(SOURCES, labelled, CAMPAIGN_MIX) == {"pfcn/train": 5, "vitonplus/train": 5}
    assert hard.size(SOURCES, labelled, CAMPAIGN_MIX) == 10
    picks = np.concatenate([hard.draw(SOURCES, _hardness(), CAMPAIGN_MIX, np.random.default_rng(s))
                            for s in range(200)])
    assert len(picks) == 200 * 10
    assert not np.isin(picks, np.flatnonzero(SOURCES == "ccp_unlabeled")).any()
    pfcn = picks[SOURCES[picks] == "pfcn/train"]
    # p = 0.6 / (9 x 0.02 + 0.6) = 0.77 for the bad photo, 0.026 for each of the others.
    assert 0.72 < (pfcn == 9).mean() < 0.82
    studio = np.bincount(picks[SOURCES[picks] == "vitonplus/train"] - 10, minlength=40)
    assert studio.min() > 0  # equal hardness: uniform


def test_hard_draw_off_and_degenerate_cases() -> None:
    off = HardDraw()
    assert not off.active and off.size(SOURCES, np.isfinite(_hardness()), CAMPAIGN_MIX) == 0
    assert len(off.draw(SOURCES, _hardness(), CAMPAIGN_MIX, np.random.default_rng(0))) == 0
    # A source the weights get all right is drawn uniformly rather than dividing by zero.
    perfect = np.where(np.isfinite(_hardness()), 0.0, np.nan)
    picks = HardDraw(1.0).draw(SOURCES, perfect, CAMPAIGN_MIX, np.random.default_rng(0))
    assert len(picks) == 20 and np.isin(SOURCES[picks], ["pfcn/train", "vitonplus/train"]).all()
    with pytest.raises(DatasetError, match="hardness scores"):
        HardDraw(0.5).draw(SOURCES, _hardness()[:5], CAMPAIGN_MIX, np.random.default_rng(0))


@pytest.mark.parametrize("kw, message", [({"share": -0.1}, "share"), ({"share": float("nan")}, "share"),
                                         ({"share": 5.0}, "share"), ({"every": 0}, "interval")])
def test_hard_draw_refuses_bad_settings(kw: dict, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        HardDraw(**kw)
