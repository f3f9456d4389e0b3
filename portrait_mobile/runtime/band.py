"""The band logic of the learned refinement ("accurate" quality), torch-free: which tiles of the photo
the refiner runs on, what each tile's input is, and how its output is blended back.

The photo is brought to the working resolution (its long side to `work_long_side`, never enlarged)
and the coarse model's probability is upsampled to it. The working frame is cut into a grid of
`core` x `core` tiles, shifted per photo so that as few tiles as possible cover the contour; a tile is
refined only when the coarse mask's 0.5 contour crosses it, so a photo costs its contour's length, not
its area. The refiner reads each selected tile with `margin`
pixels of context on every side (RGB + coarse probability, 4 channels, uint8) and returns the tile's
probability at 1/`out_stride`; the core of that output replaces the coarse probability there. Pixels
of unselected tiles keep the coarse probability: a mask with no contour in a tile is left as it is.
The accurate level then snaps the refined tiles to the photo's own edges at its full resolution (the
balanced level's guided filter, run inside those tiles only).

Training (`portrait_mobile.refine.dataset`) builds its crops with these same functions, so what
the refiner learns on is what the runtime feeds it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from ..contract import EXTRA_CHANNELS
from ..errors import ImageError, ModelLoadError
from ..tile_grid import TileGrid
from .image_input import check_rgb_uint8
from .postprocess import check_prob, refine_edges, refine_edges_in

COARSE, GUIDED = EXTRA_CHANNELS  # what a refiner's 4th channel is (its contract's extra_channels)


@dataclass(frozen=True)
class Snap:
    """How the accurate level snaps the refined tiles to the photo's own edges: the guided filter
    (postprocess.refine_edges_in) inside the tiles, at the photo's resolution divided by the least
    whole factor that brings it to at most `long_side` (`shrink_by`), with a radius of `radius` x
    that long side and its coefficients on a grid radius/`subsample` coarser. The radius was chosen on the carves (docs/refine.md: 1% beat the
    unsnapped level's mean boundary IoU by 0.56 with no set's fg IoU down more than 0.1; 1.5% +0.57
    but ccp's fg -0.12); the cap and the coarser grid keep the level cheaper than the balanced one's
    full-frame filter at 1080p and above."""

    radius: float = 0.01
    long_side: int = 1024
    subsample: int = 2


ACCURATE_SNAP = Snap()

# Working-frame pixels over which a refined region hands over to the mask around it. Without it the
# refiner's tiles (and the snap inside them) end in a hard step at the region's edge, visible as blocks
# in a cutout where the mask is soft (docs/refine.md, session 26).
FEATHER = 4

# The grid's origin is chosen per photo among offsets of core / OFFSET_STEPS pixels, whichever covers the
# coarse contour with the fewest tiles: 10% fewer tiles than a fixed grid on the carves, the same
# contour pixels refined (docs/refine.md, session 27).
OFFSET_STEPS = 8

# N x T x T x 4 uint8 tiles -> N x t x t float32 probabilities (t = T / out_stride).
TileRunner = Callable[[np.ndarray], np.ndarray]


def work_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(h, w) of the working frame: the long side brought to `long_side`, never enlarged."""
    scale = min(1.0, long_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def to_work(image: np.ndarray, prob: np.ndarray, grid: TileGrid) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 h x w x 3, coarse probability uint8 h x w) at the working resolution.

    `prob` is the coarse model's probability at any size (its own output, or already the photo's):
    it is resized bilinearly and stored as uint8, the refiner's input encoding (scale 1/255).
    """
    check_rgb_uint8(image)
    p = check_prob(prob, name="coarse probability")
    h, w = work_size(*image.shape[:2], grid.work_long_side)
    img = image if image.shape[:2] == (h, w) else cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    if p.shape != (h, w):
        shrink = p.shape[0] > h or p.shape[1] > w
        p = cv2.resize(p, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return np.ascontiguousarray(img), to_u8(p)


def with_channel(image_u8: np.ndarray, prob_u8: np.ndarray, channel: str) -> np.ndarray:
    """The refiner's 4th channel at the working frame (uint8), from `to_work`'s two arrays: the coarse
    probability itself, or that probability through the guided filter at the working frame
    (postprocess.refine_edges with its defaults; at 512 a fraction of its cost at the photo's size).
    The tiles are then chosen on this channel's contour, and it is what unrefined tiles keep."""
    if channel == COARSE:
        return prob_u8
    if channel == GUIDED:
        return to_u8(refine_edges(image_u8, prob_u8.astype(np.float32) * np.float32(1 / 255)))
    raise ValueError(f"unknown refiner input channel {channel!r} ({', '.join(EXTRA_CHANNELS)})")


def refiner_input(image: np.ndarray, prob: np.ndarray, grid: TileGrid,
                  channel: str = COARSE) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8, 4th channel uint8) at the working frame: what the tiles are cut from."""
    img_w, prob_w = to_work(image, prob, grid)
    return img_w, with_channel(img_w, prob_w, channel)


def to_u8(prob: np.ndarray) -> np.ndarray:
    """Probability in [0, 1] -> uint8 (round(p * 255)), the tiles' encoding."""
    return np.clip(np.rint(prob * np.float32(255)), 0, 255).astype(np.uint8)


def contour(prob_u8: np.ndarray) -> np.ndarray:
    """bool h x w: pixels whose 3x3 neighbourhood holds both sides of 0.5. The photo's border is not a
    contour (a person cut by the frame is right there)."""
    fg = (prob_u8 >= 128).astype(np.uint8)
    k = np.ones((3, 3), np.uint8)
    return cv2.dilate(fg, k, borderType=cv2.BORDER_REPLICATE) != cv2.erode(fg, k, borderType=cv2.BORDER_REPLICATE)


def select_tiles(prob_u8: np.ndarray, grid: TileGrid, offset: tuple[int, int] | None = None) -> np.ndarray:
    """Core origins (y, x) of the tiles the contour crosses, int N x 2, row-major.

    The grid starts at -offset (0 <= offset < core) and covers the frame; a core may reach past the
    frame's edges. offset None (the runtime's way): the offset of `fewest_tiles_offset`, so the photo
    pays for as few tiles as cover its contour; training gives its own.
    """
    edge = contour(prob_u8)
    oy, ox = fewest_tiles_offset(edge, grid) if offset is None else offset
    c = grid.core
    if not (0 <= oy < c and 0 <= ox < c):
        raise ValueError(f"offset {offset} must be within [0, {c})")
    h, w = edge.shape
    gh, gw = -(-(h + oy) // c), -(-(w + ox) // c)
    padded = np.zeros((gh * c, gw * c), bool)
    padded[oy:oy + h, ox:ox + w] = edge
    hit = padded.reshape(gh, c, gw, c).any(axis=(1, 3))
    ys, xs = np.nonzero(hit)
    return np.stack([ys * c - oy, xs * c - ox], axis=1).astype(np.int64)


def offset_step(grid: TileGrid) -> int:
    """The step of the offsets `fewest_tiles_offset` tries: the largest divisor of the core that is at
    most core / OFFSET_STEPS (5 for a 40-pixel core: 64 offsets)."""
    c = grid.core
    return next(d for d in range(max(1, c // OFFSET_STEPS), 0, -1) if c % d == 0)


def fewest_tiles_offset(edge: np.ndarray, grid: TileGrid) -> tuple[int, int]:
    """The grid offset (oy, ox), both multiples of `offset_step`, whose tiles cover the contour `edge`
    (bool h x w) with the fewest tiles; ties go to the first in row-major order, (0, 0) first.

    Counted on step x step blocks of the contour (a block is crossed when any of its pixels is), which
    gives exactly `select_tiles`' count at every such offset, 64 offsets for the cost of a few."""
    s = offset_step(grid)
    k = grid.core // s
    h, w = edge.shape
    hb, wb = -(-h // s), -(-w // s)
    blocks = np.zeros((hb * s, wb * s), bool)
    blocks[:h, :w] = edge
    blocks = blocks.reshape(hb, s, wb, s).any(axis=(1, 3))
    best, fewest = (0, 0), None
    for a in range(k):
        for b in range(k):
            gh, gw = -(-(hb + a) // k), -(-(wb + b) // k)
            p = np.zeros((gh * k, gw * k), bool)
            p[a:a + hb, b:b + wb] = blocks
            n = int(p.reshape(gh, k, gw, k).any(axis=(1, 3)).sum())
            if fewest is None or n < fewest:
                best, fewest = (a * s, b * s), n
    return best


def crop_tiles(arr: np.ndarray, origins: np.ndarray, grid: TileGrid) -> np.ndarray:
    """N x T x T (x C) crops of `arr` (h x w or h x w x C): each core plus `margin` on every side;
    outside the frame the edge pixels are repeated."""
    t, m = grid.tile, grid.margin
    pad = grid.core + grid.margin
    padded = cv2.copyMakeBorder(arr, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    if padded.ndim < arr.ndim:  # OpenCV drops a trailing channel axis of one
        padded = padded[..., None]
    out = np.empty((len(origins), t, t, *arr.shape[2:]), arr.dtype)
    for i, (y, x) in enumerate(origins):
        y0, x0 = y + pad - m, x + pad - m
        out[i] = padded[y0:y0 + t, x0:x0 + t]
    return out


def gather_tiles(image_u8: np.ndarray, prob_u8: np.ndarray, origins: np.ndarray, grid: TileGrid) -> np.ndarray:
    """The refiner's input for each origin: uint8 N x T x T x 4 (R, G, B, coarse probability)."""
    if image_u8.shape[:2] != prob_u8.shape:
        raise ImageError(f"image is {image_u8.shape[1]}x{image_u8.shape[0]} but the probability is "
                         f"{prob_u8.shape[1]}x{prob_u8.shape[0]}")
    return crop_tiles(np.concatenate([image_u8, prob_u8[..., None]], axis=2), origins, grid)


def feather_weight(origins: np.ndarray, grid: TileGrid, shape: tuple[int, int], width: int = FEATHER) -> np.ndarray:
    """float32 h x w: how much of the refined value a pixel takes. 0 outside the union of the tiles'
    cores; inside it rises by 1 / (width + 1) per pixel of chessboard distance from the nearest
    unrefined pixel, to 1 from `width` + 1 pixels in (the frame's border is not an edge: a tile that
    meets it keeps its refined values there). width 0: the region itself, a hard edge."""
    if width < 0:
        raise ValueError(f"feather width must be >= 0, got {width}")
    region = np.zeros(shape, np.uint8)
    c = grid.core
    for y, x in np.asarray(origins, np.int64).reshape(-1, 2):
        region[max(0, y):max(0, y + c), max(0, x):max(0, x + c)] = 1
    weight = region.astype(np.float32)
    inner, k = region, np.ones((3, 3), np.uint8)
    for _ in range(width):
        inner = cv2.erode(inner, k, borderType=cv2.BORDER_REPLICATE)
        weight += inner
    return weight * np.float32(1 / (width + 1))


def blend_tiles(prob: np.ndarray, outputs: np.ndarray, origins: np.ndarray, grid: TileGrid,
                feather: int = FEATHER) -> np.ndarray:
    """A float32 copy of `prob` (working resolution) with each tile's core replaced by the refiner's
    output for it, upsampled bilinearly from 1/out_stride (the whole tile, then its core: no seam from
    resizing at the core's edge), handed over to `prob` over `feather` pixels at the edge of the
    refined region (`feather_weight`)."""
    outputs = np.asarray(outputs, np.float32)
    if outputs.shape != (len(origins), grid.out_tile, grid.out_tile):
        raise ModelLoadError(f"the refiner returned tiles of shape {outputs.shape}, expected "
                             f"{(len(origins), grid.out_tile, grid.out_tile)}")
    out = prob.astype(np.float32, copy=True)
    h, w = out.shape
    t, m, c = grid.tile, grid.margin, grid.core
    for (y, x), o in zip(origins, outputs):
        up = o if grid.out_stride == 1 else cv2.resize(o, (t, t), interpolation=cv2.INTER_LINEAR)
        core = up[m:m + c, m:m + c]
        y0, x0 = max(0, y), max(0, x)
        y1, x1 = min(h, y + c), min(w, x + c)
        if y1 > y0 and x1 > x0:
            out[y0:y1, x0:x1] = core[y0 - y:y1 - y, x0 - x:x1 - x]
    if feather:
        base = prob.astype(np.float32)
        out -= base
        out *= feather_weight(origins, grid, (h, w), feather)
        out += base
    return np.clip(out, 0.0, 1.0, out=out)


def run_batched(runner: TileRunner, tiles: np.ndarray, batch: int) -> np.ndarray:
    """`runner` over `tiles` in fixed batches of `batch` (the last one padded with repeats): an
    exported refiner has a static batch size."""
    if len(tiles) == 0:
        return np.zeros((0,), np.float32)
    outs = []
    for i in range(0, len(tiles), batch):
        chunk = tiles[i:i + batch]
        n = len(chunk)
        if n < batch:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - n, axis=0)])
        outs.append(np.asarray(runner(chunk))[:n])
    return np.concatenate(outs)


def refine_work(image_u8: np.ndarray, prob_u8: np.ndarray, runner: TileRunner, grid: TileGrid,
                batch: int = 1, feather: int = FEATHER) -> np.ndarray:
    """Refined float32 probability at the working resolution, from `refiner_input`'s two arrays."""
    return _refine_tiles(image_u8, prob_u8, runner, grid, batch, feather)[0]


def _refine_tiles(image_u8: np.ndarray, prob_u8: np.ndarray, runner: TileRunner, grid: TileGrid,
                  batch: int, feather: int) -> tuple[np.ndarray, np.ndarray]:
    """(`refine_work`'s probability, the origins of the tiles refined)."""
    origins = select_tiles(prob_u8, grid)
    refined = prob_u8.astype(np.float32) * np.float32(1 / 255)
    if len(origins):
        outputs = run_batched(runner, gather_tiles(image_u8, prob_u8, origins, grid), batch)
        refined = blend_tiles(refined, outputs, origins, grid, feather)
    return refined, origins


def photo_rects(origins: np.ndarray, grid: TileGrid, work_hw: tuple[int, int],
                photo_hw: tuple[int, int]) -> np.ndarray:
    """The tiles' cores at the photo's size: int N x 4 (y0, y1, x0, x1), each widened to whole pixels
    (neighbouring cores share their edge row or column), clipped to the photo."""
    sy, sx = photo_hw[0] / work_hw[0], photo_hw[1] / work_hw[1]
    o = np.asarray(origins, np.float64).reshape(-1, 2)
    c = grid.core
    rects = np.stack([np.floor(o[:, 0] * sy), np.ceil((o[:, 0] + c) * sy),
                      np.floor(o[:, 1] * sx), np.ceil((o[:, 1] + c) * sx)], axis=1).astype(np.int64)
    rects[:, 0:2] = np.clip(rects[:, 0:2], 0, photo_hw[0])
    rects[:, 2:4] = np.clip(rects[:, 2:4], 0, photo_hw[1])
    return rects


def shrink_by(image: np.ndarray, k: int) -> np.ndarray:
    """The photo averaged over k x k blocks (the last rows and columns that do not fill a block are
    dropped): OpenCV's area resize takes its fast path only for a whole factor (1 ms at 1080p / 2,
    14 ms for 1024 x 576)."""
    if k == 1:
        return image
    h, w = image.shape[0] // k, image.shape[1] // k
    return cv2.resize(image[:h * k, :w * k], (w, h), interpolation=cv2.INTER_AREA)


def grow_by(prob: np.ndarray, k: int, size: tuple[int, int]) -> np.ndarray:
    """`shrink_by`'s inverse for a mask: bilinear by exactly k (pixels stay aligned with the photo's),
    then the dropped rows and columns repeat the edge, to (h, w) = `size`."""
    up = cv2.resize(prob, (prob.shape[1] * k, prob.shape[0] * k), interpolation=cv2.INTER_LINEAR)
    return cv2.copyMakeBorder(up, 0, size[0] - up.shape[0], 0, size[1] - up.shape[1], cv2.BORDER_REPLICATE)


def refine_band(image: np.ndarray, prob: np.ndarray, runner: TileRunner, grid: TileGrid,
                batch: int = 1, channel: str = COARSE, snap: Snap | None = None,
                feather: int = FEATHER) -> np.ndarray:
    """The accurate level's edge refinement of one photo.

    image: RGB uint8 HxWx3; prob: the coarse probability at any size; channel: the refiner's 4th
    input (`with_channel`); snap: when given, the refined tiles are then snapped to the photo's own
    edges (`Snap`); the rest of the photo is the refiner's frame upsampled either way; feather: the
    width of the hand-over at the refined region's edge (`feather_weight`), for the refiner's tiles
    and the snap alike. Returns float32 in [0, 1] at the photo's size.
    """
    img_w, prob_w = refiner_input(image, prob, grid, channel)
    refined, origins = _refine_tiles(img_w, prob_w, runner, grid, batch, feather)
    h, w = image.shape[:2]
    if snap is not None and len(origins):
        k = max(1, min(-(-max(h, w) // snap.long_side), min(h, w)))
        frame = shrink_by(image, k)
        rects = photo_rects(origins, grid, refined.shape, frame.shape[:2])
        radius = max(1, round(snap.radius * max(frame.shape[:2])))
        weight = feather_weight(origins, grid, refined.shape, feather) if feather else None
        refined = refine_edges_in(frame, refined, rects, radius=radius, subsample=snap.subsample, weight=weight)
        if k > 1:
            refined = grow_by(refined, k, (h, w))
    if refined.shape != (h, w):
        refined = cv2.resize(refined, (w, h), interpolation=cv2.INTER_LINEAR)
    return refined
