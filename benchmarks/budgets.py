"""Latency / size / delegate-coverage budgets that CI enforces (``portrait-bench --budget FILE``).

A budget file is a list of rules. Each rule selects profiles and models (``profile``, ``precision``,
``model`` — ``"*"`` or absent means all) and bounds any of:

* ``median_ms``, ``p90_ms``: absolute latency on this host (only where the host is stable enough);
* ``ratio_to_reference``: our median / the reference's median, timed interleaved in the same process;
* ``size_kb``: the .tflite file size;
* ``delegate_coverage``: ``{"nnapi": 100, "gpu": 100}``, percent of ops each delegate would take;
* on the ``arm-*`` profiles (instruction counts under QEMU, host-independent): ``instructions_m``
  (millions of instructions of one invoke), ``instruction_ratio`` (ours / the reference's, same core),
  ``arm_max_abs_diff`` (ARM vs x86 probabilities) and ``arm_min_mask_iou`` (a floor: the lowest
  ARM-vs-x86 mask IoU over the parity images).

A rule with ``"gate": false`` is information: it is evaluated and printed, but never fails the run
(x86 wall-clock ratios depend on which kernels the host CPU gets, so they cannot gate CI).

A rule that cannot be evaluated (no reference timed, profile not run, no matching model) is reported
as broken: a CI budget that silently checks nothing is worse than none.
"""
from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portrait_mobile.errors import UnsafeNameError
from portrait_mobile.names import path_inside
from portrait_bench.datafile import load_json_file
from portrait_bench.model_specs import reference_file

DEFAULT_BUDGET = Path(__file__).resolve().parent / "budgets" / "default.json"
SCHEMA = "portrait-bench-budget/1"
TIMING_METRICS = ("median_ms", "p90_ms", "ratio_to_reference")
MODEL_METRICS = ("size_kb", "delegate_coverage")
ARM_METRICS = ("instructions_m", "instruction_ratio", "arm_max_abs_diff", "arm_min_mask_iou")
FLOOR_METRICS = ("arm_min_mask_iou",)  # bounded from below
METRICS = TIMING_METRICS + MODEL_METRICS + ARM_METRICS


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
        """Profiles the rules need (None: all x86 profiles; []: no timing needed). ARM rules' patterns
        (e.g. ``arm-*``) expand to the ARM profiles they match; 'all' stands for every x86 profile."""
        from portrait_bench.profiles import arm_cores

        cores = list(arm_cores())
        names: list[str] = []
        all_x86 = False
        for r in self.rules:
            if any(m in r.limits for m in ARM_METRICS):
                names += [c for c in cores if r.matches_profile(c) and c not in names]
            if not any(m in r.limits for m in TIMING_METRICS):
                continue
            if any(ch in r.profile for ch in "*?["):
                all_x86 = True
            elif r.profile not in names:
                names.append(r.profile)
        if all_x86:
            arm = [n for n in names if n in cores]
            return ["all", *arm] if arm else None
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


def _finite(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def load_budget(path: str | Path) -> Budget:
    p = Path(path)
    d = load_json_file(p, SCHEMA, "budget", BudgetError)
    rules = []
    budgets = d.get("budgets", [])
    if not isinstance(budgets, list):
        raise BudgetError(f"{p}: 'budgets' must be a list of objects, got {type(budgets).__name__}")
    for key in ("reference", "description"):
        if not isinstance(d.get(key, ""), str):
            raise BudgetError(f"{p}: '{key}' must be a string, got {type(d[key]).__name__}")
    for i, r in enumerate(budgets):
        if not isinstance(r, dict):
            raise BudgetError(f"{p}: budget #{i + 1} must be an object, got {type(r).__name__}")
        for key in ("name", "profile", "precision", "model", "note"):
            if not isinstance(r.get(key, ""), str):
                raise BudgetError(f"{p}: budget #{i + 1}: {key} must be a string, got {type(r[key]).__name__}")
        limits = {k: r[k] for k in METRICS if k in r and r[k] is not None}
        unknown = set(r) - set(METRICS) - {"name", "profile", "precision", "model", "note", "gate"}
        if unknown:
            raise BudgetError(f"{p}: budget #{i + 1} has unknown keys {sorted(unknown)} (known metrics: {METRICS})")
        if not limits:
            raise BudgetError(f"{p}: budget #{i + 1} bounds nothing (give one of {METRICS})")
        for k, v in limits.items():
            # NaN makes every comparison false and inf every one true: a limit must be finite.
            if k == "delegate_coverage":
                if not isinstance(v, dict) or not v or not all(_finite(x) and 0 <= x <= 100 for x in v.values()):
                    raise BudgetError(f"{p}: budget #{i + 1}: delegate_coverage must map delegate -> percent")
            elif k in FLOOR_METRICS:
                if not _finite(v) or not 0 <= v <= 1:
                    raise BudgetError(f"{p}: budget #{i + 1}: {k} must be a number in [0, 1]")
            elif not _finite(v) or v <= 0:
                raise BudgetError(f"{p}: budget #{i + 1}: {k} must be a finite positive number")
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
    if reference_file(ref) is not None:
        # A path in a budget means a file beside it, wherever portrait-bench runs from (the current folder
        # gave another file from elsewhere); and only beside it: a shared budget cannot aim the run anywhere.
        try:
            ref = str(path_inside(p.parent, ref, f"{p}: reference"))
        except UnsafeNameError as e:
            raise BudgetError(str(e)) from None
    return Budget(str(p), d.get("description", ""), ref, tuple(rules))


def _fmt(v: float) -> str:
    if v != 0 and abs(v) < 0.01:
        return f"{v:.2g}"
    return f"{v:.3f}" if abs(v) < 1 else f"{v:.2f}" if abs(v) < 1000 else f"{v:.0f}"


def evaluate_budget(budget: Budget, result: Any) -> list[Verdict]:
    """Check every rule against a :class:`portrait_bench.results.BenchResult`."""
    out: list[Verdict] = []

    def add(rule: BudgetRule, metric: str, subject: str, value: float | None, limit: float, why: str = "") -> None:
        tag = "" if rule.gate else " (information, not a gate)"
        if value is None:
            rel = ">=" if metric in FLOOR_METRICS else "<="
            msg = f"budget '{rule.name}' [{subject}] {metric} {rel} {_fmt(limit)}: could not be evaluated ({why}){tag}"
            out.append(Verdict(False, rule.name, metric, subject, None, limit, msg, rule.gate))
            return
        floor = metric in FLOOR_METRICS
        ok = value >= limit if floor else value <= limit
        rel = (">=" if ok else "<") if floor else ("<=" if ok else ">")
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
            if metric in ARM_METRICS:
                _evaluate_arm(rule, metric, float(limit), getattr(result, "arm", []), add)
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


def _evaluate_arm(rule: BudgetRule, metric: str, limit: float, arm: list[Any], add: Any) -> None:
    profs = [p for p in arm if rule.matches_profile(p.name)]
    if not profs:
        add(rule, metric, rule.profile, None, limit,
            f"ARM profile {rule.profile!r} was not run (portrait-bench --profile {rule.profile})")
        return
    for pr in profs:
        ours = [m for m in pr.models if rule.matches_model(m.model.label, m.model.precision, m.model.family)]
        if not ours:
            add(rule, metric, f"{pr.name}, {rule.precision}", None, limit, "no matching model was run on this profile")
            continue
        for m in ours:
            subject = f"{pr.name}, {m.model.label}"
            if metric == "instructions_m":
                add(rule, metric, subject, m.millions, limit)
            elif metric == "instruction_ratio":
                add(rule, metric, subject, m.ratio, limit, "no reference was run (use --reference mediapipe)")
            elif m.parity is None or not m.parity.real_images:
                why = m.parity.source if m.parity else "no parity check ran"
                add(rule, metric, subject, None, limit, f"parity needs real images: {why}")
            elif metric == "arm_max_abs_diff":
                add(rule, metric, subject, m.parity.max_abs_diff, limit)
            else:
                add(rule, metric, subject, m.parity.min_mask_iou, limit)
