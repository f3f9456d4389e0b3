"""Growing a trained model into a bigger family member keeps its outputs; anything else is refused."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from portrait_mobile.checkpoint import Checkpoint
from portrait_mobile.config import ModelConfig, get_config
from portrait_mobile.errors import PortraitError
from portrait_mobile.model import build_model
from portrait_mobile.train.grow import grow_into, grown_parameters, growth_of
from support.train_models import TINY


def _trained(cfg: ModelConfig) -> tuple[torch.nn.Module, Checkpoint]:
    """A model with non-trivial weights and batch-norm statistics (not the init's identity)."""
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        for name, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                v.copy_(v + 0.2 * torch.randn_like(v))
                if "running_var" in name:
                    v.abs_().add_(0.1)
    model.eval()
    return model, Checkpoint(cfg, model.state_dict())


@pytest.mark.parametrize("grown", [
    replace(TINY, name="deeper", blocks_per_stage=(0, 1, 1, 3, 3)),
    replace(TINY, name="deeper-early", blocks_per_stage=(1, 2, 1, 1, 2)),
    replace(TINY, name="pooled", global_context=4),
    replace(TINY, name="both", blocks_per_stage=(0, 1, 1, 2, 3), global_context=4),
    replace(TINY, name="passes", deep_passes=3),
])
def test_growth_keeps_the_outputs(grown: ModelConfig) -> None:
    old, ck = _trained(TINY)
    new = build_model(grown)
    grow_into(ck, new, "tiny")
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(old(x), new.eval()(x), atol=1e-6)
    # The new blocks are there to be trained: their last scale gets a gradient.
    new.train()
    new(x).mean().backward()
    grads = [b.body.pw.bn.weight.grad for n, b in new.named_modules() if n in {
        f"encoder.stages.{s}.{j}" for s, (a, c) in enumerate(zip(TINY.blocks_per_stage, grown.blocks_per_stage))
        for j in range(a + 1, c + 1)}]
    assert len(grads) == sum(grown.blocks_per_stage) - sum(TINY.blocks_per_stage)
    assert all(g is not None and g.abs().sum() > 0 for g in grads)
    # So are the new passes: their gates start at zero and get a gradient.
    gates = list(new.encoder.pass_gates.values())
    assert len(gates) == len(grown.hdc_stages) * (grown.deep_passes - 1)
    assert all(torch.count_nonzero(g) == 0 and g.grad.abs().sum() > 0 for g in gates)


def test_the_same_config_loads_as_it_is() -> None:
    old, ck = _trained(TINY)
    new = build_model(replace(TINY, name="renamed"))
    grow_into(ck, new, "tiny")
    assert all(torch.equal(v, new.state_dict()[k]) for k, v in ck.state_dict.items())


@pytest.mark.parametrize("other, why", [
    (replace(TINY, name="o", refine_width=6), "other widths or layers"),
    (replace(TINY, name="o", blocks_per_stage=(0, 1, 1, 0, 1)), "fewer residual blocks"),
    (replace(TINY, name="o", dilations=(1, 2, 5)), "other widths or layers"),
    (replace(TINY, name="o", widths=(4, 8, 8, 16, 24)), "other widths or layers"),
])
def test_other_networks_are_refused_by_name(other: ModelConfig, why: str) -> None:
    _, ck = _trained(TINY)
    with pytest.raises(PortraitError, match=f"does not fit o \\({why}"):
        grow_into(ck, build_model(other), "tiny.pt")


def test_hardswish_cannot_grow_blocks() -> None:
    hs = replace(TINY, activation="hardswish")
    assert growth_of(hs, replace(hs, blocks_per_stage=(0, 1, 1, 2, 1))) is not None
    assert growth_of(hs, replace(hs, global_context=4)) is None


def test_a_grown_checkpoint_does_not_shrink_back() -> None:
    deeper = replace(TINY, name="deeper", blocks_per_stage=(0, 1, 1, 2, 2))
    _, ck = _trained(deeper)
    with pytest.raises(PortraitError, match="fewer residual blocks"):
        grow_into(ck, build_model(TINY), "deeper.pt")


def test_passes_grow_from_fewer_and_not_back() -> None:
    two = replace(TINY, name="two", deep_passes=2)
    old, ck = _trained(two)
    three = build_model(replace(TINY, name="three", deep_passes=3))
    grow_into(ck, three, "two.pt")
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(old(x), three.eval()(x), atol=1e-6)
    # The trained second pass is loaded, not reset; only the third pass's gates are new.
    assert torch.equal(three.encoder.pass_gates["3_1"], old.encoder.pass_gates["3_1"])
    assert grown_parameters(two, three) == ["encoder.pass_gates.3_2", "encoder.pass_gates.4_2"]
    with pytest.raises(PortraitError, match="fewer passes of the deep stages"):
        grow_into(ck, build_model(TINY), "two.pt")


def test_the_registered_deeper_model_grows_from_the_shipped_family() -> None:
    assert growth_of(get_config("portrait-s-256"), get_config("portrait-sd-256")) is None
    assert growth_of(get_config("portrait-s-256"), get_config("portrait-sgc-256")) is None
    assert growth_of(get_config("portrait-sd-256"), get_config("portrait-sdgc-256")) is None
    assert growth_of(get_config("portrait-sgc-256"), get_config("portrait-sdgc-256")) is None
    assert growth_of(get_config("portrait-sdgc-256"), get_config("portrait-sdgc2-256")) is None
    assert growth_of(get_config("portrait-s-256"), get_config("portrait-m-256")) is not None


@pytest.mark.parametrize("grown, prefixes", [
    (replace(TINY, name="pooled", global_context=4), ("encoder.stages.4.3.",)),
    (replace(TINY, name="deeper", blocks_per_stage=(0, 1, 1, 3, 1)), ("encoder.stages.3.2.", "encoder.stages.3.3.")),
    (replace(TINY, name="passes", deep_passes=2), ("encoder.pass_gates.",)),
])
def test_grown_parameters_are_the_added_layers_and_nothing_else(grown: ModelConfig, prefixes: tuple) -> None:
    _, ck = _trained(TINY)
    new = build_model(grown)
    names = grown_parameters(TINY, new)
    assert names and all(n.startswith(prefixes) for n in names)
    # Every parameter outside them is loaded from the checkpoint by grow_into.
    grow_into(ck, new, "tiny")
    outside = [n for n, _ in new.named_parameters() if n not in names]
    assert len(outside) == sum(1 for k in ck.state_dict if k in dict(build_model(TINY).named_parameters()))
    assert grown_parameters(TINY, build_model(replace(TINY, name="same"))) == []
