"""portrait_bench.model_specs: precision and family from the file name, siblings of other precisions."""
from __future__ import annotations

from pathlib import Path

from portrait_bench.model_specs import describe_model, resolve_models


def test_model_discovery(tiny_models: dict[str, Path]) -> None:
    spec = describe_model(tiny_models["good"])
    assert spec.precision == "fp32" and spec.family == "tiny"
    if tiny_models["int8"] is not None:
        specs = resolve_models([tiny_models["good"]])
        assert [s.precision for s in specs] == ["int8", "fp32"]
        assert len(resolve_models([tiny_models["good"]], with_siblings=False)) == 1


def test_a_file_litert_cannot_load_is_a_model_error_whatever_its_name(tmp_path: Path) -> None:
    import pytest

    from portrait_bench.model_specs import ModelError

    for name in ("junk.tflite", "junk_int8.tflite"):  # the name alone used to skip the check
        bad = tmp_path / name
        bad.write_bytes(b"TFL3" + bytes(range(256)) * 4)
        with pytest.raises(ModelError, match=f"{name}: not a TFLite model LiteRT can load"):
            describe_model(bad)
