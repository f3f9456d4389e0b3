"""portrait_export.context: the converters' options go to the targets whose row takes them (torch-free)."""
from __future__ import annotations

import pytest

from portrait_export.context import ExportOptions, ExportUsageError, resolve_options
from portrait_mobile.formats import EXPORT_FORMATS


def test_unset_options_take_the_defaults() -> None:
    assert resolve_options(["tflite"], {"opset": None, "dynamic_batch": None}) == ExportOptions()


def test_an_option_goes_to_the_targets_that_take_it() -> None:
    opts = resolve_options(["onnx", "tflite", "coreml"], {"opset": 18, "int8_granularity": "tensor"})
    assert (opts.opset, opts.int8_granularity, opts.dynamic_batch) == (18, "tensor", False)


@pytest.mark.parametrize("targets, given, needle", [
    (["tflite"], {"dynamic_batch": True}, "--dynamic-batch applies to onnx only, not to tflite"),
    (["coreml"], {"int8_granularity": "auto"}, "--int8-granularity applies to tflite only, not to coreml"),
    (["onnx"], {"opset": 99}, "--opset 99 out of the supported range"),
    (["tflite"], {"int8_granularity": "blockwise"}, "unknown int8 granularity 'blockwise'"),
    (["onnx"], {"imgsz": 3}, "unknown export option 'imgsz'"),
])
def test_a_flag_a_target_does_not_take_is_refused(targets, given, needle) -> None:
    with pytest.raises(ExportUsageError, match=needle):
        resolve_options(targets, given)


def test_every_option_a_row_names_exists() -> None:
    known = set(ExportOptions.__dataclass_fields__)
    assert {o for f in EXPORT_FORMATS.values() for o in f.options} <= known
    # and every option is taken by some target (else its flag could never be given)
    assert known <= {o for f in EXPORT_FORMATS.values() for o in f.options}
