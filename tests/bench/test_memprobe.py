"""portrait_bench.memprobe: memory measured in a fresh child process."""
from __future__ import annotations

from pathlib import Path


def test_memory_probe_measures_a_model(tiny_models: dict[str, Path]) -> None:
    from portrait_bench import memprobe

    got = memprobe.probe(tiny_models["good"], threads=1, kernels="xnnpack")
    assert got is not None, "the memory probe failed on a valid model"
    assert got["peak_delta_kb"] >= got["rss_delta_kb"] > 0
    assert memprobe.probe(Path("/nonexistent/model.tflite")) is None  # a failed child is reported as unknown
