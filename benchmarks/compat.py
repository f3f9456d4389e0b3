"""NNAPI / GPU delegate / Core ML compatibility of a .tflite, op by op, from its flatbuffer.

Every op is listed with its type, version and parameters, and checked against the data table
benchmarks/profiles/delegate_ops.json (transcribed from the delegates' own sources, see its
``source`` fields) plus the parameter rules of each delegate's own module (nnapi_rules,
gpu_rules, coreml_rules; the graph is read by portrait_mobile.tflite_graph). The report gives, per delegate, which ops
it takes, why it refuses the others, the number of delegate partitions and the share of ops that
would run on the delegate. A model that would fall back to the CPU for any op fails the check.

Partitions are counted as maximal runs of supported ops in execution (topological) order. TFLite's
partitioner can sometimes merge runs that are not adjacent in that order, so the count is an upper
bound; a model with every op supported is always one partition.

Nothing here runs a delegate: on this x86 host there is no NNAPI driver, GPU delegate or Core ML.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from portrait_mobile.tflite_graph import TFLiteGraph, read_tflite
from portrait_bench import coreml_rules, gpu_rules, nnapi_rules
from portrait_bench.compat_types import CheckOptions, CompatError, CompatReport, DelegateReport
from portrait_bench.datafile import load_json_file

TABLE_FILE = Path(__file__).resolve().parent / "profiles" / "delegate_ops.json"
RULES = {r.name: r for r in (nnapi_rules.RULES, gpu_rules.RULES, coreml_rules.RULES)}
DELEGATES = tuple(RULES)


# ------------------------------------------------------------------ the table

@lru_cache(maxsize=4)
def _load_table(path: str) -> dict[str, Any]:
    return load_json_file(path, "portrait-bench-delegate-ops/1", "delegate op table", CompatError)


def load_table(path: str | Path | None = None) -> dict[str, Any]:
    return _load_table(str(path or TABLE_FILE))


# ------------------------------------------------------------------ partitions

def _runs(flags: list[bool]) -> list[list[int]]:
    runs: list[list[int]] = []
    cur: list[int] = []
    for i, f in enumerate(flags):
        if f:
            cur.append(i)
        elif cur:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return runs


def count_partitions(flags: list[bool]) -> int:
    """Maximal runs of supported ops in execution order."""
    return len(_runs(flags))


def _delegated_by_partitions(flags: list[bool], max_parts: int | None) -> tuple[int, int]:
    runs = _runs(flags)
    if max_parts is None or len(runs) <= max_parts:
        return len(runs), sum(len(r) for r in runs)
    kept = sorted(runs, key=len, reverse=True)[:max_parts]
    return len(runs), sum(len(r) for r in kept)


# ------------------------------------------------------------------ the check

def check_graph(
    g: TFLiteGraph,
    delegates: tuple[str, ...] = DELEGATES,
    android_api_level: int = 30,
    allow_quant_ops: bool = True,
    gpu_max_partitions: int | None = None,
    nnapi_max_partitions: int | None = None,
    table: dict[str, Any] | None = None,
) -> CompatReport:
    table = table or load_table()
    opts = CheckOptions(android_api_level, allow_quant_ops, {"gpu": gpu_max_partitions, "nnapi": nnapi_max_partitions})
    reports: dict[str, DelegateReport] = {}
    n = len(g.ops)
    for d in delegates:
        if d not in DELEGATES:
            raise CompatError(f"unknown delegate {d!r}; known: {DELEGATES}")
        rules, t = RULES[d], table[d]
        verdicts = [rules.check_op(op, g, t, opts) for op in g.ops]
        maxp = opts.max_partitions.get(d)
        if maxp is None:
            maxp = t.get("default_max_delegated_partitions")
        flags = [v.delegated for v in verdicts]
        parts, delegated = _delegated_by_partitions(flags, maxp)
        unsupported = sum(v.status == "unsupported" for v in verdicts)
        uncertain = sum(v.status == "uncertain" for v in verdicts)
        notes = []
        if rules.heuristic_note:
            # uncertain ops are counted off the delegate for coverage, but only 'unsupported' fails the check
            passed = unsupported == 0
            notes.append(rules.heuristic_note)
        else:
            passed = delegated == n and unsupported == 0
        if parts > 1:
            notes.append("partitions: maximal runs of supported ops in execution order (an upper bound)")
        reports[d] = DelegateReport(
            delegate=d,
            settings=rules.settings(opts, maxp),
            source=t.get("source", ""),
            verdicts=verdicts,
            partitions=parts,
            max_partitions=maxp,
            delegated_ops=delegated,
            total_ops=n,
            passed=passed,
            warnings=uncertain,
            notes=notes,
        )
    return CompatReport(model=str(g.path), graph=g, delegates=reports)


def check_model(path: str | Path, delegates: tuple[str, ...] = DELEGATES, **kw: Any) -> CompatReport:
    """Read a .tflite and check it against the delegate tables (see :func:`check_graph`)."""
    return check_graph(read_tflite(path), delegates=delegates, **kw)
