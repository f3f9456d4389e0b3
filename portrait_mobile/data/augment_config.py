"""Augmentation settings, kept free of torch so the CLIs can list the presets without importing it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AugmentConfig:
    scale: tuple[float, float] = (0.5, 1.25)  # < 1 zooms out: small/full-body people on a real background
    # Width/height stretch before the squash: phone frames of 9:16 to 4:3, crops of any aspect, all
    # squashed to the square input as the runtime does. Drawn log-uniformly.
    aspect: tuple[float, float] = (0.75, 1.33)
    max_rotate_deg: float = 20.0
    max_shift: float = 0.15
    flip_p: float = 0.5
    background_swap_p: float = 0.25
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.4
    hue_gain: float = 0.08
    gamma: tuple[float, float] = (0.7, 1.4)
    blur_p: float = 0.2
    noise_p: float = 0.3
    noise_std: float = 0.04
    gray_p: float = 0.05
    # Where the person leaves the frame (a portrait's torso at the bottom, shoulders at the sides) the
    # warp keeps that border covered: a zoom-out, shift or tilt never puts a fill scene under a cut
    # body, which taught the model that frame borders are background (most of its error on PFCN).
    anchor_exits: bool = True


# "full" trains from scratch with hard cases (small people, odd light); "light" is for the final
# low-LR fine-tune, closer to the selfie framing the model serves.
AUGMENT_PRESETS: dict[str, AugmentConfig] = {
    "full": AugmentConfig(),
    # Still reaches a small person (0.7) and other framings: the last stage must not forget them.
    "light": AugmentConfig(scale=(0.7, 1.15), aspect=(0.85, 1.18), max_rotate_deg=10.0, max_shift=0.08,
                           background_swap_p=0.15,
                           brightness=0.2, contrast=0.2, saturation=0.25, hue_gain=0.04, gamma=(0.8, 1.25),
                           blur_p=0.1, noise_p=0.15, gray_p=0.02),
}
