"""portrait_bench.op_labels: short layer names from the long tensor names of a PyTorch export."""
from __future__ import annotations

from portrait_bench.op_labels import short_layer_name


def test_short_layer_names() -> None:
    name = (
        "litert_torch._convert.to_channel_last_io.ChannelLastIOWrapper/portrait_mobile.model.PortraitNet_wrapped/"
        "portrait_mobile.model.Encoder_encoder/torch.nn.modules.container.Sequential_1/"
        "portrait_mobile.layers.DSConv_0/portrait_mobile.layers.ConvBNAct_pw/torch.nn.modules.conv.Conv2d_conv;1"
    )
    assert short_layer_name(name) == "encoder.1.0.pw.conv"
