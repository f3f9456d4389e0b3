"""Model shapes, parameter budgets, HDC rates, delegate-friendly ops, refinement uses the image."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from portrait_mobile.config import DEFAULT_CONFIG, ModelConfig, get_config, list_configs
from portrait_mobile.layers import HDCBlock
from portrait_mobile.model import build_model, count_parameters

PARAMS = {"portrait-xs-256": 49_234, "portrait-s-256": 92_358, "portrait-sgc-256": 97_086, "portrait-sd-256": 123_142, "portrait-sdgc-256": 127_870, "portrait-sdgc2-256": 128_030, "portrait-sd4gc-256": 143_262, "portrait-m-256": 182_450}


@pytest.mark.parametrize("name", list_configs())
def test_shapes_and_params(name: str) -> None:
    model = build_model(name).eval()
    cfg = model.config
    h, w = cfg.input_size
    x = torch.rand(2, 3, h, w)
    with torch.no_grad():
        prob = model(x)
        refined, coarse = model.forward_train(x)
    assert prob.shape == (2, 1, h, w)
    assert refined.shape == (2, 1, h, w)
    assert coarse.shape == (2, 1, h // cfg.coarse_stride, w // cfg.coarse_stride)
    assert float(prob.min()) >= 0 and float(prob.max()) <= 1
    assert count_parameters(model) == PARAMS[name]


def test_default_is_small() -> None:
    assert count_parameters(build_model(DEFAULT_CONFIG)) < 150_000
    assert len(list_configs()) >= 2


def test_hdc_rates_in_deep_stages() -> None:
    model = build_model(DEFAULT_CONFIG)
    blocks = [m for m in model.modules() if isinstance(m, HDCBlock)]
    assert len(blocks) == len(model.config.hdc_stages)
    for b in blocks:
        rates = [m.dilation[0] for m in b.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
        assert rates == [1, 2, 3]


def test_only_delegate_friendly_modules() -> None:
    allowed = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.Hardswish, nn.Identity, nn.Sequential,
               nn.ModuleList, nn.ParameterDict)
    model = build_model(DEFAULT_CONFIG)
    leaves = [m for m in model.modules() if not list(m.children())]
    assert all(isinstance(m, allowed) for m in leaves), {type(m).__name__ for m in leaves}
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in model.modules())


def test_a_second_pass_reruns_the_deep_bodies_on_the_same_weights() -> None:
    """Gates at one: each HDC stage's residual blocks and HDC block run twice; at zero, once."""
    torch.manual_seed(0)
    model = build_model("portrait-sdgc2-256").eval()
    x = torch.rand(1, 3, 256, 256)
    enc = model.encoder
    with torch.no_grad():
        for g in enc.pass_gates.values():
            g.fill_(1.0)
        got = enc(x)
        want, h = [], x
        for i, stage in enumerate(enc.stages):
            body = enc.bodies.get(i)
            if body is None:
                h = stage(h)
            else:
                h = stage[body.stop:](stage[body](stage[body](stage[: body.start](h))))
            want.append(h)
        assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(got, want))
        for g in enc.pass_gates.values():
            g.zero_()
        once = [stage(h) for stage, h in zip(enc.stages, [x] + enc(x)[:-1])]
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(enc(x), once))
    assert sorted(enc.bodies) == list(model.config.hdc_stages)
    assert len(list(model.parameters())) == len(list(build_model("portrait-sdgc-256").parameters())) + 2


def test_repeated_bodies_keep_their_batchnorm_statistics_in_training() -> None:
    """Two passes through one BatchNorm would average two distributions into the statistics that
    export folds into one conv: in training they stay as they are; everything else still updates."""
    model = build_model("portrait-sdgc2-256").train()
    before = copy.deepcopy(model.state_dict())
    model.forward_train(torch.rand(2, 3, 256, 256))
    after = model.state_dict()
    changed = {k for k in before if "running_mean" in k and not torch.equal(before[k], after[k])}
    bodies = tuple(f"encoder.stages.{i}.{j}." for i, b in model.encoder.bodies.items()
                   for j in range(b.start, b.stop))
    assert changed and not any(k.startswith(bodies) for k in changed)
    assert any(k.startswith("encoder.stages.3.0.") for k in changed)  # the downsample is not repeated
    assert model.training and model.encoder.stages[3][1].body.dw.conv.training


def test_refinement_uses_the_image() -> None:
    """Changing the image only where the refiner looks (not through the encoder) changes the output."""
    torch.manual_seed(0)
    model = build_model(DEFAULT_CONFIG).eval()
    x = torch.rand(1, 3, 256, 256)
    feats = model.encoder(x)
    coarse = model.decoder(feats)
    a = model.refiner(x, coarse, feats)
    b = model.refiner(torch.rand_like(x), coarse, feats)
    assert (a - b).abs().max() > 1e-4


def test_fuse_for_export_keeps_outputs() -> None:
    torch.manual_seed(0)
    model = build_model(DEFAULT_CONFIG).eval()
    # Non-trivial BN statistics, so the fold is really tested.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    x = torch.rand(1, 3, 256, 256)
    fused = copy.deepcopy(model).fuse_for_export()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert torch.allclose(model(x), fused(x), atol=1e-5)


def test_config_round_trip_and_validation() -> None:
    cfg = get_config(DEFAULT_CONFIG)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="multiple of"):
        cfg.with_input_size(250, 256)
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict({**cfg.to_dict(), "bogus": 1})
    with pytest.raises(KeyError, match="unknown model config"):
        get_config("nope")
