"""portrait_bench.timing: statistics, the paired ratio, interleaving and pinning (fake clocks, no timing asserted)."""
from __future__ import annotations

import numpy as np
import pytest

from portrait_bench.timing import compute_stats, median_ratio, pinned, time_interleaved


def test_stats_on_fake_timings() -> None:
    s = compute_stats([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s.n == 5
    assert s.median_ms == 3.0
    assert s.min_ms == 1.0 and s.max_ms == 100.0
    assert s.p90_ms == pytest.approx(np.percentile([1, 2, 3, 4, 100], 90))
    assert s.std_ms == pytest.approx(np.std([1, 2, 3, 4, 100], ddof=1))
    assert s.mean_ms == pytest.approx(22.0)
    with pytest.raises(ValueError):
        compute_stats([])
    with pytest.raises(ValueError):
        compute_stats([1.0, float("nan")])


def test_ratio_of_medians_with_paired_bootstrap() -> None:
    rng = np.random.default_rng(1)
    ref = 3.0 + rng.random(200) * 0.1
    ours = 2.0 * ref
    r = median_ratio(ours, ref)
    assert r.value == pytest.approx(2.0)
    assert r.ci_low <= 2.0 <= r.ci_high
    # an outlier burst that hits both models alike (interleaved runs) barely moves the ratio
    ours[:20] += 50
    ref[:20] += 50
    assert median_ratio(ours, ref).value == pytest.approx(2.0, rel=0.1)


def test_interleaving_rotates_and_counts() -> None:
    calls: list[str] = []
    ticks = iter(range(10_000))
    runners = [lambda n=n: calls.append(n) for n in "abc"]
    out = time_interleaved(runners, runs=4, warmup=2, clock=lambda: next(ticks) * 1_000_000)
    assert [len(x) for x in out] == [4, 4, 4]
    timed = calls[6:]  # after 2 warm-up rounds of a, b, c
    assert timed[:3] == ["a", "b", "c"] and timed[3:6] == ["b", "c", "a"] and timed[6:9] == ["c", "a", "b"]
    assert all(v == 1.0 for x in out for v in x)  # the fake clock advances 1 ms per call


def test_pinning_restores_the_mask() -> None:
    import os

    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this OS")
    before = os.sched_getaffinity(0)
    with pinned([min(before)], threads=4) as pin:
        if pin.applied is not None:
            assert set(pin.applied) == {min(before)}
            assert "oversubscribed" in pin.note
    assert os.sched_getaffinity(0) == before
