"""portrait_bench.pytest_plugin: the portrait_budget fixture fails a test on a broken budget."""
from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_pytest_fixture_fails_on_a_broken_budget(
    tiny_models: dict[str, Path], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    portrait_budget = request.getfixturevalue("portrait_budget")
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({"schema": "portrait-bench-budget/1", "budgets": [
        {"name": "size", "precision": "fp32", "size_kb": 10_000}]}))
    result = portrait_budget(tiny_models["good"], ok, reference=None, runs=2, warmup=0, memory=False, with_siblings=False)
    assert result.profiles == []  # a size-only budget needs no timing
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"schema": "portrait-bench-budget/1", "budgets": [
        {"name": "tiny size", "precision": "fp32", "size_kb": 0.001}]}))
    with pytest.raises(pytest.fail.Exception, match="tiny size"):
        portrait_budget(tiny_models["good"], broken, reference=None, runs=2, warmup=0, memory=False, with_siblings=False)
