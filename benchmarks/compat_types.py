"""The delegate check's types: what it was asked (options), one rule set per delegate, and what it found
(a verdict per op, a report per delegate, a report per model)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from portrait_mobile.tflite_graph import Op, TFLiteGraph
from portrait_bench.op_labels import op_params


class CompatError(ValueError):
    """The request is invalid (an unknown delegate, a rule the table names but no module implements)."""


@dataclass(frozen=True)
class CheckOptions:
    """What the delegates are asked to take (see :func:`portrait_bench.compat.check_graph`)."""

    android_api_level: int = 30
    allow_quant_ops: bool = True
    max_partitions: dict[str, int | None] = field(default_factory=dict)  # per delegate; else the table's default


@dataclass
class OpVerdict:
    status: str  # ok | unsupported | uncertain | n/a
    reason: str = ""

    @property
    def delegated(self) -> bool:
        return self.status in ("ok", "n/a")


def verdict_of(reasons: Iterable[str | None]) -> OpVerdict:
    """'unsupported' with the first reason a rule gives (later rules are not asked), else 'ok'."""
    reason = next((r for r in reasons if r), None)
    return OpVerdict("unsupported", reason) if reason else OpVerdict("ok")


@dataclass
class DelegateReport:
    delegate: str
    settings: str
    source: str
    verdicts: list[OpVerdict]
    partitions: int
    max_partitions: int | None
    delegated_ops: int
    total_ops: int
    passed: bool
    warnings: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def coverage_pct(self) -> float:
        return 100.0 * self.delegated_ops / self.total_ops if self.total_ops else 100.0

    @property
    def fallback_ops(self) -> list[int]:
        return [i for i, v in enumerate(self.verdicts) if not v.delegated]

    def summary(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        if self.passed and self.warnings:
            status = "PASS with warnings"
        s = (
            f"{self.delegate}: {status} - {self.delegated_ops}/{self.total_ops} ops on the delegate "
            f"({self.coverage_pct:.0f}%), {self.partitions} partition{'s' if self.partitions != 1 else ''}"
        )
        if self.max_partitions is not None and self.partitions > self.max_partitions:
            s += f" (delegate keeps the {self.max_partitions} largest)"
        if self.warnings:
            s += f", {self.warnings} uncertain op{'s' if self.warnings != 1 else ''}"
        return s

    # What to_dict writes, in this order (coverage rounded, verdicts as "ops").
    _FIELDS = ("delegate", "settings", "source", "passed", "coverage_pct", "delegated_ops", "total_ops",
               "partitions", "max_partitions", "warnings", "fallback_ops", "notes")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {k: getattr(self, k) for k in self._FIELDS}
        d["coverage_pct"] = round(self.coverage_pct, 2)
        d["ops"] = [{"status": v.status, "reason": v.reason} for v in self.verdicts]
        return d


@dataclass
class CompatReport:
    model: str
    graph: TFLiteGraph
    delegates: dict[str, DelegateReport]

    @property
    def passed(self) -> bool:
        return all(d.passed for d in self.delegates.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "passed": self.passed,
            "ops": [
                {
                    "index": op.index,
                    "op": op.label,
                    "version": op.version,
                    "params": op_params(op, self.graph),
                    "layer": self.graph.output_name(op),
                }
                for op in self.graph.ops
            ],
            "delegates": {k: v.to_dict() for k, v in self.delegates.items()},
        }


@dataclass(frozen=True)
class DelegateRules:
    """One delegate's rule set (one module per delegate: nnapi_rules, gpu_rules, coreml_rules)."""

    name: str
    check_op: Callable[[Op, TFLiteGraph, dict[str, Any], CheckOptions], OpVerdict]  # table: this delegate's part
    settings: Callable[[CheckOptions, int | None], str]  # (options, max delegated partitions) -> one line
    heuristic_note: str = ""  # set: uncertain ops count off the delegate but only unsupported ones fail
