"""Golden values of the Python band logic (portrait_mobile/runtime/band.py) on a small hand-made frame,
written as a Kotlin source the Android demo's JVM unit test reads (BandParityTest.kt): the Kotlin
port (segmentation/EdgeBand.kt, GuidedFilter.kt, Resample.kt) must reproduce them.

    python tests/demos/band_golden.py        # rewrites the fixture after a change to band.py

tests/demos/test_demo_apps.py checks that the committed fixture is what this script gives now.

The frame is 60x45 RGB (a figure over a textured background), the coarse probability 16x16 (a soft
blob, the model's own resolution); the grid is a small one (core 8, margin 2, output at half
resolution, working frame 48 on the long side) so that every step runs: the frame shrunk by
INTER_AREA, the probability enlarged by INTER_LINEAR, the guided filter at the working frame, the grid's
offset chosen for the fewest tiles (band.fewest_tiles_offset: (4, 1) here, 14 tiles where the unshifted grid
needs 18) so that cores start above and left of the frame (negative origins), tiles whose margin reaches
past the frame, the blend of a half-resolution output handed over to the probability
around the refined region over band.FEATHER pixels (FEATHER_WEIGHT: band.feather_weight of the tiles, some
of which meet the frame's border). The refiner is a
stand-in written in both languages (STAND_IN below, `standIn` in the Kotlin test).

The accurate level's snap (band.refine_band with a `Snap`) is written for two small snaps (SNAPS) that
run all of its steps on this frame: one shrinks the photo by 2 first (k > 1: the frame averaged over 2x2
blocks, its last row dropped, the result grown back by 2 and that row repeated) with a guide itself
shrunk for the coefficients' grid; one snaps at the photo's own size (k == 1) with the coefficients on a
grid 3x coarser. Both map the tiles' cores to the photo (rects) and filter inside them only.
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
FIXTURE = (REPO / "android_demo/app/src/test/java/com/portraitmobile/demo/segmentation/BandGolden.kt")
GRID = dict(core=8, margin=2, out_stride=2, work_long_side=48)
# Fixture name -> band.Snap's fields: k = 2, radius 4 at 30x22, grid 2x coarser; k = 1, radius 6, grid 3x coarser.
SNAPS = {"SHRUNK": dict(radius=0.15, long_side=32, subsample=2), "FULL": dict(radius=0.1, long_side=64, subsample=2)}
FRAME_H, FRAME_W = 45, 60
COARSE = 16


def frame_and_coarse() -> tuple[np.ndarray, np.ndarray]:
    """The hand-made frame (RGB uint8 45x60) and coarse probability (float32 16x16, values k / 255)."""
    y, x = np.mgrid[0:FRAME_H, 0:FRAME_W]
    r = (4 * x + 37 * ((x * y) % 5)) % 256
    g = (3 * y + 50 + 29 * ((x + 2 * y) % 7)) % 256
    b = (200 - 2 * x + y + 17 * ((3 * x + y) % 4)) % 256
    img = np.stack([r, g, b], axis=-1).astype(np.int32)
    figure = ((x - 31) ** 2 / 13 ** 2 + (y - 27) ** 2 / 17 ** 2) <= 1.0
    img[figure] = (img[figure] // 3 + np.array([150, 110, 90])) % 256
    cy, cx = np.mgrid[0:COARSE, 0:COARSE]
    d = np.sqrt(((cx - 7.1) / 4.6) ** 2 + ((cy - 8.2) / 6.1) ** 2)  # near the top-left: origins < 0 (ORIGINS)
    prob = np.clip(1.6 - d, 0, 1)
    coarse = (np.rint(prob * 255) / 255).astype(np.float32)
    return img.astype(np.uint8), coarse


def stand_in(tiles: np.ndarray) -> np.ndarray:
    """The stand-in refiner: N x 12 x 12 x 4 uint8 -> N x 6 x 6 float32, from the 4th channel and red,
    each averaged over 2x2 (float32 throughout, in the order the Kotlin test computes it)."""
    t = tiles.astype(np.float32)
    n, s = len(tiles), tiles.shape[1] // 2

    def pool(c: int) -> np.ndarray:
        v = t[..., c].reshape(n, s, 2, s, 2)
        return ((v[:, :, 0, :, 0] + v[:, :, 0, :, 1]) + (v[:, :, 1, :, 0] + v[:, :, 1, :, 1])) * np.float32(1 / 1020)

    p, red = pool(3), pool(0)
    return p * p * np.float32(0.9) + red * np.float32(0.1)


def golden() -> dict[str, np.ndarray]:
    from portrait_mobile.contract import EXTRA_CHANNELS
    from portrait_mobile.runtime.band import (Snap, contour, feather_weight, fewest_tiles_offset, refine_band,
                                              refine_work, select_tiles, to_work, with_channel)
    from portrait_mobile.tile_grid import TileGrid

    grid = TileGrid(**GRID)
    img, coarse = frame_and_coarse()
    img_w, prob_w = to_work(img, coarse, grid)
    channel = with_channel(img_w, prob_w, EXTRA_CHANNELS[1])  # guided_probability
    origins = select_tiles(channel, grid)
    offset = np.array(fewest_tiles_offset(contour(channel), grid))
    refined = refine_work(img_w, channel, stand_in, grid)
    weight = feather_weight(origins, grid, channel.shape)
    snapped = {f"snapped_{name.lower()}": refine_band(img, coarse, stand_in, grid, channel=EXTRA_CHANNELS[1],
                                                      snap=Snap(**fields)).astype(np.float32)
               for name, fields in SNAPS.items()}
    return {"frame": img, "coarse": coarse, "work_rgb": img_w, "work_prob": prob_w, "channel": channel,
            "offset": offset, "origins": origins.astype(np.int32), "feather_weight": weight.astype(np.float32),
            "refined": refined.astype(np.float32), **snapped}


def _hex(a: np.ndarray) -> str:
    if a.dtype == np.float32:
        return a.astype("<f4").view("<u4").astype(">u4").tobytes().hex()  # IEEE bits, big-endian words
    return a.astype(np.uint8).tobytes().hex()


def _kotlin_string(name: str, a: np.ndarray) -> str:
    chunks = textwrap.wrap(_hex(a), 96)
    body = " +\n".join(f'{" " * (8 if i == 0 else 12)}"{c}"' for i, c in enumerate(chunks))  # ktlint's wrapping
    return f"    const val {name}: String =\n{body}\n"


def render() -> str:
    from portrait_mobile.runtime.band import OFFSET_STEPS

    g = golden()
    (h, w), (wh, ww) = g["frame"].shape[:2], g["work_prob"].shape
    origins = " ".join(str(int(v)) for v in g["origins"].reshape(-1))
    oy, ox = (int(v) for v in g["offset"])
    parts = [
        "package com.portraitmobile.demo.segmentation\n",
        "\n",
        "// Generated by tests/demos/band_golden.py from portrait_mobile/runtime/band.py: do not edit.\n",
        "// Byte arrays as hex; float32 arrays as the hex of their IEEE bits, one 8-digit word a value.\n",
        "object BandGolden {\n",
        f"    const val CORE = {GRID['core']}\n",
        f"    const val MARGIN = {GRID['margin']}\n",
        f"    const val OUT_STRIDE = {GRID['out_stride']}\n",
        f"    const val WORK_LONG_SIDE = {GRID['work_long_side']}\n",
        f"    const val FRAME_WIDTH = {w}\n",
        f"    const val FRAME_HEIGHT = {h}\n",
        f"    const val COARSE_SIZE = {COARSE}\n",
        f"    const val WORK_WIDTH = {ww}\n",
        f"    const val WORK_HEIGHT = {wh}\n",
        "\n",
        f"    const val OFFSET_STEPS = {OFFSET_STEPS}\n",
        "\n",
        "    /** band.fewest_tiles_offset of the channel's contour: the grid starts at -(OFFSET_Y, OFFSET_X). */\n",
        f"    const val OFFSET_Y = {oy}\n",
        f"    const val OFFSET_X = {ox}\n",
        "\n",
        "    /** Core origins y, x of the selected tiles, row-major, space-separated (some negative). */\n",
        f'    const val ORIGINS = "{origins}"\n',
        "\n",
        "    /** band.Snap's of the SNAPPED_ values: band.refine_band's output at the frame's size. */\n",
    ]
    for name, f in SNAPS.items():
        parts.append(f"    val SNAP_{name} = Snap(radius = {f['radius']}, longSide = {f['long_side']}, "
                     f"subsample = {f['subsample']})\n")
    parts.append("\n")
    snapped = [(f"SNAPPED_{name}", f"snapped_{name.lower()}") for name in SNAPS]
    for name, key in [("FRAME_RGB", "frame"), ("COARSE", "coarse"), ("WORK_RGB", "work_rgb"),
                      ("WORK_PROB", "work_prob"), ("CHANNEL", "channel"), ("FEATHER_WEIGHT", "feather_weight"),
                      ("REFINED", "refined"), *snapped]:
        parts += [_kotlin_string(name, g[key]), "\n"]
    parts[-1] = "}\n"
    return "".join(parts)


def main() -> int:
    FIXTURE.write_text(render())
    print(FIXTURE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
