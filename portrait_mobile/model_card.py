"""The model card's identity and the licence terms it states: one home for both.

Read by the contract (its `license` and card pointer), the exporters (ONNX/TFLite/Core ML metadata,
the card copied next to the artifacts), docs/results/render_model_card.py (which writes the card) and
the tests, so the metadata, Xcode's licence field and the card can never say different things.

The terms below are what each source's publishers state; the weights cannot be licensed more
widely than the data they were trained on allows, so the statement for the weights is the narrowest
one that every source supports (research and evaluation), not the code's Apache-2.0.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

CODE_LICENSE = "Apache-2.0"  # SPDX id of LICENSE (the code); pyproject declares the same
CARD_NAME = "MODEL_CARD.md"
# The card's edition: bump it when its statements (licence, intended use, sections) change; figures
# re-rendered from new recorded runs do not change it (the card names the model version it measures).
CARD_VERSION = "2"

# What every exported artifact's metadata (ONNX metadata_props, TFLite contract, Core ML `license`
# that Xcode shows, sidecar JSON) and the card say about the shipped weights. URL-free on purpose.
WEIGHTS_LICENSE = (
    f"Weights: research and evaluation use only (trained on PFCN, PicsArt AI Hackathon 2018, Pascal VOC 2012, "
    f"Clothing Co-Parsing and VITON photos, released for research and competition use without a licence for "
    f"other use); "
    f"code: {CODE_LICENSE}; see {CARD_NAME} version {CARD_VERSION}"
)


@dataclass(frozen=True)
class DataSource:
    """One set the shipped weights learned from, and the terms its publishers state."""

    name: str  # as train_info["sources"] names it (folder/split)
    title: str
    provenance: str
    terms: str  # the publishers' own terms, paraphrased or quoted; nothing added
    use: str  # what training used it for


TRAINING_SOURCES: tuple[DataSource, ...] = (
    DataSource(
        name="pfcn/train",
        title="PFCN portraits (Shen et al., \"Automatic Portrait Segmentation for Image Stylization\", "
              "Eurographics 2016)",
        provenance="head-and-shoulder portraits the authors collected from Flickr, with their masks",
        terms="published by the authors with their paper as research data; we found no licence published "
              "with it; each photo stays its Flickr owner's",
        use="labelled training pairs (the authors' test list is the benchmark, never trained on)",
    ),
    DataSource(
        name="picsart/train",
        title="PicsArt AI Hackathon 2018 (online stage) person segmentation set",
        provenance="phone selfies and portraits with person masks, handed to hackathon participants",
        terms="distributed to the competition's participants; we found no licence published with it",
        use="labelled training pairs",
    ),
    DataSource(
        name="voc_person/train",
        title="Pascal VOC 2012 (Everingham et al.), the segmentation images with people",
        provenance="Flickr photos of everyday scenes: full bodies, groups, small and partly hidden people",
        terms="VOC states that its images come from Flickr and that their use must respect Flickr's "
              "terms of use; no licence beyond that is granted",
        use="labelled training pairs",
    ),
    DataSource(
        name="picsart_unlabeled",
        title="PicsArt AI Hackathon 2018 test images (no masks)",
        provenance="more selfies of the same kind, without labels",
        terms="as the PicsArt set above",
        use="unlabelled images with MediaPipe's maps as soft targets (distillation)",
    ),
    DataSource(
        name="ccp/train",
        title="Clothing Co-Parsing (Yang, Luo & Lin, \"Clothing Co-Parsing by Joint Image Segmentation and "
              "Labeling\", CVPR 2014)",
        provenance="street-fashion photos from the web, one standing person head to toe; its clothing labels "
                   "merged into one person mask (only the main subject is labelled)",
        terms="published with Apache-2.0 code; the photos come from the web with no licence granted for them; "
              "for research, citing the paper",
        use="labelled training pairs (people the label leaves out taken from the teacher, not taught as "
            "background)",
    ),
    DataSource(
        name="ccp_unlabeled",
        title="Clothing Co-Parsing, its photos without pixel labels",
        provenance="more full-body street photos of the same kind",
        terms="as Clothing Co-Parsing above",
        use="unlabelled images with MediaPipe's maps as soft targets (distillation)",
    ),
    DataSource(
        name="vitonplus/train",
        title="VITON try-on photos (Han et al., CVPR 2018) with CP-VTON+'s person masks (Minar et al., "
              "CVPR 2020 workshops), a fixed 4,000 of them",
        provenance="shop photos of women's tops: one standing woman, head to thighs, plain studio background",
        terms="collected from a shop by the VITON authors for research; no licence granted to anyone else",
        use="labelled training pairs, a minority of each epoch (one narrow studio domain)",
    ),
)

TEACHER = DataSource(
    name="mediapipe",
    title="MediaPipe Selfie Segmentation (general, 256x256), Google, from the mediapipe 0.10.21 wheel",
    provenance="its person probability maps on the training images, used as soft targets",
    terms="Apache License 2.0, Copyright Google LLC",
    use="teacher (distillation), and the side-by-side reference in every evaluation",
)


CARD_SOURCES = frozenset(s.name for s in TRAINING_SOURCES)


@dataclass(frozen=True)
class WeightsTerms:
    """What an artifact's metadata says about its weights: a licence statement and the card it names."""

    license: str
    model_card: str  # "" where our card does not describe the data the weights learned from
    model_card_version: str


def weights_terms(sources: Iterable[str] | None) -> WeightsTerms:
    """The statement for weights trained on `sources` (a checkpoint's train_info["sources"]).

    Only the card's sources: the card's statement and pointer (their terms bind the weights). Any
    other set, or none recorded: weights someone trained on their own data, whose terms this
    toolchain cannot know; the statement names the sources and no card is pointed to.
    """
    names = sorted({str(s) for s in sources or ()})
    if names and set(names) <= CARD_SOURCES:
        return WeightsTerms(WEIGHTS_LICENSE, CARD_NAME, CARD_VERSION)
    trained_on = f"trained on {', '.join(names)}" if names else "training data not recorded in the checkpoint"
    return WeightsTerms(f"Weights: {trained_on}; their terms are those of that data, set by whoever trained "
                        f"them (not portrait-mobile's model card); code: {CODE_LICENSE}", "", "")


def packaged_card() -> Path:
    """The card inside the installed package (package data), identical to the repository's MODEL_CARD.md."""
    return Path(__file__).resolve().parent / CARD_NAME
