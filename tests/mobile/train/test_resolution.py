"""Progressive resolution: which size each epoch trains at, and the time planner that follows it."""
from __future__ import annotations

import pytest

from portrait_mobile.errors import PortraitError
from portrait_mobile.train.resolution import ResolutionSchedule, parse_schedule
from portrait_mobile.train.trainer import planned_epochs, unit_seconds


def test_sizes_by_share_of_the_epochs() -> None:
    s = parse_schedule(["160:0.6", "192:0.2", "256:0.2"])
    assert [s.size_at(e, 10, 256) for e in range(10)] == [160] * 6 + [192] * 2 + [256] * 2
    # Re-planned to 20 epochs, the shares hold.
    assert [s.size_at(e, 20, 256) for e in range(20)].count(256) == 4
    assert ResolutionSchedule().size_at(3, 10, 224) == 224
    assert s.largest(128) == 256


@pytest.mark.parametrize("items, message", [
    (["150:1"], "multiple of 32"),
    (["32:1"], "at least 64"),
    (["160:0.5", "256:0.4"], "add up to 1"),
    (["160:0"], r"\(0, 1\]"),
    (["160-0.5"], "SIZE:SHARE"),
])
def test_bad_schedules_are_named(items: list[str], message: str) -> None:
    with pytest.raises(PortraitError, match=message):
        parse_schedule(items)


def test_planner_counts_low_resolution_epochs_as_cheaper() -> None:
    flat = ResolutionSchedule()
    prog = parse_schedule(["128:0.5", "256:0.5"])
    # 10 units of budget after 1 epoch done: 10 more full-size epochs, or more at half the side.
    assert planned_epochs(1, 10.0, flat, 256, 1000) == 11
    assert planned_epochs(1, 10.0, prog, 256, 1000) > 11
    assert planned_epochs(1, 10.0, flat, 256, 5) == 5  # never more than asked
    assert planned_epochs(3, 0.0, flat, 256, 100) == 3  # never fewer than done


def test_the_time_planner_leaves_the_first_epochs_warm_up_out() -> None:
    # A GPU run: 45 s of warm-up in epoch 1, then 1.1 s an epoch.
    assert unit_seconds(46.1, 1.0, None) == 46.1  # one epoch: all there is to go on
    assert unit_seconds(46.1, 1.0, (46.1, 1.0)) == 46.1
    assert abs(unit_seconds(46.1 + 2.2, 3.0, (46.1, 1.0)) - 1.1) < 1e-9  # not (48.3 / 3) = 16.1 s
    # With the warm-up left out, a 7.5-minute budget plans ~370 epochs, not 34.
    flat = ResolutionSchedule()
    budget_units = (7.5 * 60 - 48.3) / (unit_seconds(48.3, 3.0, (46.1, 1.0)) * 1.1)
    assert planned_epochs(3, budget_units, flat, 256, 2000) > 300
