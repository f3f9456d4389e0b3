"""Latency / size / delegate-coverage budgets that CI enforces (``portrait-bench --budget FILE``).

A budget file is a list of rules. Each rule selects profiles and models (``profile``, ``precision``,
``model`` — ``"*"`` or absent means all) and bounds any of:

* ``median_ms``, ``p90_ms``: absolute latency on this host (only where the host is stable enough);
* ``ratio_to_reference``: our median / the reference's median, timed interleaved in the same process;
* ``size_kb``: the .tflite file size;
* ``delegate_coverage``: ``{"nnapi": 100, "gpu": 100}``, percent of ops each delegate would take.

A rule with ``"gate": false`` is information: it is evaluated and printed, but never fails the run
(x86 wall-clock ratios depend on which kernels the host CPU gets, so they cannot gate CI).

A rule that cannot be evaluated (no reference timed, profile not run, no matching model) is reported
as broken: a CI budget that silently checks nothing is worse than none.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .datafile import load_json_file

DEFAULT_BUDGET = Path(__file__).resolve().parent / "budgets" / "default.json"
SCHEMA = "portrait-bench-budget/1"
TIMING_METRICS = ("median_ms", "p90_ms", "ratio_to_reference")
MODEL_METRICS = ("size_kb", "delegate_coverage")
METRICS = TIMING_METRICS + MODEL_METRICS


class BudgetError(ValueError):
    """A budget file is missing or malformed."""


@dataclass(frozen=True)
class BudgetRule:
    name: str
    profile: str = "*"
    precision: str = "*"
    model: str = "*"
    limits: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    gate: bool = True  # False: reported, never fails the run

    def matches_model(self, label: str, precision: str, family: str) -> bool:
        if self.precision not in ("*", precision):
            return False
        return self.model == "*" or fnmatch.fnmatch(label, self.model) or fnmatch.fnmatch(family, self.model)

    def matches_profile(self, name: str) -> bool:
        return fnmatch.fnmatch(name, self.profile)


@dataclass(frozen=True)
class Budget:
    path: str
    description: str
    reference: str | None
    rules: tuple[BudgetRule, ...]

    def profiles(self) -> list[str] | None:
        """Profiles the timing rules need (None: all profiles; []: no timing needed)."""
        names: list[str] = []
        for r in self.rules:
            if not any(m in r.limits for m in TIMING_METRICS):
                continue
            if any(ch in r.profile for ch in "*?["):
                return None
            if r.profile not in names:
                names.append(r.profile)
        return names


@dataclass(frozen=True)
class Verdict:
    ok: bool
    rule: str
    metric: str
    subject: str
    value: float | None
    limit: float
    message: str
    gate: bool = True

    @property
    def broken(self) -> bool:
        """A gating rule that failed (an informational one never is)."""
        return self.gate and not self.ok

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("ok", "gate", "rule", "metric", "subject", "value", "limit", "message")}


def load_budget(path: str | Path) -> Budget:
    p = Path(path)
    d = load_json_file(p, SCHEMA, "budget", BudgetError)
    rules = []
    for i, r in enumerate(d.get("budgets", [])):
        limits = {k: r[k] for k in METRICS if k in r and r[k] is not None}
        unknown = set(r) - set(METRICS) - {"name", "profile", "precision", "model", "note", "gate"}
        if unknown:
            raise BudgetError(f"{p}: budget #{i + 1} has unknown keys {sorted(unknown)} (known metrics: {METRICS})")
        if not limits:
            raise BudgetError(f"{p}: budget #{i + 1} bounds nothing (give one of {METRICS})")
        for k, v in limits.items():
            if k == "delegate_coverage":
                if not isinstance(v, dict) or not v:
                    raise BudgetError(f"{p}: budget #{i + 1}: delegate_coverage must map delegate -> percent")
            elif not isinstance(v, (int, float)) or v <= 0:
                raise BudgetError(f"{p}: budget #{i + 1}: {k} must be a positive number")
        if not isinstance(r.get("gate", True), bool):
            raise BudgetError(f"{p}: budget #{i + 1}: gate must be true or false")
        name = r.get("name") or f"{r.get('profile', '*')}/{r.get('precision', '*')}"
        rules.append(
            BudgetRule(
                name=name,
                profile=r.get("profile", "*"),
                precision=r.get("precision", "*"),
                model=r.get("model", "*"),
                limits=limits,
                note=r.get("note", ""),
                gate=r.get("gate", True),
            )
        )
    if not rules:
        raise BudgetError(f"{p}: no budgets")
    ref = d.get("reference", "mediapipe")
    return Budget(str(p), d.get("description", ""), ref, tuple(rules))


def _fmt(v: float) -> str:
    return f"{v:.2f}" if abs(v) < 1000 else f"{v:.0f}"


def evaluate_budget(budget: Budget, result: Any) -> list[Verdict]:
    """Check every rule against a :class:`portrait_bench.api.BenchResult`."""
    out: list[Verdict] = []

    def add(rule: BudgetRule, metric: str, subject: str, value: float | None, limit: float, why: str = "") -> None:
        tag = "" if rule.gate else " (information, not a gate)"
        if value is None:
            msg = f"budget '{rule.name}' [{subject}] {metric} <= {_fmt(limit)}: could not be evaluated ({why}){tag}"
            out.append(Verdict(False, rule.name, metric, subject, None, limit, msg, rule.gate))
            return
        ok = value <= limit
        rel = "<=" if ok else ">"
        word = "ok" if ok else ("BROKEN" if rule.gate else "over")
        msg = f"{word}: budget '{rule.name}' [{subject}] {metric} = {_fmt(value)} {rel} {_fmt(limit)}{tag}"
        if not ok and rule.gate:
            msg += f"  ({budget.path})"
        out.append(Verdict(ok, rule.name, metric, subject, value, limit, msg, rule.gate))

    for rule in budget.rules:
        models = [m for m in result.models if rule.matches_model(m.label, m.precision, m.family)]
        for metric, limit in rule.limits.items():
            if metric in MODEL_METRICS:
                if not models:
                    add(rule, metric, f"{rule.precision} {rule.model}", None, 100.0 if metric == "delegate_coverage" else float(limit),
                        "no model of that precision was benchmarked")
                    continue
                for m in models:
                    if metric == "size_kb":
                        add(rule, metric, m.label, m.size_kb, float(limit))
                    else:
                        rep = result.compat.get(m.label)
                        for deleg, pct in limit.items():
                            d = rep.delegates.get(deleg) if rep else None
                            if d is None:
                                add(rule, f"delegate_coverage.{deleg}", m.label, None, float(pct), f"no {deleg} check ran")
                                continue
                            # a coverage *floor*: report the shortfall as the value to keep one comparison
                            ok = d.coverage_pct >= float(pct)
                            word = "ok" if ok else "BROKEN"
                            rel = ">=" if ok else "<"
                            msg = (f"{word}: budget '{rule.name}' [{m.label}] delegate_coverage.{deleg} = "
                                   f"{d.coverage_pct:.1f}% {rel} {float(pct):.0f}%")
                            if not ok:
                                bad = [f"#{i} {result.compat[m.label].graph.ops[i].label}" for i in d.fallback_ops[:5]]
                                msg += f" (falls back: {', '.join(bad)}{' ...' if len(d.fallback_ops) > 5 else ''})  ({budget.path})"
                            out.append(Verdict(ok, rule.name, f"delegate_coverage.{deleg}", m.label, d.coverage_pct, float(pct), msg,
                                               rule.gate))
                continue
            profs = [p for p in result.profiles if rule.matches_profile(p.profile.name)]
            if not profs:
                add(rule, metric, f"{rule.profile}", None, float(limit), f"profile {rule.profile!r} was not run")
                continue
            for pr in profs:
                ts = [t for t in pr.timings if rule.matches_model(t.model.label, t.model.precision, t.model.family)]
                if not ts:
                    add(rule, metric, f"{pr.profile.name}, {rule.precision}", None, float(limit),
                        "no matching model was timed on this profile")
                    continue
                for t in ts:
                    subject = f"{pr.profile.name}, {t.model.label}"
                    if metric == "median_ms":
                        add(rule, metric, subject, t.stats.median_ms, float(limit))
                    elif metric == "p90_ms":
                        add(rule, metric, subject, t.stats.p90_ms, float(limit))
                    else:
                        add(rule, metric, subject, t.ratio.value if t.ratio else None, float(limit),
                            "no reference was timed (use --reference mediapipe)")
    return out
