"""portrait_mobile.runtime.options: SegmenterOptions (engine, threads, quality, smoothing) and the clock
of the video smoothing."""
from __future__ import annotations

import math

import pytest

from portrait_mobile.errors import ModelLoadError
from portrait_mobile.runtime import Segmenter
from portrait_mobile.runtime.options import (DEFAULT_SMOOTHING, QUALITIES, SegmenterOptions, smoothing_ms_for,
                                             smoothing_weight)


def test_a_per_frame_weight_is_a_time_constant() -> None:
    tau = smoothing_ms_for(DEFAULT_SMOOTHING)
    assert tau == pytest.approx(65.2538, abs=1e-3) and SegmenterOptions().smoothing_ms == tau
    assert smoothing_weight(tau, 1000 / 30) == pytest.approx(0.6, abs=1e-15)
    assert smoothing_weight(tau, 2000 / 30) == pytest.approx(0.36)  # two frames' worth of time: 0.6 twice
    assert smoothing_ms_for(0.0) == 0.0 and smoothing_weight(0.0, 10.0) == 0.0
    assert math.isclose(smoothing_ms_for(0.6, fps=60), tau / 2)
    with pytest.raises(ValueError, match=r"smoothing must be in \[0, 1\)"):
        smoothing_ms_for(1.0)


@pytest.mark.parametrize("kw, needle", [
    ({"quality": "ultra"}, "unknown quality 'ultra'"),
    ({"threads": 0}, "threads must be an integer in 1..256 or None, got 0"),
    ({"smoothing_ms": -1.0}, "smoothing_ms must be a finite number >= 0"),
    ({"smoothing_ms": float("nan")}, "smoothing_ms must be a finite number >= 0"),
])
def test_bad_options_are_refused(kw, needle) -> None:
    with pytest.raises(ValueError, match=needle):
        SegmenterOptions(**kw)


def test_quality_levels(seg: Segmenter, tmp_path) -> None:
    assert QUALITIES == ("fast", "balanced", "accurate")
    assert [SegmenterOptions(quality=q).refine for q in ("fast", "balanced", "accurate")] == [False, True, False]
    # accurate loads its refiner (the packaged one by default) and says what is missing.
    accurate = Segmenter(seg.backend, seg.contract, SegmenterOptions(quality="accurate"))
    assert accurate.refiner is not None and seg.refiner is None
    with pytest.raises(ModelLoadError, match="refiner not found"):
        Segmenter(seg.backend, seg.contract, SegmenterOptions(quality="accurate", refiner=str(tmp_path / "no.tflite")))


def test_from_file_takes_options_and_the_older_keywords(tiny_model) -> None:
    s = Segmenter.from_file(tiny_model, SegmenterOptions(threads=2, quality="balanced"))
    assert (s.options.threads, s.options.refine) == (2, True)
    old = Segmenter.from_file(tiny_model, threads=1, backend="onnx")  # as before the options
    assert (old.options.threads, old.options.engine, old.options.quality) == (1, "onnx", "fast")
    with pytest.raises(ModelLoadError, match="unknown backend 'tensorrt'"):
        Segmenter.from_file(tiny_model, SegmenterOptions(engine="tensorrt"))
