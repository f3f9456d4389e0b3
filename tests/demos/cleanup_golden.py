"""Golden values of the Python runtime's cleanup of the coarse mask (portrait_mobile/runtime/postprocess.py
`clean_regions`) on small hand-made masks, written as a Kotlin source the Android demo's JVM unit test reads
(MaskCleanupTest.kt): the Kotlin port (segmentation/MaskCleanup.kt) must reproduce them bit for bit.

    python tests/demos/cleanup_golden.py     # rewrites the fixture after a change to clean_regions

tests/demos/test_demo_apps.py checks that the committed fixture is what this script gives now.

The masks are 64x48 soft masks (values k / 255 as float32): a person with a soft edge about a pixel wide
and a textured inside, plus what each case is about. A case is a mask, the RegionCleanup it runs with (the
runtime's default unless said) and a halo (the default unless said); the fixture holds the mask and the
pixels clean_regions sets to 0 (a small detached region with its soft edge) and to 1 (a small enclosed hole
with its soft ring): every other pixel keeps its value. What each case must show (something zeroed,
something filled, both or nothing) is checked here too, so a fixture cannot quietly stop testing it.

The soft edges are claimed by chamfer distances (`cv2.distanceTransform(..., DIST_L2, 3)`). OpenCV has two
implementations of it: its portable one (distransform.cpp, in fixed point: what builds without Intel IPP,
such as ARM's, run, and what the Kotlin port is) and, on the x86 wheels, IPP's (float sums, which differ in
the last bits, so a pixel exactly as near the region as its rival may fall either way). Every case is run
with both and must come out the same, so the fixture is the runtime's output on any build; DISTANCE is the
portable transform itself, value for value.
"""
from __future__ import annotations

import math
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "android_demo/app/src/test/java/com/portraitmobile/demo/segmentation/CleanupGolden.kt"
H, W = 48, 64  # the masks' size: default halo round(0.02 * 80) = 2
# (height, width) whose default halo the fixture states: the masks', the tiny export's output, the shipped
# model's, a 16:9 one, 75 x 100 (hypot 125, 2.5: rounded half to even as Python's round does) and the least.
HALO_SIZES = [(H, W), (64, 96), (256, 256), (144, 256), (75, 100), (1, 1)]


class Case(NamedTuple):
    name: str
    doc: str
    mask: str  # a key of masks()
    min_region: float | None = None  # None: DEFAULT_CLEANUP's
    max_hole: float | None = None
    halo: int | None = None  # None: the default, 2% of the diagonal
    expect: str = "unchanged"  # "zeroed", "filled" or "both": what clean_regions must do to it


def cases() -> list[Case]:
    """The cases, in the fixture's order."""
    return [
        Case("BLOB", "a small detached blob far from the person: set to 0 with its soft edge", "blob",
             expect="zeroed"),
        Case("BLOB_KEPT", "the same blob with min_region 0: every region kept", "blob", min_region=0.0),
        Case("NEAR_BLOB", "a small blob with a wide soft edge that meets the person's: the edge pixels within the "
             "halo and nearer the blob go; those nearer the person, or as near, stay", "near_blob", expect="zeroed"),
        Case("WIDE_HALO", "the near blob with a halo of 4: more of its soft edge goes", "near_blob", halo=4,
             expect="zeroed"),
        Case("SECOND_PERSON", "a second region about a fifth of the person's area, above the 0.1 fraction: kept",
             "second_person"),
        Case("HOLE", "a one-pixel hole inside the person, with its soft ring: set to 1 with the ring", "hole",
             expect="filled"),
        Case("HOLE_ACCURATE", "the same hole with quality accurate's cleanup (max_hole 0): left to the refiner",
             "hole", max_hole=0.0),
        Case("SIDE_NOTCH", "a one-pixel gap on the frame's bottom side: background that leaves the frame, not a "
             "hole: kept", "side_notch"),
        Case("GAP", "an enclosed gap of 4 pixels, above 0.002 x the person's area (a real gap): kept", "gap"),
        Case("CRACK", "a diagonal crack from inside the person to its edge: its pixels touch by a corner only, "
             "which the 8-connected person holds, so each is a 4-connected hole of its own and filled; the last "
             "touches the outside by a side and stays", "crack", min_region=0.0, expect="filled"),
        Case("BOTH", "a small blob and a one-pixel hole: the blob goes, the hole (measured against the person "
             "left) is filled", "both", expect="both"),
        Case("AFTER_REMOVAL", "a small blob and a 2-pixel hole, max_hole between 2 / the person's area with the "
             "blob and 2 / it without: the blob goes and the hole stays, measured against the person left",
             "both_wider_hole", max_hole=_between(), expect="zeroed"),
        Case("CLEAN", "one person, no blob, no hole: unchanged", "clean"),
    ]


def _q(p: np.ndarray) -> np.ndarray:
    """float32 k / 255, k = round(255 p): the values uint8 hex carries exactly (k / 255f in Kotlin)."""
    k = np.rint(np.clip(p, 0, 1) * 255).astype(np.uint8)
    return k.astype(np.float32) / np.float32(255)


def _blob(cy: float, cx: float, ry: float, rx: float, slope: float = 0.45) -> np.ndarray:
    """A soft ellipse: 0.5 on its rim, rising to 1 inside and falling to 0 outside by about `slope` a pixel."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    d = np.sqrt(((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2)
    return np.clip(0.5 + slope * (1 - d) * math.sqrt(ry * rx), 0, 1)


def masks() -> dict[str, np.ndarray]:
    """The hand-made masks, float32 H x W, values k / 255."""
    y, x = np.mgrid[0:H, 0:W]
    texture = 0.86 + 0.14 * ((3 * x + 5 * y) % 7) / 6  # so a filled ring shows
    person = np.minimum(_blob(24.0, 22.0, 18.5, 14.5), texture)  # about 850 pixels at 0.5, left of centre
    hole = person.copy()
    hole[23:26, 22] = 0.6  # the hole's soft ring, then the hole
    hole[24, 21:24] = 0.6
    hole[24, 22] = 0.1
    notch = person.copy()
    notch[24:, 12:33] = np.maximum(notch[24:, 12:33], person[24:25, 12:33])  # the person reaches the bottom side
    notch[H - 1, 22], notch[H - 2, 22] = 0.0, 0.6  # a single background pixel: were it enclosed, a hole
    wider = person.copy()
    wider[24, 22:24] = 0.0  # a hole of 2 pixels
    gap = person.copy()
    gap[22:24, 20:22] = 0.0
    crack = person.copy()
    k = 0
    while crack[28 - k, 24 - k] >= 0.5:  # up and left until the person's soft edge
        crack[28 - k, 24 - k] = 0.0
        k += 1
    m = {
        "blob": np.maximum(person, _blob(7.0, 53.0, 2.2, 2.6)),
        "near_blob": np.maximum(person, _blob(24.0, 41.5, 2.4, 2.2, slope=0.2)),
        "second_person": np.maximum(person, _blob(30.0, 52.0, 10.0, 6.0)),
        "hole": hole,
        "side_notch": notch,
        "gap": gap,
        "crack": crack,
        "both": np.maximum(hole, _blob(40.0, 55.0, 2.0, 2.0)),
        "both_wider_hole": np.maximum(wider, _blob(40.0, 55.0, 2.0, 2.0)),
        "clean": person,
    }
    return {name: _q(p) for name, p in m.items()}


@contextmanager
def _ipp(on: bool) -> Iterator[None]:
    import cv2

    was = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(on)  # where the build has no IPP, it stays off
    try:
        yield
    finally:
        cv2.ipp.setUseIPP(was)


def _between() -> float:
    """AFTER_REMOVAL's max_hole: halfway between 2 / the person's area with the blob at 0.5 and 2 / it
    without, so the 2-pixel hole is filled only if the person is measured before the blob goes."""
    fg = masks()["both_wider_hole"] >= np.float32(0.5)
    with_blob, without = int(np.count_nonzero(fg)), int(np.count_nonzero(fg[:, :40]))
    assert with_blob > without
    return round((2 / with_blob + 2 / without) / 2, 6)


def cleanup_of(case: Case):
    from portrait_mobile.runtime.postprocess import DEFAULT_CLEANUP, RegionCleanup

    return RegionCleanup(min_region=DEFAULT_CLEANUP.min_region if case.min_region is None else case.min_region,
                         max_hole=DEFAULT_CLEANUP.max_hole if case.max_hole is None else case.max_hole)


def clean(case: Case, prob: np.ndarray) -> np.ndarray:
    """clean_regions on the case with OpenCV's portable distance transform; with IPP's too where the build has
    it, which must give the same."""
    from portrait_mobile.runtime.postprocess import clean_regions

    with _ipp(False):
        portable = clean_regions(prob, cleanup_of(case), halo=case.halo)
    with _ipp(True):
        ipp = clean_regions(prob, cleanup_of(case), halo=case.halo)
    assert np.array_equal(portable.view(np.uint32), ipp.view(np.uint32)), \
        f"{case.name}: IPP's distance transform and OpenCV's portable one disagree on this mask: change it"
    return portable


def at_threshold() -> tuple[np.ndarray, np.ndarray]:
    """A 12x10 float32 mask whose small blob is exactly 0.5 (person: prob >= threshold), and clean_regions' output
    (the blob gone, with its soft edge of 0.25)."""
    prob = np.zeros((10, 12), np.float32)
    prob[1:9, 1:7] = 1.0  # 48 pixels
    prob[2:4, 8:12] = 0.25
    prob[2:4, 9:11] = 0.5  # 4 pixels, under 0.1 x 48
    out = clean(Case("AT_THRESHOLD", "", ""), prob)
    assert out[2:4, 9:11].max() == 0 and out[2:4, 8:12].max() == 0
    return prob, out


def distance_golden() -> tuple[np.ndarray, np.ndarray]:
    """The near blob's mask at 0.5 (bool), and OpenCV's portable chamfer distance of every pixel to its nearest
    pixel at 0.5: `cv2.distanceTransform(~fg, DIST_L2, 3)`, IPP off."""
    import cv2

    fg = masks()["near_blob"] >= np.float32(0.5)
    with _ipp(False):
        return fg, cv2.distanceTransform((~fg).view(np.uint8), cv2.DIST_L2, 3)


def no_zero_distance() -> np.float32:
    """What the portable transform gives every pixel of an image with no zero pixel (a claim with no rival)."""
    import cv2

    with _ipp(False):
        return cv2.distanceTransform(np.ones((2, 3), np.uint8), cv2.DIST_L2, 3)[0, 0]


def golden() -> list[tuple[Case, np.ndarray, np.ndarray]]:
    """(case, the pixels set to 0, the pixels set to 1) for every case, checked against what it must show."""
    m = masks()
    rows = []
    for case in cases():
        prob = m[case.mask]
        out = clean(case, prob)
        changed = out.view(np.uint32) != prob.view(np.uint32)
        zeroed, filled = np.flatnonzero(changed & (out == 0)), np.flatnonzero(changed & (out == 1))
        assert len(zeroed) + len(filled) == np.count_nonzero(changed), f"{case.name}: a value other than 0 or 1"
        shows = {(False, False): "unchanged", (True, False): "zeroed", (False, True): "filled",
                 (True, True): "both"}[(len(zeroed) > 0, len(filled) > 0)]
        assert shows == case.expect, f"{case.name}: expected {case.expect}, clean_regions gives {shows}"
        rows.append((case, zeroed, filled))
    return rows


def _hex(a: np.ndarray) -> str:
    if a.dtype == np.float32:
        return a.astype("<f4").view("<u4").astype(">u4").tobytes().hex()  # IEEE bits, big-endian words
    return a.astype(np.uint8).tobytes().hex()


def _wrapped(text: str, indent: int) -> str:
    """A Kotlin string literal of `text`, a long one in " +"-joined pieces of at most 96 characters, ktlint's
    wrapping: hex cut anywhere, a list of numbers after a space."""
    chunks = [""]
    if " " in text:  # whole numbers to a piece, each but the last ending in its space
        for token in text.split(" "):
            if len(chunks[-1]) + len(token) > 95:
                chunks.append("")
            chunks[-1] += token + " "
        chunks[-1] = chunks[-1][:-1]
    elif text:
        chunks = [text[i:i + 96] for i in range(0, len(text), 96)]
    return " +\n".join(f'{" " * (indent if i == 0 else indent + 4)}"{c}"' for i, c in enumerate(chunks))


def _const(name: str, text: str) -> str:
    return f"    const val {name}: String =\n{_wrapped(text, 8)}\n"


def _kdoc(text: str, indent: int = 4) -> str:
    pad = " " * indent
    lines = textwrap.wrap(text, 116 - indent)
    if len(lines) == 1:
        return f"{pad}/** {lines[0]} */\n"
    return f"{pad}/**\n" + "".join(f"{pad} * {line}\n" for line in lines) + f"{pad} */\n"


def _ints(a: np.ndarray) -> str:
    return " ".join(str(int(v)) for v in a)


def render() -> str:
    from portrait_mobile.runtime.postprocess import DEFAULT_CLEANUP, _default_halo

    accurate = DEFAULT_CLEANUP.for_level("accurate")
    fg, dist = distance_golden()
    halos = "; ".join(f"{h} {w} {_default_halo((h, w))}" for h, w in HALO_SIZES)
    parts = [
        "package com.portraitmobile.demo.segmentation\n",
        "\n",
        "// Generated by tests/demos/cleanup_golden.py from portrait_mobile/runtime/postprocess.py clean_regions:\n",
        "// do not edit. Masks as uint8 hex (value k / 255f); float32 arrays as the hex of their IEEE bits.\n",
        "object CleanupGolden {\n",
        "    /** postprocess.DEFAULT_CLEANUP, and what quality accurate runs (its for_level(\"accurate\")). */\n",
        f"    val DEFAULT = RegionCleanup(minRegion = {DEFAULT_CLEANUP.min_region!r}, "
        f"maxHole = {DEFAULT_CLEANUP.max_hole!r})\n",
        f"    val ACCURATE = RegionCleanup(minRegion = {accurate.min_region!r}, maxHole = {accurate.max_hole!r})\n",
        "\n",
        "    /** postprocess._default_halo: \"height width halo\" triples, separated by \"; \". */\n",
        f'    const val HALOS = "{halos}"\n',
        "\n",
        f"    const val WIDTH = {W}\n",
        f"    const val HEIGHT = {H}\n",
        "\n",
        "    /**\n",
        "     * A case: its mask (WIDTH x HEIGHT, uint8 hex), the cleanup and halo (null: the default) it runs with,\n",
        "     * and the pixels (row-major indices, space-separated) clean_regions sets to 0 and to 1: no other\n",
        "     * changes.\n",
        "     */\n",
        "    class Case(\n",
        "        val name: String,\n",
        "        val mask: String,\n",
        "        val cleanup: RegionCleanup,\n",
        "        val halo: Int?,\n",
        "        val zeroed: String,\n",
        "        val filled: String,\n",
        "    )\n",
        "\n",
    ]
    for case, zeroed, filled in golden():
        c = cleanup_of(case)
        parts += [
            _kdoc(case.doc[0].upper() + case.doc[1:] + "."),
            f"    val {case.name} = Case(\n",
            f'        "{case.name}",\n',
            f"        MASK_{case.mask.upper()},\n",
            f"        RegionCleanup(minRegion = {c.min_region!r}, maxHole = {c.max_hole!r}),\n",
            f"        {'null' if case.halo is None else case.halo},\n",
            _wrapped(_ints(zeroed), 8) + ",\n",
            _wrapped(_ints(filled), 8) + ",\n",
            "    )\n",
            "\n",
        ]
    parts += ["    val CASES = listOf(\n", *(f"        {c.name},\n" for c in cases()), "    )\n", "\n"]
    for name, prob in masks().items():
        k = np.rint(prob * 255).astype(np.uint8)
        assert np.array_equal(k.astype(np.float32) / np.float32(255), prob), f"{name}: not k / 255"
        parts += [_const(f"MASK_{name.upper()}", _hex(k)), "\n"]
    prob, out = at_threshold()
    parts += [
        "    /** A small blob of exactly 0.5 (a person region: prob >= 0.5), float32, and clean_regions' output. */\n",
        f"    const val AT_THRESHOLD_WIDTH = {prob.shape[1]}\n",
        f"    const val AT_THRESHOLD_HEIGHT = {prob.shape[0]}\n",
        _const("AT_THRESHOLD_MASK", _hex(prob)),
        _const("AT_THRESHOLD_OUT", _hex(out)), "\n",
    ]
    parts += [
        "    /** The near blob's mask at 0.5 (uint8 1 / 0), and OpenCV's portable chamfer distance to it. */\n",
        _const("DISTANCE_FG", _hex(fg.astype(np.uint8))), "\n",
        _const("DISTANCE", _hex(dist.astype(np.float32))), "\n",
        "    /** The portable transform's distance on an image with no zero pixel (a claim with no rival). */\n",
        f'    const val NO_ZERO_DISTANCE = "{_hex(np.array([no_zero_distance()], np.float32))}"\n',
        "}\n",
    ]
    return "".join(parts)


def main() -> int:
    FIXTURE.write_text(render())
    print(FIXTURE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
