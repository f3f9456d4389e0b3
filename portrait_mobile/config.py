"""Named model configurations: one config drives training, export and benchmarks."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .names import check_file_stem
from .registry import Registry, config_from_dict


# Far above any member of the family, far below what fills the memory.
MAX_CHANNELS = 1024


def _check_ints(name: str, field: str, values: tuple[Any, ...], lo: int, hi: int) -> None:
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi]
    if bad:
        raise ValueError(f"{name}: {field} must be integers in {lo}..{hi}, got {bad[0]!r}")


@dataclass(frozen=True)
class ModelConfig:
    """Shape of one member of the model family.

    widths: encoder channels per stage; stage 0 is the stride-2 stem, each later stage halves again.
    hdc_stages: indices of the encoder stages that end with a hybrid dilated conv block.
    dilations: the HDC sawtooth (no common factor > 1, so no gridding).
    refine_scale: resolution of the refinement stage relative to the input (1 = full, 2 = half):
        design.md measured a full-resolution refinement as 75% of the latency.
    """

    name: str
    widths: tuple[int, ...] = (8, 16, 32, 64, 96)
    hdc_stages: tuple[int, ...] = (3, 4)
    dilations: tuple[int, ...] = (1, 2, 3)
    blocks_per_stage: tuple[int, ...] = (0, 1, 1, 1, 1)
    decoder_widths: tuple[int, ...] = (64, 32, 16)
    refine_width: int = 8
    refine_scale: int = 2
    input_size: tuple[int, int] = (256, 256)
    activation: str = "relu"
    # Hidden width of an image-pooling block after the deepest stage (0 = none): the only op that
    # sees the whole frame (MediaPipe's graph has ten squeeze-and-excitation blocks).
    global_context: int = 0
    # How many times each HDC stage's body (its residual blocks and HDC block) runs. Passes after
    # the first reuse the same weights, mixed in by a per-channel gate that starts at zero: more
    # depth at 1/16 and 1/32, where a phone pays least, for few more bytes (the int8 file binds;
    # each reused conv still adds its own int32 bias and quantization parameters). Their BatchNorms
    # keep their statistics in training, so grow such a model from a trained one (`fit --init`).
    deep_passes: int = 1

    def __post_init__(self) -> None:
        # The name becomes file names (artifacts, shipped weights): checked before anything else.
        check_file_stem(self.name, "model config name")
        # Read from checkpoints someone else may have made: a tampered shape must fail here, by name,
        # not as a negative tensor size (or a memory-filling one) deep inside torch.
        _check_ints(self.name, "widths", self.widths, 1, MAX_CHANNELS)
        _check_ints(self.name, "decoder_widths", self.decoder_widths, 1, MAX_CHANNELS)
        _check_ints(self.name, "refine_width", (self.refine_width,), 1, MAX_CHANNELS)
        _check_ints(self.name, "global_context", (self.global_context,), 0, MAX_CHANNELS)
        _check_ints(self.name, "blocks_per_stage", self.blocks_per_stage, 0, 16)
        _check_ints(self.name, "deep_passes", (self.deep_passes,), 1, 4)
        _check_ints(self.name, "dilations", self.dilations, 1, 64)
        _check_ints(self.name, "hdc_stages", self.hdc_stages, 0, 64)
        _check_ints(self.name, "input_size", self.input_size, 1, 4096)
        if not self.dilations or len(self.input_size) != 2:
            raise ValueError(f"{self.name}: need at least one dilation and an input size (height, width)")
        if len(self.widths) < 3:
            raise ValueError(f"{self.name}: need at least 3 encoder stages, got {len(self.widths)}")
        if len(self.blocks_per_stage) != len(self.widths):
            raise ValueError(f"{self.name}: blocks_per_stage must have one entry per stage")
        if len(self.decoder_widths) > len(self.widths) - 1:
            raise ValueError(f"{self.name}: more decoder stages than skips")
        if any(s < 0 or s >= len(self.widths) for s in self.hdc_stages):
            raise ValueError(f"{self.name}: hdc_stages out of range: {self.hdc_stages}")
        if self.refine_scale not in (1, 2, 4):
            raise ValueError(f"{self.name}: refine_scale must be 1, 2 or 4")
        stride = 2 ** len(self.widths)
        h, w = self.input_size
        if h % stride or w % stride:
            raise ValueError(f"{self.name}: input size {h}x{w} must be a multiple of {stride}")
        if self.activation not in ("relu", "relu6", "hardswish"):
            raise ValueError(f"{self.name}: unsupported activation {self.activation!r}")

    @property
    def coarse_stride(self) -> int:
        """Downsampling factor of the coarse (decoder) output."""
        return 2 ** (len(self.widths) - len(self.decoder_widths))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        return config_from_dict(cls, d, "model config")

    def with_input_size(self, h: int, w: int) -> "ModelConfig":
        return ModelConfig.from_dict({**self.to_dict(), "input_size": (h, w)})


_REGISTRY: Registry[ModelConfig] = Registry("model config", error=KeyError)
register = _REGISTRY.register
get_config = _REGISTRY.get
list_configs = _REGISTRY.names


DEFAULT_CONFIG = "portrait-sd-256"

register(ModelConfig(name="portrait-s-256"))
# portrait-s-256 with the image-pooling block: this session's recipe (docs/experiments.md, s_gc_*), not
# yet better than portrait-s-256 on the carves; grown from it with `fit --init`.
register(ModelConfig(name="portrait-sgc-256", global_context=24))
# The shipped default: portrait-s-256 two residual blocks deeper at 1/16 and 1/32 (train.grow keeps its
# function): +31k parameters where they cost least on a phone (int8 162.6 KiB, 0.726x MediaPipe's A76
# instructions against portrait-s-256's 0.707x; docs/experiments.md, sessions 25-27).
register(ModelConfig(name="portrait-sd-256", blocks_per_stage=(0, 1, 1, 3, 3)))
# The shipped default with portrait-sgc-256's image-pooling block (+4,728 parameters): grown from a
# portrait-sd-256 checkpoint with `fit --init` (docs/experiments.md, session 40), not shipped.
register(ModelConfig(name="portrait-sdgc-256", blocks_per_stage=(0, 1, 1, 3, 3), global_context=24))
# portrait-sdgc-256 one residual block deeper at 1/16 and 1/32 (+15,392 parameters), grown from it
# with `fit --init` (docs/experiments.md, session 47), not shipped.
register(ModelConfig(name="portrait-sd4gc-256", blocks_per_stage=(0, 1, 1, 4, 4), global_context=24))
# portrait-sdgc-256 with its 1/16 and 1/32 bodies run twice on the same weights (+160 gate
# parameters): more compute where it is cheap, grown from it with `fit --init` (docs/experiments.md,
# session 47), not shipped.
register(ModelConfig(name="portrait-sdgc2-256", blocks_per_stage=(0, 1, 1, 3, 3), global_context=24,
                     deep_passes=2))
register(
    ModelConfig(
        name="portrait-m-256",
        widths=(12, 24, 48, 80, 128),
        decoder_widths=(80, 48, 24),
        blocks_per_stage=(0, 1, 2, 2, 2),
        refine_width=12,
    )
)
register(
    ModelConfig(
        name="portrait-xs-256",
        widths=(8, 12, 24, 48, 64),
        decoder_widths=(48, 24, 12),
        refine_width=6,
    )
)
