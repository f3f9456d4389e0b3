"""portrait_export.int8_calibration: where an export's int8 ranges come from, and saving them after the gate."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from portrait_export import calibration_stats as cs  # noqa: E402
from portrait_export.errors import ExportUsageError  # noqa: E402
from portrait_export.int8_calibration import IMAGES, SAVED, Int8Calibration, Int8Ranges  # noqa: E402

SHA = "ab" * 32
STATS = cs.CalibrationStats(SHA, (64, 64), "test images", {"t": {"shape": [1, 2], "min": [0.0, 0.1], "max": [1.0, 2.0]}})


def _weights_with_stats(tmp_path: Path, stats: cs.CalibrationStats = STATS) -> Path:
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"not read here")
    cs.save(stats, cs.stats_path(weights))
    return weights


def test_saved_statistics_that_fit_are_the_source(tmp_path: Path) -> None:
    cal = Int8Calibration.plan(_weights_with_stats(tmp_path), SHA, (64, 64), images_given=False, save=False)
    assert (cal.source, cal.saved, cal.save_to) == (SAVED, STATS, None)


def test_stale_or_absent_statistics_mean_images_and_say_why(tmp_path: Path) -> None:
    weights = _weights_with_stats(tmp_path)
    stale = Int8Calibration.plan(weights, "cd" * 32, (64, 64), images_given=False, save=False)
    assert stale.source == IMAGES and "is stale: they were made for other weights" in stale.no_saved_reason
    other_size = Int8Calibration.plan(weights, SHA, (96, 64), images_given=False, save=False)
    assert other_size.source == IMAGES and "made at 64x64, not 96x64" in other_size.no_saved_reason
    absent = Int8Calibration.plan(tmp_path / "other.pt", SHA, (64, 64), images_given=False, save=False)
    assert absent.source == IMAGES and absent.no_saved_reason == "no other.int8-calibration.json beside the weights"
    given = Int8Calibration.plan(weights, SHA, (64, 64), images_given=True, save=False)  # --calib DIR wins
    assert given.source == IMAGES and given.saved is None


def test_saving_goes_beside_the_checkpoint_after_the_gate(tmp_path: Path) -> None:
    weights = tmp_path / "mine.pt"
    cal = Int8Calibration.plan(weights, SHA, (64, 64), images_given=True, save=True)
    assert cal.source == IMAGES and cal.save_to == tmp_path / "mine.int8-calibration.json"
    assert not cal.save_to.exists()  # nothing is saved before an artifact passed its gate
    ranges = Int8Ranges({"t": {"min": np.zeros((1, 2), np.float32), "max": np.ones((1, 2), np.float32)}}, "3 images")
    text = cal.after_gate(ranges)
    assert text == f"3 images; statistics saved to {cal.save_to}"
    saved = cs.load(cal.save_to)
    assert (saved.weights_sha256, saved.input_size, saved.source) == (SHA, (64, 64), "3 images")
    assert Int8Calibration.plan(weights, SHA, (64, 64), images_given=False, save=False).saved == saved
    assert Int8Calibration(SHA, (64, 64)).after_gate(ranges) == "3 images"  # not asked: nothing written


def test_saving_needs_a_checkpoint_file() -> None:
    with pytest.raises(ExportUsageError, match="--save-calibration saves beside the checkpoint file"):
        Int8Calibration.plan(object(), SHA, (64, 64), images_given=False, save=True)
