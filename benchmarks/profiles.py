"""Device profiles: data (benchmarks/profiles/devices.json), not code; one registry for every kind.

A profile names what it emulates and which runner measures it (``RUNNERS``): ``host`` (the default)
approximates the device on this x86 host (kernels, thread count, CPU pinning, precisions, warm-up and
run count, the delegate whose op support is checked, and optionally either a slowdown factor or a
published on-device time of the reference model, each with its source); ``arm`` runs ARM64 LiteRT
under QEMU user mode with the core its ``arm`` table describes (:class:`portrait_bench.arm.cores.ArmCore`);
``web`` runs LiteRT.js in headless Chromium (:mod:`portrait_bench.web`). A new profile is a row of the
file; unknown keys are refused, as budgets refuse theirs.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from portrait_mobile.cli_support import MAX_THREADS
from portrait_mobile.litert import KERNELS
from portrait_bench.arm.cores import ArmCore, ArmCoreError
from portrait_bench.compat import DELEGATES
from portrait_bench.datafile import load_json_file

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
DEFAULT_PROFILES_FILE = PROFILES_DIR / "devices.json"
SCHEMA = "portrait-bench-profiles/1"

PRECISIONS = ("int8", "fp32", "fp16")
# What measures a profile: this host's LiteRT, ARM64 LiteRT under QEMU, LiteRT.js in headless Chromium.
RUNNERS = ("host", "arm", "web")
# --profile words that stand for a group: every host profile, every ARM one.
GROUPS = {"all": "host", "arm": "arm"}


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
    target: str = "cpu"  # cpu | nnapi | gpu | coreml
    runner: str = "host"  # one of RUNNERS
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
    arm: ArmCore | None = None  # runner "arm": the emulated core

    def __post_init__(self) -> None:
        if self.runner not in RUNNERS:
            raise ProfileError(f"profile {self.name!r}: runner must be one of {RUNNERS}, got {self.runner!r}")
        if (self.runner == "arm") != (self.arm is not None):
            raise ProfileError(f"profile {self.name!r}: an 'arm' table goes with runner 'arm', and only there")
        if self.kernels not in KERNELS:
            raise ProfileError(f"profile {self.name!r}: kernels must be one of {KERNELS}, got {self.kernels!r}")
        # Capped as every thread flag is: LiteRT segfaults on 100000 threads instead of failing.
        if not 1 <= self.threads <= MAX_THREADS:
            raise ProfileError(f"profile {self.name!r}: threads must be in 1..{MAX_THREADS}, got {self.threads!r}")
        if self.runs < 1 or self.warmup < 0:
            raise ProfileError(f"profile {self.name!r}: runs must be >= 1 and warmup >= 0")
        for p in (*self.precisions, self.native_precision):
            if p not in PRECISIONS:
                raise ProfileError(f"profile {self.name!r}: unknown precision {p!r} (known: {PRECISIONS})")
        if self.delegate_check is not None and self.delegate_check.delegate not in DELEGATES:
            raise ProfileError(f"profile {self.name!r}: unknown delegate {self.delegate_check.delegate!r}")

    def how(self) -> str:
        """One line: how this host emulates the profile."""
        if self.arm is not None:
            return f"qemu-aarch64 -cpu {self.arm.qemu_cpu}, MIDR part {self.arm.midr_part:#x}, 1 thread, XNNPACK"
        if self.runner == "web":
            return f"headless Chromium, LiteRT.js WASM, {self.threads} thread(s), {self.runs} runs"
        pin = f"pinned to CPU {','.join(map(str, self.cpus))}" if self.cpus else "not pinned"
        kern = "XNNPACK" if self.kernels == "xnnpack" else "TFLite builtin kernels"
        return f"{self.threads} thread{'s' if self.threads > 1 else ''}, {pin}, {kern}, warm-up {self.warmup}, {self.runs} runs"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DeviceProfile":
        try:
            name = d["name"]
        except (KeyError, TypeError):
            raise ProfileError(f"a profile without a name: {d}") from None
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ProfileError(f"profile {name!r} has unknown keys {sorted(unknown)} (known: {sorted(known)})")
        kw = dict(d)
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
            if kw.get("arm") is not None and kw.get("runner") == "arm":
                kw["arm"] = _arm_core(name, kw.get("title", ""), kw["arm"])
            return cls(**kw)
        except (TypeError, ValueError, ArmCoreError) as e:
            if isinstance(e, ProfileError):
                raise
            raise ProfileError(f"profile {name!r}: {e}") from None


def _arm_core(name: str, title: str, table: dict[str, Any]) -> ArmCore:
    """The ``arm`` table of a profile (MIDR fields may be written in hex, "0xd0b") as its ArmCore."""
    t = {k: int(v, 0) if k.startswith("midr_") and isinstance(v, str) else v for k, v in table.items()}
    return ArmCore(profile=name, title=title, **t)


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


def of_runner(profiles: dict[str, DeviceProfile], runner: str) -> list[DeviceProfile]:
    """The profiles one runner measures, in file order."""
    return [p for p in profiles.values() if p.runner == runner]


def arm_cores(path: str | Path | None = None) -> dict[str, ArmCore]:
    """The emulated ARM cores by profile name (the ``arm`` rows of the profiles file)."""
    return {p.name: p.arm for p in of_runner(load_profiles(path), "arm") if p.arm is not None}


def arm_core(name: str, path: str | Path | None = None) -> ArmCore:
    cores = arm_cores(path)
    try:
        return cores[name]
    except KeyError:
        raise ArmCoreError(f"unknown ARM profile {name!r}; known: {', '.join(cores)}") from None


def select_profiles(names: list[str] | None, profiles: dict[str, DeviceProfile]) -> list[DeviceProfile]:
    """``None`` selects every host profile, ``[]`` none; ``all`` stands for every host profile and
    ``arm`` for every ARM one; unknown names raise listing the known ones."""
    if names is None:
        return of_runner(profiles, "host")
    out: list[DeviceProfile] = []
    for part in split_profile_names(names):
        if part in GROUPS:
            chosen = of_runner(profiles, GROUPS[part])
        elif part in profiles:
            chosen = [profiles[part]]
        else:
            known = "; ".join(f"{r}: {', '.join(p.name for p in of_runner(profiles, r))}" for r in RUNNERS
                              if of_runner(profiles, r))
            raise ProfileError(f"unknown profile {part!r}; known: {known} (or {' / '.join(GROUPS)})")
        out += [p for p in chosen if p not in out]
    return out
