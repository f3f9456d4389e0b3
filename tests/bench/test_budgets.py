"""portrait_bench.budgets: budget files, rules that cannot be evaluated, the shipped budget."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from portrait_bench import cli
from portrait_bench.budgets import BudgetError, evaluate_budget, load_budget
from portrait_bench.profiles import load_profiles, select_profiles


def test_budget_that_cannot_be_evaluated_is_broken(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    from portrait_bench.api import run_benchmark

    result = run_benchmark([tiny_models["bad"]], profiles=["flagship-1big"], reference=None, runs=3, warmup=1,
                           op_profile="none", memory=False, with_siblings=False)
    p = tmp_path / "b.json"
    p.write_text(json.dumps({"schema": "portrait-bench-budget/1", "budgets": [
        {"name": "needs a reference", "profile": "flagship-1big", "ratio_to_reference": 5},
        {"name": "full nnapi", "delegate_coverage": {"nnapi": 100}},
    ]}))
    verdicts = evaluate_budget(load_budget(p), result)
    by_name = {v.rule: v for v in verdicts}
    assert not by_name["needs a reference"].ok and "could not be evaluated" in by_name["needs a reference"].message
    assert not by_name["full nnapi"].ok and "CUMSUM" in by_name["full nnapi"].message


def test_budget_file_validation(tmp_path: Path) -> None:
    p = tmp_path / "b.json"
    p.write_text(json.dumps({"schema": "portrait-bench-budget/1", "budgets": [{"median_msec": 3}]}))
    with pytest.raises(BudgetError, match="unknown keys"):
        load_budget(p)
    p.write_text(json.dumps({"schema": "portrait-bench-budget/1", "budgets": [{"name": "x"}]}))
    with pytest.raises(BudgetError, match="bounds nothing"):
        load_budget(p)
    shipped = load_budget(Path(cli.__file__).parent / "budgets" / "default.json")
    assert shipped.reference == "mediapipe"
    assert {"flagship-1big", "android-nnapi"} <= set(shipped.profiles() or [])
    assert select_profiles([], load_profiles()) == []
    assert any("delegate_coverage" in r.limits for r in shipped.rules)


@pytest.mark.parametrize("doc, message", [
    ({"budgets": "abc"}, "'budgets' must be a list"),
    ({"budgets": [3]}, "budget #1 must be an object"),
    ({"budgets": [{"size_kb": 200}], "reference": 5}, "'reference' must be a string"),
    ({"budgets": [{"size_kb": 200, "profile": ["a"]}]}, "profile must be a string"),
    ({"budgets": [{"size_kb": float("nan")}]}, "size_kb must be a finite positive number"),
    ({"budgets": [{"size_kb": float("inf")}]}, "size_kb must be a finite positive number"),
    ({"budgets": [{"size_kb": True}]}, "size_kb must be a finite positive number"),
    ({"budgets": [{"delegate_coverage": {"nnapi": float("nan")}}]}, "delegate_coverage must map"),
])
def test_budget_file_types_are_checked(tmp_path: Path, doc: dict, message: str) -> None:
    """A non-string reference crashed deep in the run; NaN and inf limits passed or failed everything."""
    p = tmp_path / "b.json"
    p.write_text(json.dumps({"schema": "portrait-bench-budget/1", **doc}))  # json writes NaN and Infinity
    with pytest.raises(BudgetError, match=message):
        load_budget(p)


def test_shipped_budget_gates_nothing_on_x86_wall_clock() -> None:
    """x86 timings depend on the host's kernels (issue 19): no shipped gate may bound them."""
    from portrait_bench.budgets import DEFAULT_BUDGET, TIMING_METRICS

    shipped = load_budget(DEFAULT_BUDGET)
    x86 = [r for r in shipped.rules if r.gate and any(m in r.limits for m in TIMING_METRICS)]
    assert x86 == [], [r.name for r in x86]
    assert any(r.gate and "size_kb" in r.limits for r in shipped.rules)


def test_a_budget_reference_path_is_read_beside_the_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It was resolved against the current folder, so the budget meant another file from elsewhere."""
    folder = tmp_path / "budgets"
    (folder / "models").mkdir(parents=True)
    p = folder / "b.json"

    def with_reference(ref: str) -> str | None:
        p.write_text(json.dumps({"schema": "portrait-bench-budget/1", "reference": ref,
                                 "budgets": [{"size_kb": 200}]}))
        return load_budget(p).reference

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert Path(with_reference("models/ref.tflite")).resolve() == (folder / "models" / "ref.tflite").resolve()
    assert Path(with_reference("./models/../ref.tflite")).resolve() == (folder / "ref.tflite").resolve()
    for word in ("mediapipe", "mediapipe-landscape", "none", "off", ""):  # names, not paths
        assert with_reference(word) == word
    for escape in ("../ref.tflite", str(tmp_path / "ref.tflite"), "models/../../x.tflite"):
        with pytest.raises(BudgetError, match="reference .* points outside"):
            with_reference(escape)
