"""portrait_export.calibration_stats: a statistics file read beside the weights is checked, never trusted."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

from portrait_export import calibration_stats as cs  # noqa: E402
from portrait_export.context import ExportUsageError  # noqa: E402

GOOD = cs.CalibrationStats("ab" * 32, (64, 64), "test", {"t": {"shape": [1, 2], "min": [0.0, 0.1], "max": [1.0, 2.0]}})


def test_a_saved_file_reads_back(tmp_path: Path) -> None:
    assert cs.load(cs.save(GOOD, tmp_path / "w.int8-calibration.json")) == GOOD


@pytest.mark.parametrize("text, message", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),  # issue 24: a RecursionError traceback
    ("{oops", "not valid JSON"),
    (json.dumps({**json.loads(GOOD.to_json()), "ranges": {"t": {"shape": [2 ** 40, 2 ** 40], "min": [], "max": []}}}),
     "min/max do not match shape"),
    (json.dumps({**json.loads(GOOD.to_json()), "ranges": {"t": {"shape": "12", "min": [], "max": []}}}),
     "is not a list of sizes"),
    (json.dumps({**json.loads(GOOD.to_json()), "ranges": {"t": {"shape": [2], "min": 5, "max": [1, 2]}}}),
     "min/max do not match shape"),
])
def test_a_malformed_file_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "w.int8-calibration.json"
    p.write_text(text)
    with pytest.raises(ExportUsageError, match=message) as e:
        cs.load(p)
    assert str(p) in str(e.value) and "\n" not in str(e.value)
