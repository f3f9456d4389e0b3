"""The portrait model: a channel-slimmed U-Net with HDC deep stages and a cheap refinement stage."""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .config import DEFAULT_CONFIG, ModelConfig, get_config
from .contract import ModelContract, pytorch_contract
from .layers import ConvBNAct, DSConv, GlobalContext, HDCBlock, ResidualDS, fuse_batchnorms, up2


def pass_gate_key(stage: int, p: int) -> str:
    """The `Encoder.pass_gates` key of encoder stage `stage`'s pass `p` (1 = its first repeat)."""
    return f"{stage}_{p}"


class Encoder(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        stages: list[nn.Module] = []
        # Per stage: the layers a repeated pass runs again (residual blocks, HDC), as a slice.
        self.bodies: dict[int, slice] = {}
        self.pass_gates = nn.ParameterDict()
        cin = 3
        for i, cout in enumerate(cfg.widths):
            layers: list[nn.Module] = []
            if i == 0:
                layers.append(ConvBNAct(cin, cout, 3, stride=2, act=cfg.activation))
            else:
                layers.append(DSConv(cin, cout, stride=2, act=cfg.activation))
            for _ in range(cfg.blocks_per_stage[i]):
                layers.append(ResidualDS(cout, act=cfg.activation))
            if i in cfg.hdc_stages:
                layers.append(HDCBlock(cout, cfg.dilations, act=cfg.activation))
                self.bodies[i] = slice(1, len(layers))
                for r in range(1, cfg.deep_passes):
                    self.pass_gates[pass_gate_key(i, r)] = nn.Parameter(torch.zeros(1, cout, 1, 1))
            if i == len(cfg.widths) - 1 and cfg.global_context:
                layers.append(GlobalContext(cout, cfg.global_context, act=cfg.activation))
            stages.append(nn.Sequential(*layers))
            cin = cout
        self.stages = nn.ModuleList(stages)
        self.passes = cfg.deep_passes

    def train(self, mode: bool = True) -> "Encoder":
        super().train(mode)
        if self.passes > 1:
            # A repeated body's BatchNorms see two input distributions in training but fold into one
            # conv for export: they keep the statistics they have (their scale and shift still learn).
            for i, body in self.bodies.items():
                for m in self.stages[i][body].modules():
                    if isinstance(m, nn.BatchNorm2d):
                        m.eval()
        return self

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for i, stage in enumerate(self.stages):
            body = self.bodies.get(i)
            if body is None or not self.pass_gates:
                x = stage(x)
            else:
                x = stage[: body.stop](x)
                for r in range(1, self.passes):
                    x = x + self.pass_gates[pass_gate_key(i, r)] * (stage[body](x) - x)
                x = stage[body.stop:](x)
            feats.append(x)
        return feats


class Decoder(nn.Module):
    """Bilinear upsampling + concatenated skip + depthwise-separable fusion, then a 1x1 head."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        cin = cfg.widths[-1]
        skips = list(reversed(cfg.widths[:-1]))
        self.fuse = nn.ModuleList()
        for skip_ch, cout in zip(skips, cfg.decoder_widths):
            self.fuse.append(DSConv(cin + skip_ch, cout, act=cfg.activation))
            cin = cout
        self.head = nn.Conv2d(cin, 1, 1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        x = feats[-1]
        skips = list(reversed(feats[:-1]))
        for block, skip in zip(self.fuse, skips):
            x = block(torch.cat([up2(x), skip], dim=1))
        return self.head(x)


class Refiner(nn.Module):
    """Sharpens the coarse logits using the image (and the stem features at that scale).

    Runs at input/refine_scale resolution and predicts a residual on the upsampled coarse logits,
    so it only has to learn the edge correction.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.scale = cfg.refine_scale
        # Encoder stage i has stride 2**(i+1); reuse the one at the refinement's scale if any.
        self.skip_stage = {2: 0, 4: 1}.get(self.scale)
        skip_ch = cfg.widths[self.skip_stage] if self.skip_stage is not None else 0
        cin = 1 + 3 + skip_ch
        w = cfg.refine_width
        # The image is averaged down to the refinement's scale with a fixed depthwise conv instead of
        # avg_pool2d: the same numbers, but XNNPACK runs int8 DEPTHWISE_CONV_2D and not int8
        # AVERAGE_POOL_2D (which cost 21% of the int8 model's time). Not a parameter, not saved.
        k = self.scale
        self.register_buffer("pool_weight", torch.full((3, 1, k, k), 1.0 / (k * k)), persistent=False)
        self.body = nn.Sequential(
            DSConv(cin, w, act=cfg.activation),
            DSConv(w, w, act=cfg.activation),
            nn.Conv2d(w, 1, 1),
        )

    def forward(self, image: torch.Tensor, coarse: torch.Tensor, feats: list[torch.Tensor]) -> torch.Tensor:
        h, w = image.shape[-2:]
        size = (h // self.scale, w // self.scale)
        img = image if self.scale == 1 else F.conv2d(image, self.pool_weight, stride=self.scale, groups=3)
        base = up2(coarse, size)
        parts = [base, img]
        if self.skip_stage is not None:
            parts.append(feats[self.skip_stage])
        return base + self.body(torch.cat(parts, dim=1))


class PortraitNet(nn.Module):
    """Input: RGB float in [0, 1], NCHW. `forward` returns the person probability at input size."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.refiner = Refiner(cfg)

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(refined logits at input size, coarse logits at 1/coarse_stride)."""
        feats = self.encoder(x)
        coarse = self.decoder(feats)
        refined = self.refiner(x, coarse, feats)
        if refined.shape[-2:] != x.shape[-2:]:
            refined = up2(refined, tuple(x.shape[-2:]))
        return refined, coarse

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.forward_train(x)[0])

    def contract(self) -> ModelContract:
        """How this model is fed and what it returns (see contract.pytorch_contract)."""
        return pytorch_contract(self.config)

    def fuse_for_export(self) -> "PortraitNet":
        """Fold every BatchNorm into its conv (in place); call on an eval-mode copy."""
        return fuse_batchnorms(self)  # type: ignore[return-value]


def build_model(config: str | ModelConfig = DEFAULT_CONFIG) -> PortraitNet:
    cfg = get_config(config) if isinstance(config, str) else config
    return PortraitNet(cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
