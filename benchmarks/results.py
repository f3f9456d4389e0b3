"""What a benchmark run gives: per model and profile the timings, their statistics and ratio to the
reference, memory, per-op time and the delegate check; per run the machine and the settings.
Each serializes to the ``portrait-bench-result/1`` JSON (``result.json``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portrait_bench.compat_types import CompatReport, DelegateReport
from portrait_bench.model_specs import ModelSpec
from portrait_bench.op_profile import OpProfile
from portrait_bench.profiles import DeviceProfile
from portrait_bench.timing import Pinning, Ratio, Stats


@dataclass
class ModelTiming:
    model: ModelSpec
    stats: Stats
    samples_ms: list[float]
    memory: dict[str, float] | None = None  # from a fresh process, see portrait_bench.memprobe
    ratio: Ratio | None = None
    estimate: dict[str, Any] | None = None

    @property
    def peak_mb(self) -> float | None:
        return None if not self.memory else self.memory["peak_delta_kb"] / 1024.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.label,
            "path": str(self.model.path),
            "precision": self.model.precision,
            "is_reference": self.model.is_reference,
            "stats": self.stats.to_dict(),
            "ratio_to_reference": self.ratio.to_dict() if self.ratio else None,
            "estimate": self.estimate,
            "memory": self.memory,
            "samples_ms": [round(x, 4) for x in self.samples_ms],
        }


@dataclass
class ProfileResult:
    profile: DeviceProfile
    pinning: Pinning
    timings: list[ModelTiming]
    reference: ModelTiming | None
    runs: int = 0
    warmup: int = 0
    compat: dict[str, DelegateReport] = field(default_factory=dict)  # model label -> report
    op_profiles: dict[str, dict[str, OpProfile]] = field(default_factory=dict)  # label -> mode -> profile
    notes: list[str] = field(default_factory=list)

    def measured(self) -> str:
        p = self.profile
        return (f"{p.threads} thread{'s' if p.threads > 1 else ''}, "
                f"{'XNNPACK' if p.kernels == 'xnnpack' else 'TFLite builtin kernels'}, "
                f"warm-up {self.warmup}, {self.runs} runs, interleaved; {self.pinning.note}")

    def timing(self, label: str) -> ModelTiming | None:
        return next((t for t in self.timings if t.model.label == label), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile.to_dict(),
            "emulation": {
                "measured": self.measured(),
                "pinning": self.pinning.to_dict(),
                "proxy_note": self.profile.proxy_note,
            },
            "timings": [t.to_dict() for t in self.timings],
            "reference": self.reference.to_dict() if self.reference else None,
            "compat": {k: v.to_dict() for k, v in self.compat.items()},
            "op_profiles": {k: {m: p.to_dict() for m, p in v.items()} for k, v in self.op_profiles.items()},
            "notes": self.notes,
        }


@dataclass
class BenchResult:
    machine: dict[str, Any]
    models: list[ModelSpec]
    reference: ModelSpec | None
    profiles: list[ProfileResult]
    compat: dict[str, CompatReport]
    settings: dict[str, Any]
    peak_rss_kb: float = 0.0
    arm: list[Any] = field(default_factory=list)  # portrait_bench.arm.profile_run.ArmProfileResult per arm-* profile

    def profile(self, name: str) -> ProfileResult | None:
        return next((p for p in self.profiles if p.profile.name == name), None)

    def arm_profile(self, name: str) -> Any | None:
        return next((p for p in self.arm if p.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "portrait-bench-result/1",
            "created": self.settings.get("created"),
            "machine": self.machine,
            "settings": self.settings,
            "models": [m.to_dict() for m in self.models],
            "reference": self.reference.to_dict() if self.reference else None,
            "peak_rss_kb": round(self.peak_rss_kb, 1),
            "profiles": [p.to_dict() for p in self.profiles],
            "compat": {k: v.to_dict() for k, v in self.compat.items()},
            "arm": [p.to_dict() for p in self.arm],
        }
