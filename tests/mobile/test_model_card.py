"""The model card, the licence files and the artifacts' licence fields say the same thing.

- LICENSE is the Apache-2.0 text pyproject declares for the code.
- Every contract (hence every artifact's metadata, Core ML's `license` included) carries the card's
  licence statement and names the card and its version.
- MODEL_CARD.md (and its copy in the package) is exactly what the recorded runs render: a figure in
  the card is the recorded JSON's, and changes with it.
"""
from __future__ import annotations

import copy
import json
import re
import sys
import tomllib
from types import SimpleNamespace

import pytest

from portrait_mobile.contract import ModelContract
from portrait_mobile.contract_io import sidecar_path
from portrait_mobile.paths import DEFAULT_INT8, DEFAULT_WEIGHTS
from support import REPO
from portrait_mobile.model_card import (CARD_NAME, CARD_VERSION, CODE_LICENSE, TEACHER, TRAINING_SOURCES,
                                        WEIGHTS_LICENSE, packaged_card)

sys.path.insert(0, str(REPO / "docs" / "results"))
import render_model_card as rmc  # noqa: E402

CARD = REPO / CARD_NAME


def card_text() -> str:
    return CARD.read_text()


def card_field(text: str, name: str) -> str:
    """A value of the card's header table (`| name | value |`)."""
    m = re.search(rf"^\| {re.escape(name)} \| (.+) \|$", text, re.M)
    assert m, f"the card has no '{name}' row"
    return m.group(1)


def contract() -> ModelContract:
    return ModelContract(model_name="m", version="1.0+abc", input_height=32, input_width=32)


# --- licences -----------------------------------------------------------------------------------------

def test_license_file_is_the_declared_code_licence():
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert CODE_LICENSE == "Apache-2.0" == project["license"]  # an SPDX expression (PEP 639)


def test_weights_licence_is_not_the_code_licence_and_names_every_source():
    assert WEIGHTS_LICENSE != CODE_LICENSE and "research" in WEIGHTS_LICENSE
    assert CARD_NAME in WEIGHTS_LICENSE and f"version {CARD_VERSION}" in WEIGHTS_LICENSE
    assert "http" not in WEIGHTS_LICENSE  # URL-free: apps may be offline
    for words in ("PFCN", "PicsArt", "Pascal VOC"):
        assert words in WEIGHTS_LICENSE


def test_every_training_source_of_the_shipped_weights_has_stated_terms():
    """Retraining on a new set must add that set's terms to the card before it can ship."""
    info = json.loads(DEFAULT_WEIGHTS.with_suffix(".json").read_text())
    stated = {s.name for s in TRAINING_SOURCES}
    assert set(info["train_info"]["sources"]) <= stated
    assert all(s.terms for s in (*TRAINING_SOURCES, TEACHER))


# --- contract and metadata ----------------------------------------------------------------------------

def test_contract_carries_licence_and_card_pointer_and_round_trips():
    c = contract()
    assert (c.license, c.model_card, c.model_card_version) == (WEIGHTS_LICENSE, CARD_NAME, CARD_VERSION)
    back = ModelContract.from_json(c.to_json())
    assert back == c and back.model_card_version == CARD_VERSION


def test_metadata_licence_and_card_version_match_the_card():
    from portrait_export.metadata import embed_coreml, readable_props

    text = card_text()
    card_licence = card_field(text, "weights licence")
    card_version = re.search(r"card version \*\*([^*]+)\*\*", card_field(text, "card")).group(1)
    props = readable_props(contract())
    assert props["license"] == card_licence == WEIGHTS_LICENSE
    assert props["model_card"] == CARD_NAME and props["model_card_version"] == card_version == CARD_VERSION
    # Core ML: the `license` Xcode shows is the same statement; the pointer is in user_defined_metadata.
    ml = SimpleNamespace(input_description={}, output_description={}, user_defined_metadata={})
    embed_coreml(ml, contract())
    assert ml.license == card_licence
    assert ml.user_defined_metadata["model_card_version"] == card_version
    assert json.loads(ml.user_defined_metadata["portrait_mobile_contract"])["license"] == card_licence


def test_packaged_artifact_carries_the_cards_licence():
    doc = json.loads(sidecar_path(DEFAULT_INT8).read_text())
    if "model_card" not in doc:
        pytest.skip("the packaged int8 model was exported before the card pointer existed; "
                    "docs/results/refresh.sh re-exports it")
    assert doc["license"] == card_field(card_text(), "weights licence")
    assert (doc["model_card"], doc["model_card_version"]) == (CARD_NAME, CARD_VERSION)


def test_export_copies_the_packaged_card(tmp_path):
    from portrait_export.metadata import copy_model_card

    dest = copy_model_card(tmp_path)
    assert dest == tmp_path / CARD_NAME and dest.read_bytes() == packaged_card().read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# --- the card is rendered from recorded runs ---------------------------------------------------------

def test_card_and_packaged_copy_are_what_the_recorded_runs_render():
    text = rmc.render(rmc.load_inputs())
    assert card_text() == text, "MODEL_CARD.md is stale: run python docs/results/render_model_card.py"
    assert packaged_card().read_text() == text


def _table_row(text: str, first_cell: str, section: str = "## Evaluation") -> list[str]:
    """The cells of the first table row starting with `first_cell` after the heading `section`."""
    for line in text[text.index(section):].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row starting with {first_cell!r}")


def test_card_figures_equal_the_recorded_json():
    inp = rmc.load_inputs()
    text = card_text()
    for r in inp.evals["results"] + inp.refined["results"]:
        row = _table_row(text, f"`{r['model']}`")
        assert row[2:5] == [f"{r['fg_iou']:.2f}", f"{r['miou']:.2f}", f"{r['boundary_iou']:.2f}"], r["model"]
    for f in inp.card_eval["framings"]:
        row = _table_row(text, f"{f['framing']} ({f['n_images']})")
        o, p = f["results"]["ours"], f["results"]["mediapipe"]
        assert row[1:3] == [f"{o['fg_iou']:.2f}", f"{p['fg_iou']:.2f}"]
    for c in inp.card_eval["carves"]:
        row = _table_row(text, f"`{c['source']}`", "### Per source")
        assert row[2:4] == [f"{c['results']['ours']['fg_iou']:.2f}", f"{c['results']['mediapipe']['fg_iou']:.2f}"]
    for h in inp.heldout["rows"]:
        row = _table_row(text, f"{h['set']} ({h['n_images']})")
        assert row[1:3] == [f"{h['ours']:.1f}", f"{h['mediapipe']:.1f}"]
    assert f"model version **{inp.packaged['version']}**" in text


def test_a_changed_recorded_run_changes_the_card():
    inp = rmc.load_inputs()
    evals = copy.deepcopy(inp.evals)
    mp = next(r for r in evals["results"] if r["model"].startswith("mediapipe"))
    mp["fg_iou"] = 12.345
    card_eval = copy.deepcopy(inp.card_eval)
    card_eval["carves"][0]["results"]["ours"]["fg_iou"] = 1.234
    text = rmc.render(rmc.Inputs(**{**vars(inp), "evals": evals, "card_eval": card_eval}))
    assert _table_row(text, f"`{mp['model']}`")[2] == "12.35"
    assert _table_row(text, f"`{card_eval['carves'][0]['source']}`", "### Per source")[2] == "1.23"
    assert text != card_text()


def test_card_pictures_exist_and_were_drawn_by_the_cli():
    pics = rmc.load_inputs().pictures["pictures"]
    assert pics
    for p in pics:
        for key in ("photo", "mask", "truth"):
            assert (REPO / p[key]).is_file(), p[key]
        assert p["command"].startswith("portrait-segment ") and p["photo"] in p["command"]


def test_heldout_quote_names_its_model_version():
    """Figures only the issue's author can measure are marked as such when the model changes."""
    inp = rmc.load_inputs()
    other = rmc.Inputs(**{**vars(inp), "heldout": {**inp.heldout, "model_version": "0.0.0+old"}})
    assert "earlier model version `0.0.0+old`" in rmc.render(other)
