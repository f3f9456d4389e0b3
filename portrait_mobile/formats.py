"""The artifact formats: one row per format, read by the exporter, the contract reader and the runtime.

Like Ultralytics' `export_formats()`: a format's name, suffixes, precisions, converter, the export
options it takes, runtime backend and contract reader are written down once, here, so the loader can never disagree with the writer.
`portrait_export` (targets, naming, dispatch), `contract_io` (which files carry a contract and how to
read it), `paths` (what is packaged beside the weights) and `runtime.backends` / `runtime.cli`
(which engine runs a suffix) all read this table.

Code is named by "module:attribute" strings and imported only when used, so this module imports
nothing: the torch-free runtime can read it, and `portrait_mobile` never imports `portrait_export`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


# What a model file holds (its contract's `role`): the segmentation model, or the edge refiner that
# quality "accurate" runs on tiles of the segmenter's contour (docs/refine.md). A format row names a
# converter for each role it exports.
SEGMENTER, EDGE_REFINER = "segmenter", "edge-refiner"
ROLES = (SEGMENTER, EDGE_REFINER)


@dataclass(frozen=True)
class ArtifactFormat:
    """One kind of model file.

    target: the contract's ``target`` and, when ``converter`` is set, ``portrait-export --target``.
    suffixes: the file suffixes the runtime and ``contract_io`` recognize; the exporter writes the first.
    backend: the ``name`` of the ``runtime.backends.Backend`` that runs it.
    contract_reader: "module:function", path -> the embedded contract's JSON text (None: not embedded).
    converter: "module:function" of ``portrait_export``, (ExportContext, precision) -> Converted: the
        target's own step, run inside portrait_export's one export sequence (a name only:
        portrait_mobile never imports portrait_export).
    refiner_converter: the same for an edge refiner's checkpoint (None: the format does not export one).
    options: the export options (``portrait_export.options.ExportOptions`` fields) the converter takes
        beyond those every target takes; portrait-export refuses one that no requested target takes.
    name_says_precision: the file name always carries the precision, not only a non-default one.
    calibrated: precisions whose export needs calibration images (or saved statistics).
    packaged: name suffixes ``Segmenter.default()`` looks for beside the shipped weights, in order.
    """

    target: str
    suffixes: tuple[str, ...]
    backend: str
    contract_reader: str | None = None
    converter: str | None = None
    refiner_converter: str | None = None
    options: tuple[str, ...] = ()
    precisions: tuple[str, ...] = ("fp32",)
    default_precision: str = "fp32"
    name_says_precision: bool = False
    calibrated: tuple[str, ...] = ()
    packaged: tuple[str, ...] = ()

    @property
    def suffix(self) -> str:
        """What the exporter writes."""
        return self.suffixes[0]

    def converter_for(self, role: str) -> str | None:
        """The converter of a model of `role` (one of ROLES), None if this format exports none."""
        return {SEGMENTER: self.converter, EDGE_REFINER: self.refiner_converter}[role]


# The order is the order of `portrait-export --target all`, of the runtime's backends and of the
# packaged artifacts Segmenter.default() tries.
FORMATS: tuple[ArtifactFormat, ...] = (
    ArtifactFormat("onnx", (".onnx",), "onnx", contract_reader="portrait_mobile.contract_io:onnx_contract_text",
                   converter="portrait_export.onnx_export:convert_onnx",
                   refiner_converter="portrait_export.onnx_export:convert_refiner_onnx", options=("dynamic_batch", "opset"),
                   packaged=(".onnx",)),
    # TFLite names always say the precision: int8 and fp32 files are both common.
    ArtifactFormat("tflite", (".tflite",), "litert", contract_reader="portrait_mobile.contract_io:tflite_contract_text",
                   converter="portrait_export.tflite_export:convert_tflite",
                   refiner_converter="portrait_export.tflite_export:convert_refiner_tflite", options=("int8_granularity",),
                   precisions=("fp32", "fp16", "int8"),
                   default_precision="int8", name_says_precision=True, calibrated=("int8",),
                   packaged=("_int8.tflite", ".tflite")),
    ArtifactFormat("coreml", (".mlpackage", ".mlmodel"), "coreml",
                   contract_reader="portrait_mobile.contract_io:coreml_contract_text",
                   converter="portrait_export.coreml_export:convert_coreml",
                   refiner_converter="portrait_export.coreml_export:convert_refiner_coreml",
                   precisions=("fp32", "fp16", "int8"),
                   default_precision="fp16"),
    # The training checkpoint: run by the runtime through PyTorch, never exported.
    ArtifactFormat("pytorch", (".pt", ".pth"), "torch"),
)

EXPORT_FORMATS: dict[str, ArtifactFormat] = {f.target: f for f in FORMATS if f.converter}
# Runtime backend names, in table order; and the backend each suffix implies.
BACKENDS: tuple[str, ...] = tuple(dict.fromkeys(f.backend for f in FORMATS))
SUFFIX_BACKEND: dict[str, str] = {s: f.backend for f in FORMATS for s in f.suffixes}


def format_for_suffix(suffix: str) -> ArtifactFormat | None:
    """The format of a file suffix (case-insensitive), None if unknown."""
    suffix = suffix.lower()
    return next((f for f in FORMATS if suffix in f.suffixes), None)


def resolve(ref: str) -> Any:
    """The attribute a "module:attribute" reference names, its module imported now."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)
