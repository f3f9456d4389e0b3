"""The tile refiner: RGB + coarse probability of one tile in, refined probability of the tile out.

Mobile ops only: conv (full, depthwise, dilated), ReLU, add, bilinear resize, sigmoid; static shapes.
Input N x 4 x T x T in [0, 1] (RGB, then the coarse probability at the working resolution); output
N x 1 x T/s x T/s logits (`forward_logits`) or probabilities (`forward`), s the config's
output_stride (half the working resolution, or the working resolution through a sub-pixel head).
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from ..layers import ConvBNAct, DSConv, ResidualDS, fuse_batchnorms, up2
from .config import DEFAULT_REFINER, FEATURE_STRIDE, RefinerConfig, get_refiner_config

IN_CHANNELS = 4  # R, G, B, coarse probability


class TileRefiner(nn.Module):
    """Stride-2 stem, a stride-4 context path (dilated residual blocks) added back at stride 2, and a
    head whose output is a correction of the coarse logit."""

    def __init__(self, cfg: RefinerConfig) -> None:
        super().__init__()
        self.config = cfg
        c1, c2 = cfg.widths
        self.stem = ConvBNAct(IN_CHANNELS, c1, 3, stride=FEATURE_STRIDE)
        self.down = DSConv(c1, c2, stride=2)
        self.context = nn.Sequential(*[ResidualDS(c2, dilation=d) for d in cfg.context_dilations])
        # An add, not a concat: at these widths a concat and the conv after it cost twice the ARM
        # instructions of the 1x1 projection (int8 requantization of both inputs, a wider conv).
        self.project = ConvBNAct(c2, c1, 1, act=None)
        up = FEATURE_STRIDE // cfg.output_stride
        # At the working resolution the head is a sub-pixel layer: a 1x1 conv to up*up channels, one
        # per output pixel of a feature pixel, then a pixel shuffle. (A 2x2 stride-2 TRANSPOSE_CONV
        # computes the same and cost 1.7x the whole tile's ARM instructions.)
        self.head = nn.Conv2d(c1, up * up, 1)
        self.up = up
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        # The coarse logit base_gain * (2p - 1) on the head's grid: a fixed 2x2 stride-2 conv of the
        # probability channel (one CONV_2D in the exported graph, no slicing op), averaging each 2x2
        # block, or with a sub-pixel head one channel per pixel of the block (a space-to-depth), so
        # that one add and one pixel shuffle serve both. A buffer: not trained, not saved.
        g, s = float(cfg.base_gain), FEATURE_STRIDE
        w = torch.zeros(up * up, IN_CHANNELS, s, s)
        if up == 1:
            w[0, 3] = 2 * g / (s * s)
        else:
            for i in range(up):
                for j in range(up):
                    w[i * up + j, 3, i, j] = 2 * g
        self.register_buffer("base_weight", w, persistent=False)
        self.register_buffer("base_bias", torch.full((up * up,), -g), persistent=False)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        f1 = self.stem(x)
        f2 = self.context(self.down(f1))
        f = F.relu(f1 + up2(self.project(f2), tuple(f1.shape[-2:])))
        y = F.conv2d(x, self.base_weight, self.base_bias, stride=FEATURE_STRIDE) + self.head(f)
        return F.pixel_shuffle(y, self.up) if self.up > 1 else y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.forward_logits(x))

    def fuse_for_export(self) -> "TileRefiner":
        """Fold every BatchNorm into its conv (in place); call on an eval-mode copy."""
        return fuse_batchnorms(self)  # type: ignore[return-value]


def build_refiner(config: str | RefinerConfig = DEFAULT_REFINER) -> TileRefiner:
    return TileRefiner(get_refiner_config(config) if isinstance(config, str) else config)
