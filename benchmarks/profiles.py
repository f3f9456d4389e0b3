"""Device profiles: data (benchmarks/profiles/devices.json), not code.

A profile names what it emulates and how this x86 host approximates it: kernels, thread count, CPU
pinning, precisions, warm-up and run count, the delegate whose op support is checked, and optionally
either a slowdown factor or a published on-device time of the reference model, each with its source.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from portrait_mobile.litert import KERNELS
from portrait_bench.compat import DELEGATES
from portrait_bench.datafile import load_json_file

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
DEFAULT_PROFILES_FILE = PROFILES_DIR / "devices.json"
SCHEMA = "portrait-bench-profiles/1"

PRECISIONS = ("int8", "fp32", "fp16")


class ProfileError(ValueError):
    """A profile file or a profile selection is invalid."""


@dataclass(frozen=True)
class Slowdown:
    """measured_ms x factor = estimated device ms; ``source`` says where the factor was published."""

    factor: float
    source: str
    note: str = ""


@dataclass(frozen=True)
class ReferenceOnDevice:
    """A published on-device time of the reference model: estimated device ms = ratio x ``ms``."""

    ms: float
    device: str
    what: str
    source: str
    caveat: str = ""


@dataclass(frozen=True)
class DelegateCheck:
    delegate: str  # nnapi | gpu | coreml
    android_api_level: int = 30
    allow_quant_ops: bool = True
    max_delegated_partitions: int | None = None

    def describe(self) -> str:
        if self.delegate == "nnapi":
            return f"NNAPI delegate, Android API level {self.android_api_level}"
        if self.delegate == "gpu":
            q = "quantized ops allowed" if self.allow_quant_ops else "float only"
            return f"GPU delegate ({q})"
        return "Core ML / Neural Engine (heuristic)"


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    title: str
    emulates: str
    target: str  # cpu | nnapi | gpu | coreml
    kernels: str = "xnnpack"
    threads: int = 1
    cpus: tuple[int, ...] | None = None
    native_precision: str = "fp32"
    precisions: tuple[str, ...] = ("int8", "fp32")
    warmup: int = 20
    runs: int = 100
    delegate_check: DelegateCheck | None = None
    slowdown: Slowdown | None = None
    reference_on_device: ReferenceOnDevice | None = None
    proxy_note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kernels not in KERNELS:
            raise ProfileError(f"profile {self.name!r}: kernels must be one of {KERNELS}, got {self.kernels!r}")
        if self.threads < 1:
            raise ProfileError(f"profile {self.name!r}: threads must be >= 1")
        if self.runs < 1 or self.warmup < 0:
            raise ProfileError(f"profile {self.name!r}: runs must be >= 1 and warmup >= 0")
        for p in (*self.precisions, self.native_precision):
            if p not in PRECISIONS:
                raise ProfileError(f"profile {self.name!r}: unknown precision {p!r} (known: {PRECISIONS})")
        if self.delegate_check is not None and self.delegate_check.delegate not in DELEGATES:
            raise ProfileError(f"profile {self.name!r}: unknown delegate {self.delegate_check.delegate!r}")

    def how(self) -> str:
        """One line: how this host emulates the profile."""
        pin = f"pinned to CPU {','.join(map(str, self.cpus))}" if self.cpus else "not pinned"
        kern = "XNNPACK" if self.kernels == "xnnpack" else "TFLite builtin kernels"
        return f"{self.threads} thread{'s' if self.threads > 1 else ''}, {pin}, {kern}, warm-up {self.warmup}, {self.runs} runs"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DeviceProfile":
        d = dict(d)
        try:
            name = d["name"]
        except KeyError:
            raise ProfileError(f"a profile without a name: {d}") from None
        known = {f for f in cls.__dataclass_fields__}  # noqa: C416
        extra = {k: v for k, v in d.items() if k not in known}
        kw = {k: v for k, v in d.items() if k in known and k != "extra"}
        try:
            if kw.get("cpus") is not None:
                kw["cpus"] = tuple(int(c) for c in kw["cpus"])
            if "precisions" in kw:
                kw["precisions"] = tuple(kw["precisions"])
            if kw.get("delegate_check"):
                kw["delegate_check"] = DelegateCheck(**kw["delegate_check"])
            if kw.get("slowdown"):
                kw["slowdown"] = Slowdown(**kw["slowdown"])
            if kw.get("reference_on_device"):
                kw["reference_on_device"] = ReferenceOnDevice(**kw["reference_on_device"])
            return cls(extra=extra, **kw)
        except TypeError as e:
            raise ProfileError(f"profile {name!r}: {e}") from None


def load_profiles(path: str | Path | None = None) -> dict[str, DeviceProfile]:
    """Profiles by name, in file order. ``path`` defaults to the shipped devices.json."""
    p = Path(path) if path is not None else DEFAULT_PROFILES_FILE
    data = load_json_file(p, SCHEMA, "profile", ProfileError)
    out: dict[str, DeviceProfile] = {}
    for d in data.get("profiles", []):
        prof = DeviceProfile.from_dict(d)
        if prof.name in out:
            raise ProfileError(f"{p}: duplicate profile {prof.name!r}")
        out[prof.name] = prof
    if not out:
        raise ProfileError(f"{p}: no profiles")
    return out


def split_profile_names(raw: list[str] | None) -> list[str]:
    """--profile values (repeated and/or comma-separated) as one list of names."""
    return [n.strip() for value in raw or [] for n in value.split(",") if n.strip()]


def select_profiles(names: list[str] | None, profiles: dict[str, DeviceProfile]) -> list[DeviceProfile]:
    """``None`` or ``['all']`` selects every profile, ``[]`` none; unknown names raise listing the known ones."""
    if names is None or "all" in names:
        return list(profiles.values())
    out = []
    for part in split_profile_names(names):
        if part not in profiles:
            from portrait_bench.arm.cores import CORES

            raise ProfileError(f"unknown profile {part!r}; known: {', '.join(profiles)} (or 'all'); "
                               f"under ARM emulation: {', '.join(CORES)} (or 'arm')")
        if profiles[part] not in out:
            out.append(profiles[part])
    return out
