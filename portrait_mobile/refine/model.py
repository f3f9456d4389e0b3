"""The tile refiner: RGB + coarse probability of one tile in, refined probability of the tile out.

Mobile ops only: conv (full, depthwise, dilated), ReLU, add, bilinear resize, sigmoid; static shapes.
Input N x 4 x T x T in [0, 1] (RGB, then the coarse probability at the working resolution); output
N x 1 x T/2 x T/2 logits (`forward_logits`) or probabilities (`forward`), at half the working
resolution (config.OUTPUT_STRIDE).
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from ..layers import ConvBNAct, DSConv, ResidualDS, fuse_batchnorms, up2
from .config import DEFAULT_REFINER, OUTPUT_STRIDE, RefinerConfig, get_refiner_config

IN_CHANNELS = 4  # R, G, B, coarse probability


class TileRefiner(nn.Module):
    """Stride-2 stem, a stride-4 context path (dilated residual blocks) added back at stride 2, and a
    head whose output is a correction of the coarse logit."""

    def __init__(self, cfg: RefinerConfig) -> None:
        super().__init__()
        self.config = cfg
        c1, c2 = cfg.widths
        self.stem = ConvBNAct(IN_CHANNELS, c1, 3, stride=OUTPUT_STRIDE)
        self.down = DSConv(c1, c2, stride=2)
        self.context = nn.Sequential(*[ResidualDS(c2, dilation=d) for d in cfg.context_dilations])
        # An add, not a concat: at these widths a concat and the conv after it cost twice the ARM
        # instructions of the 1x1 projection (int8 requantization of both inputs, a wider conv).
        self.project = ConvBNAct(c2, c1, 1, act=None)
        self.head = nn.Conv2d(c1, 1, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        # The coarse logit base_gain * (2p - 1) at the output's resolution: a fixed 2x2 stride-2 conv
        # averaging the probability channel (one CONV_2D in the exported graph, no slicing op).
        # A buffer, not a parameter: not trained, not saved.
        g, s = float(cfg.base_gain), OUTPUT_STRIDE
        w = torch.zeros(1, IN_CHANNELS, s, s)
        w[0, 3] = 2 * g / (s * s)
        self.register_buffer("base_weight", w, persistent=False)
        self.register_buffer("base_bias", torch.tensor([-g]), persistent=False)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        f1 = self.stem(x)
        f2 = self.context(self.down(f1))
        f = F.relu(f1 + up2(self.project(f2), tuple(f1.shape[-2:])))
        return F.conv2d(x, self.base_weight, self.base_bias, stride=OUTPUT_STRIDE) + self.head(f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.forward_logits(x))

    def fuse_for_export(self) -> "TileRefiner":
        """Fold every BatchNorm into its conv (in place); call on an eval-mode copy."""
        return fuse_batchnorms(self)  # type: ignore[return-value]


def build_refiner(config: str | RefinerConfig = DEFAULT_REFINER) -> TileRefiner:
    return TileRefiner(get_refiner_config(config) if isinstance(config, str) else config)
