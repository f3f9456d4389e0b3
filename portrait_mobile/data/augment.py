"""Batched portrait augmentation in torch: runs on the training device (CPU or GPU) with no loader.

Geometry (scale / rotate / shift / flip) is one affine warp shared by image, mask and teacher map.
Photometric changes (colour, lighting, blur, noise, grey) touch the image only. Background swap
pastes each person onto another sample's background with that sample's person painted out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from ..model_io import pixels_to_unit
from .augment_config import AUGMENT_PRESETS, AugmentConfig  # noqa: F401  (re-exported)


@dataclass
class Batch:
    image: torch.Tensor  # B x 3 x H x W float in [0, 1]
    mask: torch.Tensor  # B x 1 x H x W soft target in [0, 1]
    teacher: torch.Tensor  # B x 1 x H x W
    mask_weight: torch.Tensor  # B: 1 where the ground truth exists
    teacher_weight: torch.Tensor  # B: 1 where the teacher map is valid for this image
    # B: 1 where the label marks only the main subject (data.mix.PARTIAL_LABEL_SETS); None = none do
    partial_label: torch.Tensor | None = None


def to_batch(images: torch.Tensor, masks: torch.Tensor, teacher: torch.Tensor,
             has_mask: torch.Tensor, has_teacher: torch.Tensor,
             partial_label: torch.Tensor | None = None) -> Batch:
    """uint8 NHWC / NHW tensors (on any device) -> float Batch, no augmentation."""
    return Batch(pixels_to_unit(images), masks[:, None].float() / 255.0,
                 teacher[:, None].float() / 255.0, has_mask.float(), has_teacher.float(),
                 None if partial_label is None else partial_label.float())


def _box_blur(x: torch.Tensor, k: int) -> torch.Tensor:
    """Separable k x k mean filter, edges replicated: k shifted adds a pass (5x faster on the CPU than
    avg_pool2d with a 1-D window, which was most of the augmentation's time)."""
    if k <= 1:
        return x
    pad = k // 2
    h, w = x.shape[-2:]
    p = F.pad(x, (pad, pad, 0, 0), mode="replicate")
    rows = sum(p[..., :, i:i + w] for i in range(k))
    p = F.pad(rows, (0, 0, pad, pad), mode="replicate")
    return sum(p[..., i:i + h, :] for i in range(k)) / (k * k)


def _paint_out_person(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Fill the person region with the blurred surrounding background (a cheap inpaint).

    Works at 1/4 resolution: the fill is a heavy blur anyway, and full-size wide box filters
    dominated the training step on CPU.
    """
    h, w = image.shape[-2:]
    bg = (1.0 - (mask > 0.1).float())
    bg = 1.0 - F.max_pool2d(1.0 - bg, 9, stride=1, padding=4)  # shrink bg off the person's halo
    small_img, small_bg = F.avg_pool2d(image * bg, 4), F.avg_pool2d(bg, 4)
    k = max(3, w // 24) | 1
    num = _box_blur(small_img, k)
    den = _box_blur(small_bg, k)
    mean_bg = small_img.sum((2, 3), keepdim=True) / small_bg.sum((2, 3), keepdim=True).clamp_min(1e-3)
    fill = torch.where(den > 1e-3, num / den.clamp_min(1e-3), mean_bg)
    fill = F.interpolate(fill, size=(h, w), mode="bilinear", align_corners=False)
    return image * bg + fill * (1.0 - bg)


# A border is an exit when the person covers at least this share of its outermost two pixel lines.
EXIT_MIN_SHARE = 0.02


def person_exits(batch: Batch) -> torch.Tensor:
    """B x 4 bool: whether the person (the label, else the teacher) leaves the frame at the left,
    right, top and bottom border."""
    person = torch.where(batch.mask_weight.view(-1, 1, 1, 1) > 0, batch.mask, batch.teacher)[:, 0] > 0.5
    lines = (person[:, :, :2], person[:, :, -2:], person[:, :2, :], person[:, -2:, :])
    return torch.stack([e.float().mean((1, 2)) >= EXIT_MIN_SHARE for e in lines], 1)


def _anchor_exits(exits: torch.Tensor, reach: torch.Tensor, sx: torch.Tensor, sy: torch.Tensor,
                  tx: torch.Tensor, ty: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Scales and shifts moved so that no output pixel samples beyond an exit border of the source.

    In `_affine`'s inverse map the source coordinate spans +-reach/s + t over the output square (reach
    = |cos| + |sin| of the tilt), so the right border stays covered when reach/sx + tx <= 1, and so on.
    A person leaving by two opposite borders first cancels the zoom-out (both scales raised alike,
    keeping the aspect stretch)."""
    left, right, top, bottom = exits.unbind(1)
    grow = torch.ones_like(sx)
    grow = torch.where(left & right, torch.maximum(grow, reach / sx), grow)
    grow = torch.where(top & bottom, torch.maximum(grow, reach / sy), grow)
    sx, sy = sx * grow, sy * grow
    inf = torch.full_like(tx, float("inf"))
    tx = tx.clamp(torch.where(left, reach / sx - 1, -inf), torch.where(right, 1 - reach / sx, inf))
    ty = ty.clamp(torch.where(top, reach / sy - 1, -inf), torch.where(bottom, 1 - reach / sy, inf))
    return sx, sy, tx, ty


def _affine(batch: Batch, cfg: AugmentConfig, g: torch.Generator, background: torch.Tensor) -> Batch:
    """Scale (with an aspect stretch), rotate, shift and flip; what the warp uncovers is `background`.

    Zero padding, not reflection: a mirrored border would put upside-down heads above a zoomed-out
    portrait. Outside the source image the mask and teacher are 0 and the picture is a real scene.
    """
    b = batch.image.shape[0]
    rnd = lambda *s: torch.rand(*s, generator=g, device=g.device)  # noqa: E731
    s = cfg.scale[0] + (cfg.scale[1] - cfg.scale[0]) * rnd(b)
    log_ar = math.log(cfg.aspect[0]) + (math.log(cfg.aspect[1]) - math.log(cfg.aspect[0])) * rnd(b)
    sx, sy = s * torch.exp(log_ar / 2), s * torch.exp(-log_ar / 2)
    a = (rnd(b) * 2 - 1) * math.radians(cfg.max_rotate_deg)
    tx, ty = (rnd(b) * 2 - 1) * cfg.max_shift, (rnd(b) * 2 - 1) * cfg.max_shift
    flip = torch.where(rnd(b) < cfg.flip_p, -1.0, 1.0)
    cos, sin = torch.cos(a), torch.sin(a)
    if cfg.anchor_exits:
        sx, sy, tx, ty = _anchor_exits(person_exits(batch), cos.abs() + sin.abs(), sx, sy, tx, ty)
    # affine_grid maps output coords to input coords: the inverse of stretch-then-rotate.
    theta = torch.stack([torch.stack([cos / sx * flip, sin / sx, tx], 1),
                         torch.stack([-sin / sy * flip, cos / sy, ty], 1)], 1)
    grid = F.affine_grid(theta, list(batch.image.shape), align_corners=False)
    valid = torch.ones_like(batch.mask)
    stacked = F.grid_sample(torch.cat([batch.image, batch.mask, batch.teacher, valid], 1), grid,
                            mode="bilinear", padding_mode="zeros", align_corners=False)
    inside = stacked[:, 5:6]
    image = stacked[:, :3] + (1 - inside) * background
    return replace(batch, image=image, mask=stacked[:, 3:4], teacher=stacked[:, 4:5])


def _photometric(x: torch.Tensor, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    b = x.shape[0]
    rnd = lambda *s: torch.rand(*s, generator=g, device=g.device)  # noqa: E731
    u = lambda n, r: (1.0 + (rnd(b, *n) * 2 - 1) * r)  # noqa: E731
    x = x * u((1, 1, 1), cfg.brightness)
    mean = x.mean((1, 2, 3), keepdim=True)
    x = (x - mean) * u((1, 1, 1), cfg.contrast) + mean
    grey = x.mean(1, keepdim=True)
    x = (x - grey) * u((1, 1, 1), cfg.saturation) + grey
    x = x * u((3, 1, 1), cfg.hue_gain)  # per-channel gain: white balance / colour cast
    x = x.clamp(0, 1)
    gamma = cfg.gamma[0] + (cfg.gamma[1] - cfg.gamma[0]) * rnd(b, 1, 1, 1)
    x = x.clamp_min(1e-6) ** gamma
    if cfg.blur_p > 0:
        # Two strengths (a 3x3 box, and that applied twice) chosen per sample, every sample blurred
        # and selected with where(): no data-dependent branch, so no host sync on a GPU.
        once = _box_blur(x, 3)
        twice = _box_blur(once, 3)
        u = rnd(b)[:, None, None, None]
        x = torch.where(u < cfg.blur_p / 2, twice, torch.where(u < cfg.blur_p, once, x))
    if cfg.noise_p > 0:
        sel = (rnd(b) < cfg.noise_p).float()[:, None, None, None]
        noise = torch.randn(x.shape, generator=g, device=g.device) * cfg.noise_std
        x = x + sel * noise * rnd(b, 1, 1, 1)
    if cfg.gray_p > 0:
        sel = (rnd(b) < cfg.gray_p)[:, None, None, None]
        x = torch.where(sel, x.mean(1, keepdim=True).expand_as(x), x)
    return x.clamp(0, 1)


def person_free_backgrounds(images: torch.Tensor, person: torch.Tensor) -> torch.Tensor:
    """Backgrounds from donor samples: their (small) person painted out.

    `images` B x 3 x H x W in [0, 1] and `person` B x 1 x H x W (mask or teacher map) of donors the
    caller picked for little person area, so the painted-out hole is small and the rest a real scene.
    """
    return _paint_out_person(images, person)


def random_mirror(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    flip = torch.rand(x.shape[0], generator=g, device=g.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def background_swap(batch: Batch, p: float, g: torch.Generator, background: torch.Tensor) -> Batch:
    """Paste each selected labelled person onto `background` (person-free scenes, one per sample)."""
    b = batch.image.shape[0]
    if p <= 0:
        return batch
    sel = (torch.rand(b, generator=g, device=g.device) < p) & (batch.mask_weight > 0)
    alpha = batch.mask * sel[:, None, None, None]
    image = alpha * batch.image + (1 - alpha) * torch.where(sel[:, None, None, None], background, batch.image)
    # The teacher saw the original background, so its map no longer applies to a swapped image.
    return replace(batch, image=image,
                   teacher_weight=torch.where(sel, torch.zeros_like(batch.teacher_weight), batch.teacher_weight))


def _resize(x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Antialiased bilinear resize (area-like when shrinking, as the runtime's resize is)."""
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)


def augment(batch: Batch, cfg: AugmentConfig, g: torch.Generator, background: torch.Tensor,
            size: int | None = None) -> Batch:
    """`g` must live on the batch's device: random draws stay there (no host round trips).

    `background`: one person-free scene per sample (`person_free_backgrounds`), used both for the
    background swap and to fill what a zoom-out uncovers. Two different draws would cost a second
    inpaint per step; the mirror and the warp already make the two uses look different.
    `size`: the square output side (default: the input's), for training at a lower resolution;
    `background` best comes at that size already (it is resized otherwise).
    """
    if size is not None and (size, size) != tuple(batch.image.shape[-2:]):
        # Resized first: the warp's bilinear taps would alias a larger source, and every later op
        # runs on fewer pixels.
        maps = _resize(torch.cat([batch.image, batch.mask, batch.teacher], 1), (size, size))
        batch = replace(batch, image=maps[:, :3], mask=maps[:, 3:4], teacher=maps[:, 4:5])
    if background.shape[-2:] != batch.image.shape[-2:]:
        background = _resize(background, tuple(batch.image.shape[-2:]))
    batch = background_swap(batch, cfg.background_swap_p, g, background)
    batch = _affine(batch, cfg, g, background)
    return replace(batch, image=_photometric(batch.image, cfg, g))
