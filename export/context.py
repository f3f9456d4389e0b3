"""Types shared by the exporters: the options a converter takes, the export context, one target's result."""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from portrait_mobile.contract import MAX_INPUT_SIDE, ModelContract, refiner_fields
from portrait_mobile.formats import EDGE_REFINER, EXPORT_FORMATS

from .errors import ExportUsageError
from .gate import Thresholds

if TYPE_CHECKING:
    from portrait_mobile.checkpoint import Checkpoint, WeightsFile
    from portrait_mobile.model import PortraitNet
    from portrait_mobile.refine.model import TileRefiner

    from .calibration import ImageSets
    from .int8_calibration import Int8Calibration
    from .parity import Reference
    from .refiner_parity import TileReference

# Read from the formats registry (portrait_mobile.formats): a target is one row there.
TARGETS = tuple(EXPORT_FORMATS)
PRECISIONS = tuple(dict.fromkeys(p for f in EXPORT_FORMATS.values() for p in f.precisions))
# What each target makes when --precision is not given; ONNX is always fp32.
DEFAULT_PRECISION = {t: f.default_precision for t, f in EXPORT_FORMATS.items()}
# Per side: a phone model's input; beyond it the converters need gigabytes. The contract's own limit,
# so an export never writes a contract the runtime refuses.
MAX_IMGSZ = MAX_INPUT_SIDE
SUPPORTED_PRECISIONS = {t: f.precisions for t, f in EXPORT_FORMATS.items()}
# --int8-granularity -> per-tensor tolerance of tflite_quantize.tensorwise_candidates (None: all per-channel).
# "auto" (2.0) on portrait-s-256, PFCN test (264): 26 of 41 convs per-tensor, 165 -> 136 KB, fg IoU
# unchanged (93.44 vs 93.45); "tensor" (all per-tensor): 115 KB but fg IoU -0.2 and mask IoU 0.987.
INT8_GRANULARITY = {"channel": None, "auto": 2.0, "tensor": float("inf")}
OPSETS = (11, 21)  # the ONNX opsets the exporter supports, inclusive


@dataclass(frozen=True)
class ExportOptions:
    """What a converter takes beyond the model (Ultralytics' export arguments). Which targets take
    each option is its format's row in portrait_mobile.formats (`options`); `resolve_options` refuses
    one that no requested target takes."""

    dynamic_batch: bool = False  # onnx: a symbolic batch dimension
    opset: int = 17  # onnx: the operator set
    int8_granularity: str = "auto"  # tflite int8 weight scales: one of INT8_GRANULARITY

    def __post_init__(self) -> None:
        if self.int8_granularity not in INT8_GRANULARITY:
            raise ExportUsageError(f"unknown int8 granularity {self.int8_granularity!r} "
                                   f"({', '.join(INT8_GRANULARITY)})")
        if not OPSETS[0] <= self.opset <= OPSETS[1]:
            raise ExportUsageError(f"--opset {self.opset} out of the supported range {OPSETS[0]}..{OPSETS[1]}")


def option_flag(name: str) -> str:
    """The portrait-export flag of an option."""
    return "--" + name.replace("_", "-")


def resolve_options(targets: Iterable[str], given: dict[str, Any]) -> ExportOptions:
    """The options for these targets from those the caller set (None: not set, the default applies).

    An option goes to the requested targets that take it; ExportUsageError for an unknown option, a
    bad value, or an option none of `targets` takes (a flag is never silently ignored).
    """
    targets = list(dict.fromkeys(targets))
    known = {f.name for f in fields(ExportOptions)}
    chosen = {k: v for k, v in given.items() if v is not None}
    for name in chosen:
        if name not in known:
            raise ExportUsageError(f"unknown export option {name!r} (known: {', '.join(sorted(known))})")
        takers = [t for t, f in EXPORT_FORMATS.items() if name in f.options]
        if not set(takers) & set(targets):
            raise ExportUsageError(f"{option_flag(name)} applies to {' and '.join(takers)} only, not to "
                                   f"{' or '.join(targets)}")
    return ExportOptions(**chosen)


@dataclass
class ExportResult:
    """One exported artifact (or one refused by its gate: then `passed` is False, nothing written)."""

    target: str
    precision: str
    path: Path
    json_path: Path
    contract: ModelContract | None
    parity: dict[str, Any]
    size_bytes: int
    seconds: float
    passed: bool = True
    error: str = ""

    @property
    def size_kb(self) -> float:
        return self.size_bytes / 1024.0


def path_size(path: Path) -> int:
    """Bytes of a file, or of every file under a directory (.mlpackage)."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


@dataclass
class ExportContext:
    """Everything a target's converter needs, built once per `export()` call.

    The checkpoint is a segmenter's or an edge refiner's (`role`); the reference is the PyTorch model's
    output on the parity sample for that role (photos, or contour tiles)."""

    checkpoint: "Checkpoint | WeightsFile"
    model: "PortraitNet | TileRefiner"  # eval-mode fp32 with BatchNorm folded
    out_dir: Path
    thresholds: Thresholds
    images: "ImageSets"
    reference: "Reference | TileReference"
    options: ExportOptions = field(default_factory=ExportOptions)
    weights_sha256: str = ""  # of the checkpoint's weights, computed once (by export(), else on first use)
    calibration: "Int8Calibration | None" = None  # when a calibrated precision (tflite int8) is planned
    # What a converter makes once and every precision of its target reuses (the fp32 .tflite).
    _shared: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def shared(self, key: str, make: Callable[[], Any]) -> Any:
        """`make()`, computed once per export() call under `key`."""
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]

    @property
    def name(self) -> str:
        return self.model.config.name

    @property
    def role(self) -> str:
        """What the checkpoint's model is (portrait_mobile.formats.ROLES)."""
        return self.checkpoint.role

    @property
    def input_size(self) -> tuple[int, int]:
        return tuple(self.model.config.input_size)  # type: ignore[return-value]

    def artifact_path(self, target: str, precision: str) -> Path:
        """portrait-sd-256.onnx, portrait-sd-256_int8.tflite, portrait-sd-256.mlpackage (fp16), ...

        The default precision of a target keeps the plain name, except where the format's row says
        the name always carries it (TFLite: int8 and fp32 files are both common).
        """
        fmt = EXPORT_FORMATS[target]
        h, w = self.input_size
        stem = self.name
        cfg_h, cfg_w = self.checkpoint.config.input_size
        if (h, w) != (cfg_h, cfg_w):
            stem += f"_{h}x{w}"
        if fmt.name_says_precision or precision != fmt.default_precision:
            stem += f"_{precision}"
        return self.out_dir / f"{stem}{fmt.suffix}"

    def base_contract(self, target: str, precision: str, **kw: Any) -> ModelContract:
        h, w = self.input_size
        metrics = dict(self.checkpoint.metrics or {})
        if not self.weights_sha256:
            self.weights_sha256 = weights_sha256(self.checkpoint)
        # The card and its licence only for weights trained on the card's data (a user's own
        # checkpoint gets a statement naming its sources, and no card).
        cfg = self.model.config
        shape = (refiner_fields(cfg.grid(), cfg.prob_channel) if self.role == EDGE_REFINER else
                 dict(input_height=h, input_width=w, output_height=h, output_width=w))
        return ModelContract(model_name=self.name, version=model_version(self.checkpoint, self.weights_sha256),
                             **shape, target=target,
                             precision=precision, metrics=_jsonable(metrics), **asdict(self.checkpoint.terms()),
                             **kw)


def weights_sha256(ckpt: "Checkpoint") -> str:
    """sha256 of the weights (names and values, in name order): what identifies a trained model."""
    import numpy as np

    h = hashlib.sha256()
    for k in sorted(ckpt.state_dict):
        v = ckpt.state_dict[k]
        h.update(k.encode())
        h.update(np.ascontiguousarray(v.detach().cpu().numpy()).tobytes())
    return h.hexdigest()


def model_version(ckpt: "Checkpoint", sha256: str = "") -> str:
    """`<train_info version or package version>+<first 8 hex of the weights' sha256>` (`sha256` when the
    caller has it)."""
    from portrait_mobile import __version__

    base = str((ckpt.train_info or {}).get("version") or __version__)
    return f"{base}+{(sha256 or weights_sha256(ckpt))[:8]}"


def _jsonable(obj: Any) -> Any:
    """Metrics as plain JSON types (checkpoints may hold numpy/torch scalars)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    item = getattr(obj, "item", None)
    if callable(item):
        try:
            return item()
        except (ValueError, RuntimeError):
            pass
    return str(obj)
