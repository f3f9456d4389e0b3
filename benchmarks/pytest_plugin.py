"""pytest plugin (entry point ``pytest11: portrait_bench``): assert a latency budget in one line.

    def test_latency_budget(portrait_budget):
        portrait_budget("exported/portrait-sd-256_int8.tflite", "benchmarks/budgets/default.json")

The fixture runs the same benchmark as ``portrait-bench --budget`` (same process, interleaved with the
MediaPipe reference when the budget asks for ratios) and fails the test with the names of the broken
budgets. Heavy imports happen only when the fixture is used, so loading this plugin costs nothing for
test suites that never ask for it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("portrait-bench")
    group.addoption(
        "--portrait-bench-runs",
        type=int,
        default=None,
        help="timed runs per model for the portrait_budget fixture (default: each profile's own)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "latency_budget: a test that times models against a portrait-bench budget")


@pytest.fixture
def portrait_budget(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """A callable ``(model, budget=None, **options) -> BenchResult`` that fails the test on a broken budget.

    ``budget`` defaults to the project's own budget file. Options are those of
    :func:`portrait_bench.api.check_budget` (profiles, reference, runs, warmup, ...).
    """
    default_runs = request.config.getoption("--portrait-bench-runs", default=None)

    def _check(model: str | Path | list[str | Path], budget: str | Path | None = None, **options: Any) -> Any:
        from portrait_bench.api import check_budget

        if default_runs is not None:
            options.setdefault("runs", default_runs)
        result, verdicts = check_budget(model, budget, **options)
        broken = [v for v in verdicts if v.broken]
        if broken:
            pytest.fail("latency budget broken:\n" + "\n".join(f"  {v.message}" for v in broken), pytrace=False)
        return result

    return _check
