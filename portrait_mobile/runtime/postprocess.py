"""Mask post-processing: binary threshold, image-guided edge refinement, keep the largest person.

All functions take a float32 HxW person probability in [0, 1] and return a new array.

The edge refinement is the guided filter of He, Sun and Tang (ECCV 2010 / TPAMI 2013), in its fast
form (He & Sun 2015: coefficients computed on a subsampled grid, applied at full resolution). OpenCV's
implementation lives in opencv-contrib (`cv2.ximgproc.guidedFilter`), which cannot be installed next to
the opencv-python-headless this package depends on, so it is written here with `cv2.boxFilter`.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from ..errors import ImageError
from .image_input import check_rgb_uint8

# Above this many pixels on the long side the refinement runs at a reduced size and the refined mask
# is upsampled bilinearly: bounds memory for 8000x6000 photos (each full-size float32 map is 192 MB).
REFINE_MAX_SIDE = 4096


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
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    return check_prob(prob) >= np.float32(threshold)


def keep_largest(prob: np.ndarray, threshold: float = 0.5, halo: int | None = None) -> np.ndarray:
    """Keep only the largest connected person region (at `threshold`), with its soft edge.

    Other regions are set to 0, together with their soft edge: pixels within `halo` pixels of them
    (default 2% of the image diagonal) that are not nearer the kept region.
    """
    prob = check_prob(prob)
    fg = (prob >= np.float32(threshold)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if n <= 2:  # background only, or a single region
        return prob.copy()
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    others = ((labels > 0) & (labels != largest)).astype(np.uint8)
    if halo is None:
        halo = max(1, round(0.02 * math.hypot(*prob.shape)))
    # Distance to the kept region and to the removed ones: the soft band goes to whichever is nearer.
    d_keep = cv2.distanceTransform((labels != largest).astype(np.uint8), cv2.DIST_L2, 3)
    d_other = cv2.distanceTransform(1 - others, cv2.DIST_L2, 3)
    remove = (others > 0) | ((d_other <= halo) & (d_other < d_keep))
    out = prob.copy()
    out[remove] = 0.0
    return out


def _box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(x, cv2.CV_32F, (2 * r + 1, 2 * r + 1), normalize=True, borderType=cv2.BORDER_REFLECT)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float = 1e-3,
                  subsample: int = 1) -> np.ndarray:
    """Gray-guide guided filter (He et al.): edge-preserving smoothing of `src` that follows `guide`.

    guide: HxW float32 in [0, 1]; src: HxW float32. `radius` and `eps` as in the paper (eps relative to
    a [0, 1] guide). With `subsample` > 1 the linear coefficients are computed on a grid that much
    coarser and upsampled (fast guided filter), which costs little accuracy for a smooth `src`.
    """
    h, w = src.shape
    s = max(1, int(subsample))
    if s > 1:
        size = (max(1, w // s), max(1, h // s))
        g = cv2.resize(guide, size, interpolation=cv2.INTER_AREA)
        p = cv2.resize(src, size, interpolation=cv2.INTER_AREA)
        r = max(1, round(radius / s))
    else:
        g, p, r = guide, src, max(1, int(radius))
    mean_i = _box(g, r)
    mean_p = _box(p, r)
    cov_ip = _box(g * p, r) - mean_i * mean_p
    var_i = _box(g * g, r) - mean_i * mean_i
    a = cov_ip / (var_i + np.float32(eps))
    b = mean_p - a * mean_i
    mean_a = _box(a, r)
    mean_b = _box(b, r)
    if s > 1:
        mean_a = cv2.resize(mean_a, (w, h), interpolation=cv2.INTER_LINEAR)
        mean_b = cv2.resize(mean_b, (w, h), interpolation=cv2.INTER_LINEAR)
    q = mean_a
    q *= guide
    q += mean_b
    return q


def refine_edges(image: np.ndarray, prob: np.ndarray, radius: int | None = None, eps: float = 1e-3,
                 max_side: int = REFINE_MAX_SIDE) -> np.ndarray:
    """Snap a soft (e.g. bilinearly upsampled) mask to the image's edges with a guided filter.

    image: RGB uint8 HxWx3, the guide. prob: float32 person probability at the image's size *or
    smaller* (the model's own output can be passed directly: it is upsampled as part of the
    filtering). Returns float32 HxW in [0, 1] at the image's size.

    radius: filter radius in pixels, default 1% of the image's long side (at least 2 px); eps: the
    regularization (for a [0, 1] guide: smaller follows weaker edges). Images larger than `max_side`
    are refined at that size and the result upsampled, which bounds memory and time for 8000x6000
    photos.
    """
    check_rgb_uint8(image)
    prob = check_prob(prob)
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    wh, ww = max(1, round(h * scale)), max(1, round(w * scale))
    guide_rgb = image if scale == 1.0 else cv2.resize(image, (ww, wh), interpolation=cv2.INTER_AREA)
    if prob.shape != (wh, ww):
        shrink = prob.shape[0] > wh or prob.shape[1] > ww
        prob = cv2.resize(prob, (ww, wh), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if radius is None:
        radius = max(2, round(0.01 * max(wh, ww)))
    else:
        radius = max(1, round(radius * scale))
    guide = cv2.cvtColor(guide_rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    guide *= np.float32(1 / 255)
    q = guided_filter(guide, prob, radius, eps, subsample=max(1, radius // 4))
    np.clip(q, 0.0, 1.0, out=q)
    if scale < 1.0:
        q = cv2.resize(q, (w, h), interpolation=cv2.INTER_LINEAR)  # bilinear stays within [0, 1]
    return q
