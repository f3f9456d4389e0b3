"""portrait_bench.compat and its delegate rules: partitions, an unsupported op, API levels, int8."""
from __future__ import annotations

from pathlib import Path

import pytest

from portrait_bench.compat import check_model, count_partitions


def test_partitions_are_runs_of_supported_ops() -> None:
    assert count_partitions([True, True, False, True]) == 2
    assert count_partitions([False, False]) == 0
    assert count_partitions([True] * 5) == 1


def test_unsupported_op_fails_the_check(tiny_models: dict[str, Path]) -> None:
    rep = check_model(tiny_models["bad"])
    assert not rep.passed
    ops = [op.builtin for op in rep.graph.ops]
    assert "CUMSUM" in ops
    k = ops.index("CUMSUM")
    for name in ("nnapi", "gpu"):
        d = rep.delegates[name]
        assert not d.passed
        assert k in d.fallback_ops
        assert d.verdicts[k].status == "unsupported" and d.verdicts[k].reason
        assert d.coverage_pct < 100
        assert d.partitions >= 2  # the op splits the graph
    assert rep.delegates["coreml"].verdicts[k].status in ("uncertain", "unsupported")


def test_supported_model_passes_and_api_level_matters(tiny_models: dict[str, Path]) -> None:
    rep = check_model(tiny_models["good"], delegates=("nnapi", "gpu"), android_api_level=30)
    assert rep.passed, {k: v.summary() for k, v in rep.delegates.items()}
    for d in rep.delegates.values():
        assert d.coverage_pct == 100 and d.partitions == 1
    # half_pixel_centers resize needs API 30, the dilated depthwise conv API 29
    old = check_model(tiny_models["good"], delegates=("nnapi",), android_api_level=28).delegates["nnapi"]
    bad_ops = {rep.graph.ops[i].builtin for i in old.fallback_ops}
    assert {"RESIZE_BILINEAR", "DEPTHWISE_CONV_2D"} <= bad_ops
    assert not old.passed


def test_int8_model_compat(tiny_models: dict[str, Path]) -> None:
    if tiny_models["int8"] is None:
        pytest.skip("ai-edge-quantizer unavailable")
    rep = check_model(tiny_models["int8"], delegates=("nnapi", "gpu"), android_api_level=30)
    assert rep.passed
    # signed int8 needs NNAPI 1.2+: at API 28 everything quantized falls back
    assert not check_model(tiny_models["int8"], delegates=("nnapi",), android_api_level=28).passed
