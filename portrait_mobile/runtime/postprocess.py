"""Mask post-processing: binary threshold, image-guided edge refinement, keep the largest person, clean
small detached regions and enclosed holes.

All functions take a float32 HxW person probability in [0, 1] and return a new array.

The edge refinement is the guided filter of He, Sun and Tang (ECCV 2010 / TPAMI 2013) with a colour
guide, in its fast form (He & Sun 2015: coefficients computed on a subsampled grid, applied at full
resolution). OpenCV's
implementation lives in opencv-contrib (`cv2.ximgproc.guidedFilter`), which cannot be installed next to
the opencv-python-headless this package depends on, so it is written here with `cv2.boxFilter`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import cv2
import numpy as np

from ..errors import ImageError
from .image_input import check_rgb_uint8


def check_prob(mask: object, shape: tuple[int, int] | None = None, name: str = "mask") -> np.ndarray:
    """Validate a mask and return it as float32 HxW in [0, 1].

    Accepted: float (values in [0, 1], no NaN), bool, and uint8 (0..255) arrays of shape HxW or HxWx1.
    """
    if not isinstance(mask, np.ndarray):
        raise ImageError(f"{name} must be a NumPy array, got {type(mask).__name__}")
    m = mask[..., 0] if mask.ndim == 3 and mask.shape[2] == 1 else mask
    if m.ndim != 2 or m.size == 0:
        raise ImageError(f"{name} must be a non-empty HxW array, got shape {mask.shape}")
    if shape is not None and m.shape != tuple(shape):
        raise ImageError(f"{name} is {m.shape[1]}x{m.shape[0]} but the image is {shape[1]}x{shape[0]}")
    if m.dtype == np.bool_:
        return m.astype(np.float32)
    if m.dtype == np.uint8:
        return m.astype(np.float32) * np.float32(1 / 255)
    if np.issubdtype(m.dtype, np.floating):
        m = m.astype(np.float32, copy=False)
        lo, hi = float(m.min()), float(m.max())  # NaN and inf propagate: no full-size temporary
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ImageError(f"{name} contains NaN or infinite values")
        if lo < -1e-3 or hi > 1 + 1e-3:
            raise ImageError(f"{name} values must be in [0, 1], got [{lo:g}, {hi:g}]")
        return np.clip(m, 0.0, 1.0) if lo < 0 or hi > 1 else m
    raise ImageError(f"{name} dtype {m.dtype} not supported: expected float in [0, 1], bool or uint8")


def binary_mask(prob: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """bool HxW: True where the person probability is >= `threshold`."""
    return check_prob(prob) >= np.float32(_threshold(threshold))


def check_number(value: object, name: str, ok: Callable[[float], bool], what: str) -> float:
    """`value` as a float when it is a real number (Python or NumPy scalar: np.float32(0.5) is as good
    as 0.5; not a bool) for which `ok` holds, else ValueError naming `name` and `what` it must be. The
    API's counterpart of cli_support's argument types; NaN fails every comparison `ok` makes."""
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating))
            or not ok(float(value))):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return float(value)


def _threshold(threshold: object) -> float:
    # NaN would make every pixel background (each comparison with it is False) without a word.
    return check_number(threshold, "threshold", lambda v: 0.0 <= v <= 1.0, "in [0, 1]")


@dataclass(frozen=True)
class RegionCleanup:
    """What `clean_regions` takes out of a mask at the model's resolution: person regions smaller than
    `min_region` x the largest one (detached false positives: a patch of wall, a bag), and holes the
    person encloses smaller than `max_hole` x the person's area (a missed patch of shirt). 0 turns a part
    off. The defaults were chosen on the training carves (docs/experiments.md, session 32): a second
    person is rarely a tenth of the first, and holes that small are more often a missed patch than a
    real gap between arm and body. The accurate level leaves the holes to its refiner (`for_level`),
    which tells the two apart better: filling them first cost it 0.26 boundary IoU on the studio carve."""

    min_region: float = 0.1
    max_hole: float = 0.002

    def __post_init__(self) -> None:
        for name in ("min_region", "max_hole"):  # stored as floats: np.float32(0.1) reads back as 0.1
            object.__setattr__(self, name, check_number(getattr(self, name), name, lambda v: 0.0 <= v <= 1.0,
                                                        "a fraction in [0, 1]"))

    @property
    def active(self) -> bool:
        return self.min_region > 0 or self.max_hole > 0

    def for_level(self, quality: str) -> "RegionCleanup":
        """The cleanup a quality level runs: holes are filled for fast and balanced, left to the learned
        refiner for accurate."""
        return replace(self, max_hole=0.0) if quality == "accurate" else self


DEFAULT_CLEANUP = RegionCleanup()
NO_CLEANUP = RegionCleanup(min_region=0.0, max_hole=0.0)


def _default_halo(shape: tuple[int, ...]) -> int:
    return max(1, round(0.02 * math.hypot(*shape[:2])))


def _claim(prob: np.ndarray, target: np.ndarray, rival: np.ndarray, halo: int, value: float) -> None:
    """Set `target` (bool) to `value` in place, with the soft edge around it: pixels within `halo`
    pixels of it that are nearer it than `rival` (the regions that keep their edge)."""
    d_rival = cv2.distanceTransform((~rival).astype(np.uint8), cv2.DIST_L2, 3)
    d_target = cv2.distanceTransform((~target).astype(np.uint8), cv2.DIST_L2, 3)
    prob[target | ((d_target <= halo) & (d_target < d_rival))] = value


def keep_largest(prob: np.ndarray, threshold: float = 0.5, halo: int | None = None) -> np.ndarray:
    """Keep only the largest connected person region (at `threshold`), with its soft edge.

    Other regions are set to 0, together with their soft edge: pixels within `halo` pixels of them
    (default 2% of the image diagonal) that are not nearer the kept region.
    """
    prob = check_prob(prob)
    fg = (prob >= np.float32(_threshold(threshold))).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    out = prob.copy()
    if n <= 2:  # background only, or a single region
        return out
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    kept = labels == largest
    _claim(out, (labels > 0) & ~kept, kept, _default_halo(prob.shape) if halo is None else halo, 0.0)
    return out


def clean_regions(prob: np.ndarray, cleanup: RegionCleanup = DEFAULT_CLEANUP, threshold: float = 0.5,
                  halo: int | None = None) -> np.ndarray:
    """The mask without the small detached person regions and the small enclosed holes `cleanup` names
    (at `threshold`), each taken out with its soft edge (`halo`: default 2% of the diagonal).

    Person regions are 8-connected and holes 4-connected (so a hole never leaks through a diagonal
    the region holds); a hole is a background region that touches no side of the image.
    """
    prob = check_prob(prob)
    threshold = _threshold(threshold)
    out = prob.copy()
    if not cleanup.active:
        return out
    halo = _default_halo(prob.shape) if halo is None else halo
    fg = prob >= np.float32(threshold)
    if cleanup.min_region > 0:
        n, labels, stats, _ = cv2.connectedComponentsWithStats(fg.view(np.uint8), connectivity=8)
        if n > 2:
            area = stats[1:, cv2.CC_STAT_AREA]
            small = 1 + np.flatnonzero(area < cleanup.min_region * area.max())
            if len(small):
                removed = np.isin(labels, small)
                _claim(out, removed, fg & ~removed, halo, 0.0)
                fg = fg & ~removed
    person = int(np.count_nonzero(fg))
    if cleanup.max_hole > 0 and person:
        n, labels, stats, _ = cv2.connectedComponentsWithStats((~fg).view(np.uint8), connectivity=4)
        x, y, w, h, area = (stats[1:, k] for k in range(5))
        inner = (x > 0) & (y > 0) & (x + w < fg.shape[1]) & (y + h < fg.shape[0])
        holes = 1 + np.flatnonzero(inner & (area < cleanup.max_hole * person))
        if len(holes):
            filled = np.isin(labels, holes)
            _claim(out, filled, (labels > 0) & ~filled, halo, 1.0)
    return out


def _box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(x, cv2.CV_32F, (2 * r + 1, 2 * r + 1), normalize=True, borderType=cv2.BORDER_REFLECT)


def _coefficients(g: np.ndarray, p: np.ndarray, r: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Box-averaged linear coefficients (mean_a HxWxC, mean_b HxW) of the guided filter."""
    e = np.float32(eps)
    mean_p = _box(p, r)
    if g.ndim == 2:
        mean_i = _box(g, r)
        var = _box(g * g, r) - mean_i * mean_i
        a = (_box(g * p, r) - mean_i * mean_p) / (var + e)
        b = mean_p - a * mean_i
        return _box(a, r)[..., None], _box(b, r)
    # Colour guide (He et al. eq. 14): a = (Sigma + eps U)^-1 cov(I, p), Sigma the 3x3 colour covariance.
    mean_i = _box(g, r)
    cov = _box(g * p[..., None], r) - mean_i * mean_p[..., None]

    def var(i: int, j: int) -> np.ndarray:
        return _box(g[..., i] * g[..., j], r) - mean_i[..., i] * mean_i[..., j]

    a11, a12, a13 = var(0, 0) + e, var(0, 1), var(0, 2)
    a22, a23, a33 = var(1, 1) + e, var(1, 2), var(2, 2) + e
    i11, i12, i13 = a22 * a33 - a23 * a23, a13 * a23 - a12 * a33, a12 * a23 - a13 * a22
    i22, i23, i33 = a11 * a33 - a13 * a13, a12 * a13 - a11 * a23, a11 * a22 - a12 * a12
    det = a11 * i11 + a12 * i12 + a13 * i13  # > 0: Sigma + eps U is positive definite
    c0, c1, c2 = cov[..., 0], cov[..., 1], cov[..., 2]
    a = np.stack([i11 * c0 + i12 * c1 + i13 * c2, i12 * c0 + i22 * c1 + i23 * c2,
                  i13 * c0 + i23 * c1 + i33 * c2], axis=-1) / det[..., None]
    b = mean_p - (a * mean_i).sum(axis=-1)
    return _box(a, r), _box(b, r)


def _upsample_rect(low: np.ndarray, h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Rows y0..y1, columns x0..x1 of `low` resized bilinearly to h x w (cv2.resize's pixel-centre
    convention), without resizing the rest."""
    hl, wl = low.shape[:2]
    xs = (np.arange(x0, x1, dtype=np.float32) + 0.5) * np.float32(wl / w) - 0.5
    ys = (np.arange(y0, y1, dtype=np.float32) + 0.5) * np.float32(hl / h) - 0.5
    map_x = np.ascontiguousarray(np.broadcast_to(xs, (y1 - y0, x1 - x0)))
    map_y = np.ascontiguousarray(np.broadcast_to(ys[:, None], (y1 - y0, x1 - x0)))
    return cv2.remap(low, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _upsample_rows(low: np.ndarray, h: int, w: int, r0: int, r1: int) -> np.ndarray:
    """Rows r0..r1 of `low` resized bilinearly to h x w."""
    return _upsample_rect(low, h, w, r0, r1, 0, w)


def _linear(a: np.ndarray, b: np.ndarray, guide: np.ndarray, guide_scale: float, contrast: float) -> np.ndarray:
    """q = a . I + b on one region (a: h x w x C or h x w, b and the guide's region h x w), steepened
    around 0.5 by `contrast`. Overwrites `a`."""
    g = guide.astype(np.float32)
    g *= np.float32(guide_scale)
    if g.ndim == 2:
        g = g[..., None]
    a = a.reshape(*g.shape[:2], -1)
    a *= g
    q = cv2.transform(a, np.ones((1, a.shape[2]), np.float32)) if a.shape[2] > 1 else a[..., 0]
    q += b
    if contrast != 1.0:
        q -= 0.5
        q *= np.float32(contrast)
        q += 0.5
    return q


def _apply(mean_a: np.ndarray, mean_b: np.ndarray, guide: np.ndarray, guide_scale: float,
           contrast: float = 1.0) -> np.ndarray:
    """q = mean_a . I + mean_b at the guide's full size, in row bands (coefficients upsampled per band),
    so no full-size float copy of the guide or of the coefficients is ever made."""
    h, w = guide.shape[:2]
    out = np.empty((h, w), np.float32)
    same = mean_b.shape == (h, w)
    rows = max(1, 1_000_000 // max(1, w))
    for r0 in range(0, h, rows):
        r1 = min(h, r0 + rows)
        if same:
            a, b = mean_a[r0:r1].copy(), mean_b[r0:r1]
        elif r0 == 0 and r1 == h:  # one band: a plain resize is the same and faster
            a = cv2.resize(mean_a, (w, h), interpolation=cv2.INTER_LINEAR)
            b = cv2.resize(mean_b, (w, h), interpolation=cv2.INTER_LINEAR)
        else:
            a = _upsample_rows(mean_a, h, w, r0, r1)
            b = _upsample_rows(mean_b, h, w, r0, r1)
        out[r0:r1] = _linear(a, b, guide[r0:r1], guide_scale, contrast)
    return out


def _check_filter(radius: object, eps: object, h: int, w: int) -> tuple[int, float]:
    """The guided filter's (radius, eps) checked, ValueError naming the one that is wrong.

    eps must be finite and > 0: it is the regularizer the paper adds to the guide's variance, so 0
    divides by zero on a flat patch, and NaN or a negative one gives NaN or sign-flipped coefficients.
    radius (pixels) must be >= 1 and is clamped to the image's long side: a window that wide already
    reaches across the whole image from every pixel, so a larger one asks for nothing more (a user
    asking for 10**9 wants "as smooth as it gets"), where before OpenCV failed allocating the kernel."""
    eps = check_number(eps, "eps", lambda v: math.isfinite(v) and v > 0, "a finite number > 0")
    r = check_number(radius, "radius", lambda v: math.isfinite(v) and v >= 1, "a number of pixels >= 1")
    return min(int(r), max(h, w)), eps


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float = 1e-3,
                  subsample: int = 1) -> np.ndarray:
    """Guided filter (He et al.): edge-preserving smoothing of `src` that follows `guide`.

    guide: HxW (gray) or HxWx3 (colour) float32 in [0, 1]; src: HxW float32. `radius` (clamped to the
    long side) and `eps` (> 0) as in the paper. With `subsample` > 1 the coefficients are computed on a grid that much coarser and
    upsampled (the fast guided filter, He & Sun 2015), which costs little for a smooth `src`.
    """
    h, w = src.shape
    radius, eps = _check_filter(radius, eps, h, w)
    s = max(1, int(subsample))
    if s > 1:
        size = (max(1, w // s), max(1, h // s))
        g = cv2.resize(guide, size, interpolation=cv2.INTER_AREA)
        p = cv2.resize(src, size, interpolation=cv2.INTER_AREA)
    else:
        g, p = guide.astype(np.float32, copy=False), src.astype(np.float32, copy=False)
    mean_a, mean_b = _coefficients(g, p, max(1, round(radius / s)), eps)
    return _apply(mean_a, mean_b, guide, 1.0)


def refine_edges(image: np.ndarray, prob: np.ndarray, radius: int | None = None, eps: float = 1e-3,
                 contrast: float = 2.0) -> np.ndarray:
    """Snap a soft mask to the image's edges with a colour-guided filter, at full resolution.

    image: RGB uint8 HxWx3, the guide. prob: float32 person probability at the image's size *or
    smaller*: the model's own output can be passed directly, it is upsampled as part of the filtering.
    Returns float32 HxW in [0, 1] at the image's size.

    radius: in pixels, default 2% of the image's long side (at most the long side); eps: regularization for a [0, 1] guide
    (smaller follows weaker edges); contrast: the output is steepened around 0.5 by this factor, which
    removes the faint halo a guided filter leaves in low-contrast background without moving the 0.5
    boundary (1 = off). The coefficients are computed on a grid radius/4 coarser (fast guided filter)
    and applied to the full-size image in row bands, so an 8000x6000 photo costs its output mask and
    little else. Defaults chosen on PFCN *train* images (boundary IoU +4.8 points on 120 of them).
    """
    mean_a, mean_b = _fit_edges(image, prob, radius, eps, contrast)
    q = _apply(mean_a, mean_b, image, 1 / 255, contrast)
    return np.clip(q, 0.0, 1.0, out=q)


def refine_edges_in(image: np.ndarray, prob: np.ndarray, rects: np.ndarray, radius: int | None = None,
                    eps: float = 1e-3, contrast: float = 2.0, subsample: int = 4,
                    weight: np.ndarray | None = None) -> np.ndarray:
    """`refine_edges` inside `rects` only (int N x 4: y0, y1, x0, x1 at the image's size, clipped to
    it); elsewhere `prob` upsampled bilinearly. Same arguments and output; the full-size work is the
    rects' area, so a mask whose contour is known to lie in a few tiles costs those tiles. The
    coefficients' grid is radius/`subsample` coarser than the image (refine_edges: 4). weight: a map
    in [0, 1] at any size (upsampled bilinearly) of how much of the filtered value each pixel takes,
    the rest from the upsampled `prob`: 0 at the rects' outer edge hands over without a step."""
    mean_a, mean_b = _fit_edges(image, prob, radius, eps, contrast, subsample)
    h, w = image.shape[:2]
    p = check_prob(prob)
    if weight is not None:
        weight = check_prob(weight, name="weight")
    up = p.copy() if p.shape == (h, w) else cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR)
    # Neighbouring rects share an edge row or column: blend against the untouched mask, not against
    # what the previous rect wrote there.
    out = up if weight is None else up.copy()
    for y0, y1, x0, x1 in np.asarray(rects, np.int64).reshape(-1, 4):
        y0, y1, x0, x1 = max(0, y0), min(h, y1), max(0, x0), min(w, x1)
        if y1 > y0 and x1 > x0:
            a = _upsample_rect(mean_a, h, w, y0, y1, x0, x1)
            b = _upsample_rect(mean_b, h, w, y0, y1, x0, x1)
            q = _linear(a, b, image[y0:y1, x0:x1], 1 / 255, contrast)
            if weight is not None:
                base = up[y0:y1, x0:x1]
                q -= base
                q *= _upsample_rect(weight, h, w, y0, y1, x0, x1)
                q += base
            out[y0:y1, x0:x1] = q
    return np.clip(out, 0.0, 1.0, out=out)


def _fit_edges(image: np.ndarray, prob: np.ndarray, radius: int | None, eps: float,
               contrast: float, subsample: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The guided filter's coefficients for `refine_edges` on its subsampled grid (arguments checked)."""
    check_rgb_uint8(image)
    prob = check_prob(prob)
    if not (math.isfinite(contrast) and contrast > 0):
        raise ValueError(f"contrast must be a positive number, got {contrast}")
    h, w = image.shape[:2]
    radius, eps = _check_filter(max(2, round(0.02 * max(h, w))) if radius is None else radius, eps, h, w)
    s = max(1, radius // max(1, int(subsample)))
    size = (max(1, w // s), max(1, h // s))
    g = image if size == (w, h) else cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    g = g.astype(np.float32) * np.float32(1 / 255)
    if prob.shape != (size[1], size[0]):
        shrink = prob.shape[0] > size[1] or prob.shape[1] > size[0]
        prob = cv2.resize(prob, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return _coefficients(g, prob, max(1, round(radius / s)), eps)
