"""Small delegate-friendly building blocks: conv+BN+act, depthwise-separable, HDC residual."""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


def make_act(name: str) -> nn.Module:
    return {"relu": nn.ReLU, "relu6": nn.ReLU6, "hardswish": nn.Hardswish}[name]()


class ConvBNAct(nn.Module):
    """Conv2d + BatchNorm (+ activation). `fuse()` folds the BN into the conv for export."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1,
                 groups: int = 1, act: str | None = "relu") -> None:
        super().__init__()
        # Stride 1: symmetric padding is TFLite's SAME. Stride 2 on an even size: SAME pads only
        # bottom/right; torch's symmetric padding would become an explicit PAD op in the .tflite
        # (slower, and it breaks int8 same-scale constraints), so pad the SAME way here. Not for
        # the full conv on the model input: there the converter wraps the pad in NCHW transposes.
        self.same_pad = (0, 1, 0, 1) if stride == 2 and k == 3 and dilation == 1 and groups > 1 else None
        pad = 0 if self.same_pad else dilation * (k - 1) // 2
        self.conv = nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, groups=groups, bias=False)
        self.bn: nn.Module = nn.BatchNorm2d(cout)
        self.act = make_act(act) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.same_pad:
            x = F.pad(x, self.same_pad)
        return self.act(self.bn(self.conv(x)))

    @torch.no_grad()
    def fuse(self) -> None:
        if not isinstance(self.bn, nn.BatchNorm2d):
            return
        bn = self.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        w = self.conv.weight * scale.reshape(-1, 1, 1, 1)
        b = bn.bias - bn.running_mean * scale
        if self.conv.bias is not None:
            b = b + self.conv.bias * scale
        conv = nn.Conv2d(self.conv.in_channels, self.conv.out_channels, self.conv.kernel_size,
                         self.conv.stride, self.conv.padding, dilation=self.conv.dilation,
                         groups=self.conv.groups, bias=True)
        conv.weight.copy_(w)
        conv.bias.copy_(b)
        self.conv = conv
        self.bn = nn.Identity()


def fuse_batchnorms(model: nn.Module) -> nn.Module:
    """Fold every ConvBNAct's BatchNorm into its conv, in place, in eval mode; returns `model`.
    What every exported network does first (call it on an eval-mode copy)."""
    model.eval()
    for m in model.modules():
        if isinstance(m, ConvBNAct):
            m.fuse()
    return model


class DSConv(nn.Module):
    """Depthwise 3x3 (optionally strided / dilated) then pointwise 1x1."""

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1, act: str = "relu",
                 last_act: bool = True) -> None:
        super().__init__()
        self.dw = ConvBNAct(cin, cin, 3, stride, dilation, groups=cin, act=act)
        self.pw = ConvBNAct(cin, cout, 1, act=act if last_act else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw(x))


class ResidualDS(nn.Module):
    """Depthwise-separable residual block at constant width."""

    def __init__(self, ch: int, dilation: int = 1, act: str = "relu") -> None:
        super().__init__()
        self.body = DSConv(ch, ch, dilation=dilation, act=act, last_act=False)
        self.act = make_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class HDCBlock(nn.Module):
    """Hybrid dilated convolution: consecutive 3x3 convs with sawtooth rates (e.g. 1, 2, 3).

    Rates with no common factor cover every pixel of the receptive field, unlike repeated rate-2
    convs that leave a grid of holes (Wang et al. 2018).
    """

    def __init__(self, ch: int, dilations: tuple[int, ...], act: str = "relu") -> None:
        super().__init__()
        self.dilations = tuple(dilations)
        layers = [DSConv(ch, ch, dilation=d, act=act, last_act=i < len(dilations) - 1)
                  for i, d in enumerate(dilations)]
        self.body = nn.Sequential(*layers)
        self.act = make_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class GlobalContext(nn.Module):
    """Image pooling: the frame's mean feature, through a 1x1 bottleneck, added back everywhere.

    Gives the deepest stage a view of the whole frame (is this a person or a poster of one?) with
    delegate-friendly ops only: MEAN, two 1x1 CONV_2D, RELU, a broadcast ADD. The last conv starts
    at zero, so the block is the identity at init and a trained model can be fine-tuned with it.
    """

    def __init__(self, ch: int, hidden: int, act: str = "relu") -> None:
        super().__init__()
        self.reduce = nn.Conv2d(ch, hidden, 1)
        self.act = make_act(act)
        self.expand = nn.Conv2d(hidden, ch, 1)
        nn.init.zeros_(self.expand.weight)
        nn.init.zeros_(self.expand.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.expand(self.act(self.reduce(x.mean((2, 3), keepdim=True))))


def up2(x: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Bilinear upsampling (half-pixel centres: RESIZE_BILINEAR on every delegate)."""
    if size is None:
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
