"""The model contract every exported artifact carries: what goes in, what comes out.

Written by the exporters (ONNX metadata_props, TFLite metadata, Core ML user_defined_metadata and
a sidecar JSON), read by the runtime and the demo apps; nothing else hard-codes these facts.

A contract is checked when it is made, so one read from a file (`from_dict`/`from_json`, which
name the file) or built in code is well-formed or refused with a ContractError naming the field:
types, finite numbers, known enum values, positive scales and std, sizes within MAX_INPUT_SIDE.

Two roles of model carry one (formats.ROLES): the segmenter (the photo squashed to its input, a
probability out) and the edge refiner of quality "accurate" (`tiles`: 4-channel tiles of the photo's
working frame on the coarse contour, R, G, B and `extra_channels` = the coarse probability, in; the
tile's refined probability out). Fields added to schema 1 for the refiner (LATER_FIELDS) are written
only when they differ from their default, so a segmenter's contract is byte for byte what it was, and
a reader that predates them refuses a refiner's contract (its resize, "contour-tiles") instead of
taking it for a segmenter.
"""
from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, NoReturn

from .errors import ContractError
from .file_input import parse_json
from .formats import EDGE_REFINER, FORMATS, ROLES, SEGMENTER
from .model_card import CARD_NAME, CARD_VERSION, WEIGHTS_LICENSE, WeightsTerms
from .names import is_file_stem
from .tile_grid import TileGrid

if TYPE_CHECKING:
    from .config import ModelConfig

CONTRACT_KEY = "portrait_mobile_contract"
SCHEMA = "portrait-mobile-contract/1"

# The values each field may take; anything else is refused, never silently ignored.
LAYOUTS = ("NHWC", "NCHW")
COLOR_ORDERS = ("RGB", "BGR")
# squash: the whole image resized to the input size, aspect not kept (a segmenter); contour-tiles: the
# photo at its working frame, cut into the tiles the coarse contour crosses (an edge refiner).
RESIZES = ("squash", "contour-tiles")
# What an edge refiner's 4th input channel may be (after R, G, B; uint8 like the pixels): the coarse
# model's probability at the working frame, or that probability through the runtime's guided filter
# there (runtime.band.with_channel).
EXTRA_CHANNELS = ("coarse_probability", "guided_probability")
# Fields added to schema 1 after its first edition (the edge refiner's), written only when they differ
# from their default.
LATER_FIELDS = ("role", "extra_channels", "tiles")
MAX_WORK_SIDE = 8192  # an edge refiner's working frame: the runtime allocates it
REFINER_OUTPUT_MEANING = ("refined person probability in [0, 1] of the tile, at 1/out_stride of the working "
                          "frame; it replaces the coarse probability in the tile's core")
TENSOR_DTYPES = ("float32", "uint8", "int8")
QUANT_RANGES = {"uint8": (0, 255), "int8": (-128, 127)}
PRECISIONS = tuple(dict.fromkeys(p for f in FORMATS for p in f.precisions))
TARGETS = tuple(f.target for f in FORMATS)
# Per side: a phone model's input. The runtime allocates the input tensor from these numbers, so a
# contract saying 100000 would ask for tens of gigabytes; the exporter's --imgsz limit is this one.
MAX_INPUT_SIDE = 2048


@dataclass(frozen=True)
class TensorQuant:
    """Affine quantization of an int tensor: real = scale * (q - zero_point)."""

    dtype: str  # "uint8" | "int8"
    scale: float
    zero_point: int

    def check(self, name: str) -> None:
        """ContractError unless a known int dtype, a finite positive scale and a zero point in range."""
        if self.dtype not in QUANT_RANGES:
            _fail(f"{name}.dtype", f"is {_r(self.dtype)}, not one of {', '.join(QUANT_RANGES)}")
        _number(f"{name}.scale", self.scale, positive=True)
        lo, hi = QUANT_RANGES[self.dtype]
        if not _is_int(self.zero_point) or not lo <= self.zero_point <= hi:
            _fail(f"{name}.zero_point", f"is {_r(self.zero_point)}, not an integer in [{lo}, {hi}]")


@dataclass(frozen=True)
class ModelContract:
    model_name: str
    version: str
    input_height: int
    input_width: int
    # Input as the artifact takes it; the runtime converts an RGB uint8 image to this.
    input_layout: str = "NHWC"  # "NHWC" | "NCHW"
    input_dtype: str = "float32"  # "float32" | "uint8" | "int8"
    color_order: str = "RGB"
    # After scaling to [0, 1]: x = (pixel / 255 - mean) / std, per channel.
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    resize: str = "squash"  # the whole image is resized to the input size, aspect not kept
    input_name: str = "image"
    output_name: str = "mask"
    output_layout: str = "NHWC"
    output_height: int = 0
    output_width: int = 0
    output_dtype: str = "float32"
    output_meaning: str = "person probability in [0, 1]; threshold 0.5 for a binary mask"
    input_quant: TensorQuant | None = None
    output_quant: TensorQuant | None = None
    precision: str = "fp32"  # weights/activations: fp32 | fp16 | int8
    target: str = "pytorch"  # onnx | tflite | coreml | pytorch
    # The shipped weights' terms (not the code's Apache-2.0): see model_card.WEIGHTS_LICENSE.
    license: str = WEIGHTS_LICENSE
    author: str = "portrait-mobile"
    # The card that describes the model and its terms: a file name and its edition, no URL (an app
    # may be offline; the exporter copies the card next to the artifacts).
    model_card: str = CARD_NAME
    model_card_version: str = CARD_VERSION
    metrics: dict[str, Any] = field(default_factory=dict)
    # What the model is (formats.ROLES); an edge refiner's extra input channels (EXTRA_CHANNELS, after
    # the colour ones) and its tile geometry.
    role: str = SEGMENTER
    extra_channels: tuple[str, ...] = ()
    tiles: TileGrid | None = None
    schema: str = SCHEMA

    def __post_init__(self) -> None:
        _check(self)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for f in fields(self):
            if f.name in LATER_FIELDS and getattr(self, f.name) == f.default:
                del d[f.name]
        return d

    @property
    def input_channels(self) -> int:
        return 3 + len(self.extra_channels)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: Any, where: str = "model contract") -> "ModelContract":
        """The contract of a parsed JSON document; ContractError naming `where` (the file) and the field.

        Keys that are not fields (a sidecar's "parity" and "export") are ignored.
        """
        try:
            if not isinstance(d, dict):
                _fail("contract", f"is a JSON {type(d).__name__}, not an object")
            if d.get("schema") != SCHEMA:
                _fail("schema", f"is {_r(d.get('schema'))}, not {_r(SCHEMA)} (not a portrait-mobile contract)")
            known = {f.name for f in fields(cls)}
            kw = {k: v for k, v in d.items() if k in known}
            for k in ("mean", "std"):
                if isinstance(kw.get(k), list):
                    kw[k] = tuple(kw[k])
            for k in ("input_quant", "output_quant"):
                if kw.get(k) is not None:
                    kw[k] = _quant(k, kw[k])
            if isinstance(kw.get("extra_channels"), list):
                kw["extra_channels"] = tuple(kw["extra_channels"])
            if kw.get("tiles") is not None:
                kw["tiles"] = _tiles(kw["tiles"])
            missing = [f.name for f in fields(cls) if f.name not in kw and _required(f)]
            if missing:
                _fail(missing[0], "is missing")
            return cls(**kw)
        except ContractError as e:
            raise ContractError(f"{where}: {e}") from None

    @classmethod
    def from_json(cls, text: str | bytes, where: str = "model contract") -> "ModelContract":
        return cls.from_dict(parse_json(text, ContractError, where), where)


def _fail(name: str, problem: str) -> NoReturn:
    raise ContractError(f"invalid model contract: {name} {problem}")


def _r(v: object) -> str:
    """A value as the error shows it: its repr, cut short (a tampered field may be megabytes)."""
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(name: str, v: object, positive: bool = False) -> None:
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
        _fail(name, f"is {_r(v)}, not a finite number")
    if positive and not v > 0:
        _fail(name, f"is {_r(v)}, not a positive number")


def _required(f: Any) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


def _quant(name: str, v: object) -> TensorQuant:
    if not isinstance(v, dict) or set(v) != {"dtype", "scale", "zero_point"}:
        _fail(name, f"is {_r(v)}, not {{dtype, scale, zero_point}}")
    return TensorQuant(**v)


def _tiles(v: object) -> TileGrid:
    keys = {f.name for f in fields(TileGrid)}
    if not isinstance(v, dict) or set(v) != keys:
        _fail("tiles", f"is {_r(v)}, not {{{', '.join(sorted(keys))}}}")
    try:
        return TileGrid(**v)
    except ValueError as e:
        _fail("tiles", f"is {_r(v)}: {e}")


def _check(c: ModelContract) -> None:
    """Every field of `c` well-formed (see the module docstring), else ContractError naming it."""
    for name in ("model_name", "version", "input_name", "output_name", "output_meaning", "license", "author",
                 "model_card", "model_card_version"):
        if not isinstance(getattr(c, name), str):
            _fail(name, f"is {_r(getattr(c, name))}, not a string")
    if not c.model_name:
        _fail("model_name", "is empty")
    if c.schema != SCHEMA:
        _fail("schema", f"is {_r(c.schema)}, not {_r(SCHEMA)}")
    for name, low in (("input_height", 1), ("input_width", 1), ("output_height", 0), ("output_width", 0)):
        v = getattr(c, name)
        if not _is_int(v) or not low <= v <= MAX_INPUT_SIDE:
            _fail(name, f"is {_r(v)}, not an integer in [{low}, {MAX_INPUT_SIDE}]")
    for name, allowed in (("input_layout", LAYOUTS), ("output_layout", LAYOUTS), ("color_order", COLOR_ORDERS),
                          ("resize", RESIZES), ("input_dtype", TENSOR_DTYPES), ("output_dtype", TENSOR_DTYPES),
                          ("precision", PRECISIONS), ("target", TARGETS)):
        if getattr(c, name) not in allowed:
            _fail(name, f"is {_r(getattr(c, name))}, not one of {', '.join(allowed)}")
    for name in ("mean", "std"):
        v = getattr(c, name)
        if not isinstance(v, tuple) or len(v) != 3:
            _fail(name, f"is {_r(v)}, not three numbers (R, G, B)")
        for i, x in enumerate(v):
            _number(f"{name}[{i}]", x, positive=name == "std")
    for side in ("input", "output"):
        q, dtype = getattr(c, f"{side}_quant"), getattr(c, f"{side}_dtype")
        if q is not None:
            if not isinstance(q, TensorQuant):
                _fail(f"{side}_quant", f"is {_r(q)}, not a TensorQuant")
            q.check(f"{side}_quant")
        if dtype in QUANT_RANGES and (q is None or q.dtype != dtype):
            _fail(f"{side}_quant", f"must give the scale and zero point of the {dtype} {side} (it is {_r(q)})")
    if c.model_card and not is_file_stem(c.model_card):  # "" = no card; else a file beside the artifact
        _fail("model_card", f"is {_r(c.model_card)}, not a plain file name")
    if not isinstance(c.metrics, dict):
        _fail("metrics", f"is {type(c.metrics).__name__}, not an object")
    _check_role(c)


def _check_role(c: ModelContract) -> None:
    """A segmenter takes the squashed photo; an edge refiner its tiles, all of whose fields must agree."""
    if c.role not in ROLES:
        _fail("role", f"is {_r(c.role)}, not one of {', '.join(ROLES)}")
    if not isinstance(c.extra_channels, tuple) or any(x not in EXTRA_CHANNELS for x in c.extra_channels):
        _fail("extra_channels", f"is {_r(c.extra_channels)}, not a list of {', '.join(EXTRA_CHANNELS)}")
    if c.tiles is not None and not isinstance(c.tiles, TileGrid):
        _fail("tiles", f"is {_r(c.tiles)}, not a TileGrid")
    if c.role == SEGMENTER:
        for name, want in (("resize", "squash"), ("extra_channels", ()), ("tiles", None)):
            if getattr(c, name) != want:
                _fail(name, f"is {_r(getattr(c, name))}: a segmenter's is {_r(want)}")
        return
    t = c.tiles
    if t is None:
        _fail("tiles", "is missing: an edge refiner's contract gives its tile geometry")
    if t.work_long_side > MAX_WORK_SIDE:
        _fail("tiles.work_long_side", f"is {t.work_long_side}, more than {MAX_WORK_SIDE}")
    if len(c.extra_channels) != 1:
        _fail("extra_channels", f"is {_r(c.extra_channels)}: an edge refiner takes one, one of {', '.join(EXTRA_CHANNELS)}")
    if c.resize != "contour-tiles":
        _fail("resize", f"is {_r(c.resize)}: an edge refiner's is 'contour-tiles'")
    if (c.input_height, c.input_width) != (t.tile, t.tile):
        _fail("input_height", f"and input_width are {c.input_height}x{c.input_width}, not its tile {t.tile}x{t.tile}")
    if (c.output_height, c.output_width) != (t.out_tile, t.out_tile):
        _fail("output_height", f"and output_width are {c.output_height}x{c.output_width}, not its output tile "
                               f"{t.out_tile}x{t.out_tile}")
    if any(c.mean) or any(v != 1 for v in c.std):
        _fail("mean", "and std must be 0 and 1: an edge refiner's channels are all value / 255, one encoding for the four")


def pytorch_contract(config: "ModelConfig", version: str = "pytorch",
                     metrics: dict[str, Any] | None = None, terms: WeightsTerms | None = None) -> ModelContract:
    """How the PyTorch model of `config` is fed: RGB in [0, 1] float, NCHW, squashed to the input size;
    its output the probability, NCHW, at the input size (see model.PortraitNet).

    The one description of the PyTorch model's input: the checkpoint (`Checkpoint.contract()`), the
    parity reference, the runtime's torch backend and evaluation derive their pre-processing from it.
    `terms`: the weights' licence and card (`Checkpoint.terms()`), else the shipped weights'.
    """
    h, w = config.input_size
    return ModelContract(model_name=config.name, version=version, input_height=h, input_width=w,
                         input_layout="NCHW", output_layout="NCHW", output_height=h, output_width=w,
                         target="pytorch", metrics=dict(metrics or {}),
                         **(asdict(terms) if terms else {}))


def refiner_fields(grid: TileGrid, channel: str = EXTRA_CHANNELS[0]) -> dict[str, Any]:
    """What every artifact of an edge refiner with this geometry and 4th channel says about its input
    and output (the format's own layouts and dtypes aside)."""
    return dict(role=EDGE_REFINER, extra_channels=(channel,), tiles=grid, resize="contour-tiles",
                input_height=grid.tile, input_width=grid.tile, output_height=grid.out_tile,
                output_width=grid.out_tile, output_meaning=REFINER_OUTPUT_MEANING, input_name="tiles")


def refiner_pytorch_contract(config: Any, version: str = "pytorch",
                             metrics: dict[str, Any] | None = None,
                             terms: WeightsTerms | None = None) -> ModelContract:
    """How the PyTorch refiner of `config` (a refine.config.RefinerConfig, which imports this module) is
    fed (refine.model.TileRefiner): N x 4 x T x T float in
    [0, 1], NCHW; its output the tile's probability, NCHW, at T / out_stride."""
    return ModelContract(model_name=config.name, version=version, input_layout="NCHW", output_layout="NCHW",
                         target="pytorch", metrics=dict(metrics or {}),
                         **refiner_fields(config.grid(), config.prob_channel),
                         **(asdict(terms) if terms else {}))
