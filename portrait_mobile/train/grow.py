"""Grow a trained model into a bigger member of the family that computes exactly what it did
(Net2Net's "deeper" move, Chen et al. 2016), so a fine-tune starts from the trained weights.

Three growths keep the function:
- an image-pooling block (`global_context`) after the deepest stage: its last conv starts at zero;
- more residual blocks in an encoder stage (`blocks_per_stage`): each new block's last BatchNorm
  starts at zero scale and shift, so the block adds nothing and its ReLU passes the (already
  rectified) input through;
- more weight-tied passes of the HDC stages' bodies (`deep_passes`): each new pass's gate starts at
  zero, so the pass adds nothing.
Anything else (other widths, dilations, decoder) is a different network and is refused.
"""
from __future__ import annotations

import re
from dataclasses import replace

import torch

from ..checkpoint import Checkpoint
from ..config import ModelConfig
from ..errors import PortraitError
from ..layers import GlobalContext, ResidualDS
from ..model import PortraitNet, pass_gate_key

_STAGE_KEY = re.compile(r"^encoder\.stages\.(\d+)\.(\d+)\.(.*)$")


def growth_of(old: ModelConfig, new: ModelConfig) -> str | None:
    """Why `old` cannot grow into `new` (None when it can). Names are labels and never compared."""
    if len(old.blocks_per_stage) != len(new.blocks_per_stage):
        return "another number of encoder stages"
    if any(n < o for o, n in zip(old.blocks_per_stage, new.blocks_per_stage)):
        return "fewer residual blocks in a stage"
    if new.deep_passes < old.deep_passes:
        return "fewer passes of the deep stages"
    if old.global_context and new.global_context != old.global_context:
        return "another image-pooling width"
    if new.blocks_per_stage != old.blocks_per_stage and new.activation == "hardswish":
        # A zeroed block leaves act(x); only the ReLUs give back their own (rectified) input.
        return "residual blocks added to a hardswish model"
    rest = replace(old, name=new.name, blocks_per_stage=new.blocks_per_stage,
                   global_context=new.global_context, deep_passes=new.deep_passes)
    if rest != new:
        return "other widths or layers"
    return None


def _moved_key(key: str, old: ModelConfig, new: ModelConfig) -> str:
    """Where an encoder weight of `old` sits in `new`: a stage's layers are [downsample, residual
    blocks..., HDC, image pooling], so the layers after the residual blocks move down by the
    number of blocks added."""
    m = _STAGE_KEY.match(key)
    if not m:
        return key
    stage, layer, rest = int(m[1]), int(m[2]), m[3]
    if layer > old.blocks_per_stage[stage]:
        layer += new.blocks_per_stage[stage] - old.blocks_per_stage[stage]
    return f"encoder.stages.{stage}.{layer}.{rest}"


def _new_blocks(old: ModelConfig, new: ModelConfig) -> list[str]:
    """Module names of the residual blocks `new` adds (appended after a stage's existing ones)."""
    return [f"encoder.stages.{s}.{j}"
            for s, (a, b) in enumerate(zip(old.blocks_per_stage, new.blocks_per_stage))
            for j in range(a + 1, b + 1)]


def grown_modules(old: ModelConfig, model: PortraitNet) -> list[str]:
    """Names of the modules of `model` that a checkpoint of `old` has no weights for."""
    added = _new_blocks(old, model.config)
    if not old.global_context:
        added += [n for n, m in model.named_modules() if isinstance(m, GlobalContext)]
    return added


def _new_gates(old: ModelConfig, model: PortraitNet) -> list[str]:
    """Parameter names of the pass gates `model` has and a checkpoint of `old` lacks."""
    return [f"encoder.pass_gates.{pass_gate_key(i, p)}" for i in model.encoder.bodies
            for p in range(old.deep_passes, model.config.deep_passes)]


def grown_parameters(old: ModelConfig, model: PortraitNet) -> list[str]:
    """Names of the parameters of `model` that growing a checkpoint of `old` into it adds."""
    prefixes = tuple(f"{n}." for n in grown_modules(old, model))
    gates = set(_new_gates(old, model))
    return [n for n, _ in model.named_parameters() if n.startswith(prefixes) or n in gates]  # () matches nothing


@torch.no_grad()
def grow_into(init: Checkpoint, model: PortraitNet, name: str) -> dict[str, torch.Tensor]:
    """Load `init` into `model` (same config, or one grown from it as above); returns the state
    loaded. Raises PortraitError naming `name` when the checkpoint does not fit."""
    old, new = init.config, model.config
    why = growth_of(old, new)
    if why:
        raise PortraitError(f"{name} is a {old.name} checkpoint that does not fit {new.name} ({why})")
    state = {_moved_key(k, old, new): v for k, v in init.state_dict.items()}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # a tensor of another shape under a known name
        raise PortraitError(f"{name}: weights do not fit {new.name} ({_first_line(e)})") from None
    modules = dict(model.named_modules())
    new_blocks = _new_blocks(old, new)
    prefixes = tuple(f"{n}." for n in grown_modules(old, model))
    gates = _new_gates(old, model)
    if unexpected or not all(k.startswith(prefixes) or k in gates for k in missing):
        raise PortraitError(f"{name}: weights do not fit {new.name} (missing {missing}, unexpected {unexpected})")
    for n in new_blocks:
        block = modules[n]
        if not isinstance(block, ResidualDS):
            raise PortraitError(f"{new.name}: {n} is a {type(block).__name__}, not a residual block")
        last_bn = block.body.pw.bn
        last_bn.weight.zero_()
        last_bn.bias.zero_()
    params = dict(model.named_parameters())
    for n in gates:
        params[n].zero_()
    return model.state_dict()


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return lines[1] if len(lines) > 1 and lines[0].startswith("Error(s)") else (lines[0] if lines else type(e).__name__)
