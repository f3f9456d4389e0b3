"""Portrait effects, each a pure function of (image, mask) -> new image.

image: RGB uint8 HxWx3. mask: the person probability of the same size (float32 in [0, 1] as
`Segmenter.segment` returns it; bool and uint8 0..255 masks are accepted too). Nothing is modified in
place and nothing is written to disk: the CLI does that.

- `blur_background`: portrait mode. The background is blurred with a *mask-weighted* (normalized)
  Gaussian, so the person's colours do not bleed into the blurred background as a halo.
- `replace_background`: a new background image (resized to cover, centre-cropped) or a flat colour.
- `cutout`: RGBA with the mask as alpha, for a transparent PNG.
- `mask_image`: the confidence mask as an 8-bit grayscale picture.

Full-resolution float work is done in row bands, so an 8000x6000 photo costs a few uint8 copies, not
several float32 ones; the blur itself runs at a reduced resolution (it only keeps low frequencies).
"""
from __future__ import annotations

import math
from typing import Sequence, Union

import cv2
import numpy as np

from ..errors import ImageError
from .image_input import check_rgb_uint8
from .postprocess import check_number, check_prob

Color = Union[Sequence[int], str]
_BAND_PIXELS = 2_000_000  # pixels per row band in the float compositing loops


def _inputs(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    check_rgb_uint8(image)
    return image, check_prob(mask, image.shape[:2])


def composite(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """alpha * fg + (1 - alpha) * bg, rounded to uint8; fg/bg RGB uint8 HxWx3, alpha float32 HxW."""
    h, w = alpha.shape
    out = np.empty((h, w, 3), np.uint8)
    rows = max(1, _BAND_PIXELS // max(1, w))
    for r0 in range(0, h, rows):
        r1 = min(h, r0 + rows)
        a = alpha[r0:r1, :, None]
        f = fg[r0:r1].astype(np.float32)
        b = bg[r0:r1].astype(np.float32)
        f -= b
        f *= a
        f += b
        f += 0.5
        np.clip(f, 0, 255, out=f)
        out[r0:r1] = f.astype(np.uint8)
    return out


def _background_blur(image: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of `image` normalized by `weight` (1 = background), as uint8 at full size.

    Runs at a resolution where sigma is about 4 px, then upsamples: a strong blur keeps only low
    frequencies, so this is both faster and lighter than blurring at full size.
    """
    h, w = weight.shape
    f = min(1.0, 4.0 / sigma) if sigma > 4.0 else 1.0
    size = (max(1, round(w * f)), max(1, round(h * f)))
    img = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if f < 1 else image
    wt = cv2.resize(weight, size, interpolation=cv2.INTER_AREA) if f < 1 else weight
    s = max(0.5, sigma * f)
    img_f = img.astype(np.float32)
    num = cv2.GaussianBlur(img_f * wt[..., None], (0, 0), s, borderType=cv2.BORDER_REFLECT)
    den = cv2.GaussianBlur(wt, (0, 0), s, borderType=cv2.BORDER_REFLECT)
    plain = cv2.GaussianBlur(img_f, (0, 0), s, borderType=cv2.BORDER_REFLECT)
    # Where almost no background is near (inside the person) fall back to the plain blur; the
    # composite shows the person there anyway.
    ok = den > 1e-3
    blurred = np.where(ok[..., None], num / np.maximum(den, 1e-3)[..., None], plain)
    blurred = np.clip(blurred + 0.5, 0, 255).astype(np.uint8)
    if f < 1:
        blurred = cv2.resize(blurred, (w, h), interpolation=cv2.INTER_LINEAR)
    return blurred


DEFAULT_BLUR_STRENGTH = 0.015  # web_demo/js/effects.js holds the same default
DEFAULT_BACKGROUND = "#00B140"  # chroma-key green: a replaced background that is plainly not the photo's


def blur_background(image: np.ndarray, mask: np.ndarray, strength: float = DEFAULT_BLUR_STRENGTH) -> np.ndarray:
    """Portrait mode: blur everything but the person.

    strength: Gaussian sigma as a fraction of the image diagonal (0.015 = 15 px on a 1000 px
    diagonal). Person pixels (mask 1) are returned unchanged.
    """
    image, m = _inputs(image, mask)
    strength = check_number(strength, "strength", lambda v: math.isfinite(v) and v > 0, "a positive number")
    sigma = strength * math.hypot(*m.shape)
    bg = _background_blur(image, 1.0 - m, sigma)
    return composite(image, bg, m)


def parse_color(color: Color) -> tuple[int, int, int]:
    """'#RRGGBB', 'RRGGBB', 'R,G,B' or a 3-sequence of 0..255 ints -> (R, G, B)."""
    if isinstance(color, str):
        s = color.strip()
        if "," in s:
            parts: Sequence = [p.strip() for p in s.split(",")]
        else:
            hx = s.lstrip("#")
            if len(hx) != 6 or any(c not in "0123456789abcdefABCDEF" for c in hx):
                raise ValueError(f"colour must be '#RRGGBB' or 'R,G,B', got {color!r}")
            parts = [int(hx[i:i + 2], 16) for i in (0, 2, 4)]
    elif isinstance(color, (list, tuple, np.ndarray)):
        parts = list(color)
    else:  # None, a number, a dict...: say what is accepted instead of "not iterable"
        raise ValueError(f"background/colour must be an RGB uint8 image, '#RRGGBB', 'R,G,B' or three integers "
                         f"0..255, got {type(color).__name__} {color!r}")
    try:
        rgb = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        raise ValueError(f"colour must be three integers 0..255, got {color!r}") from None
    if any(isinstance(p, (float, np.floating)) and not float(p).is_integer() for p in parts):
        raise ValueError(f"colour must be three integers 0..255, got {color!r}")
    if len(rgb) != 3 or any(not 0 <= v <= 255 for v in rgb):
        raise ValueError(f"colour must be three integers 0..255, got {color!r}")
    return rgb  # type: ignore[return-value]


def fit_cover(background: np.ndarray, height: int, width: int) -> np.ndarray:
    """`background` centre-cropped to the aspect ratio of height x width and resized to it (cover).

    Cropped before it is resized, so the work is the output's size whatever the background's shape:
    resizing the whole of a 1x20000 strip to cover 400 rows first made a 400x8,000,000 image (10 GB).
    """
    bh, bw = background.shape[:2]
    if bw * height > bh * width:  # wider than the target: keep the middle columns
        cw = min(bw, max(1, round(bh * width / height)))
        crop = background[:, (bw - cw) // 2:(bw - cw) // 2 + cw]
    else:  # taller (or the same shape): keep the middle rows
        ch = min(bh, max(1, round(bw * height / width)))
        crop = background[(bh - ch) // 2:(bh - ch) // 2 + ch]
    interp = cv2.INTER_AREA if crop.shape[0] > height else cv2.INTER_LINEAR
    return cv2.resize(crop, (width, height), interpolation=interp)


def replace_background(image: np.ndarray, mask: np.ndarray,
                       background: np.ndarray | Color = (0, 177, 64)) -> np.ndarray:
    """Put the person on a new background: an RGB uint8 image (any size; resized to cover and
    centre-cropped) or a colour ('#RRGGBB', 'R,G,B' or an (R, G, B) tuple)."""
    image, m = _inputs(image, mask)
    h, w = m.shape
    if isinstance(background, np.ndarray):
        check_rgb_uint8(background, "background")
        bg = fit_cover(background, h, w)
    else:
        bg = np.broadcast_to(np.asarray(parse_color(background), np.uint8), (h, w, 3))
    return composite(image, bg, m)


def cutout(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """RGBA uint8 HxWx4: the image with the person probability as alpha (transparent background)."""
    image, m = _inputs(image, mask)
    return np.dstack([image, mask_image(m)])


def mask_image(mask: np.ndarray) -> np.ndarray:
    """uint8 HxW 0..255 picture of a probability mask (bool masks give 0/255)."""
    m = check_prob(mask)
    out = np.empty(m.shape, np.uint8)
    rows = max(1, _BAND_PIXELS // max(1, m.shape[1]))
    for r0 in range(0, m.shape[0], rows):
        out[r0:r0 + rows] = (m[r0:r0 + rows] * 255 + 0.5).astype(np.uint8)
    return out


EFFECTS = ("mask", "cutout", "blur", "replace")


def apply_effect(name: str, image: np.ndarray, mask: np.ndarray, **options: object) -> np.ndarray:
    """Dispatch by name: 'mask' (uint8 HxW), 'cutout' (RGBA), 'blur' and 'replace' (RGB)."""
    if name == "mask":
        _inputs(image, mask)
        return mask_image(mask)
    if name == "cutout":
        return cutout(image, mask)
    if name == "blur":
        return blur_background(image, mask, **options)  # type: ignore[arg-type]
    if name == "replace":
        return replace_background(image, mask, **options)  # type: ignore[arg-type]
    raise ValueError(f"unknown effect {name!r}; expected one of {', '.join(EFFECTS)}")


__all__ = ["blur_background", "replace_background", "cutout", "mask_image", "composite", "apply_effect",
           "parse_color", "fit_cover", "EFFECTS", "ImageError"]
