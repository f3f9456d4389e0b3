"""Embedding the model contract into each format, and the sidecar JSON next to each artifact.

- ONNX: `metadata_props[contract.CONTRACT_KEY]` = the contract JSON (+ a few readable keys).
- TFLite: a `Model.metadata` entry named `contract.CONTRACT_KEY` whose buffer is the contract JSON
  (written by `tflite_export`; read without tensorflow by `portrait_mobile.contract_io`).
- Core ML: `user_defined_metadata[contract.CONTRACT_KEY]` + the fields Xcode shows (author, license,
  description, version, input/output descriptions).
- Sidecar `<artifact file name>.json`: the contract's fields at the top level (it parses as a
  ModelContract) plus "parity" (the report) and "export" (tools, time, size); see
  `portrait_mobile.contract_io.sidecar_path`.
- The model card (`model_card.CARD_NAME`, from the installed package) copied next to the artifacts;
  every format's licence field is the contract's `license`, the statement the card makes.
"""
from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from portrait_mobile.atomic import write_bytes, write_text
from portrait_mobile.contract import CONTRACT_KEY, ModelContract
from portrait_mobile.contract_io import sidecar_path
from portrait_mobile.errors import ExportError
from portrait_mobile.formats import EDGE_REFINER
from portrait_mobile.model_card import CARD_NAME, packaged_card

SIDECAR_SCHEMA = "portrait-mobile-export-report/1"


def description(contract: ModelContract) -> str:
    if contract.role == EDGE_REFINER:
        t = contract.tiles
        return (f"{contract.model_name} edge refiner ({contract.precision}) of quality 'accurate': "
                f"{t.tile}x{t.tile} tiles of {', '.join([*contract.color_order, *contract.extra_channels])} in, "
                f"the tile's refined person probability at {t.out_tile}x{t.out_tile} out.")
    fg = contract.metrics.get("fg_iou") if isinstance(contract.metrics, dict) else None
    acc = f" PFCN-style fg IoU {fg:.2f}." if isinstance(fg, (int, float)) else ""
    return (f"{contract.model_name} portrait segmentation ({contract.precision}): "
            f"{contract.input_width}x{contract.input_height} {contract.color_order} image in, "
            f"person probability out.{acc}")


def input_description(contract: ModelContract) -> str:
    q = contract.input_quant
    scale = (f"{q.dtype} pixels, real = {q.scale:.6g} * (q - {q.zero_point})" if q else
             f"{contract.input_dtype} in [0, 1] (pixel / 255)")
    if contract.role == EDGE_REFINER:
        return (f"{contract.input_width}x{contract.input_height} tile, {contract.input_layout}, channels "
                f"{', '.join([*contract.color_order, *contract.extra_channels])}, {scale}; the tiles of the photo "
                f"at {contract.tiles.work_long_side} on its long side that the coarse mask's 0.5 contour crosses")
    return (f"{contract.color_order} image {contract.input_width}x{contract.input_height}, "
            f"{contract.input_layout}, {scale}; the whole photo squashed to this size")


def output_description(contract: ModelContract) -> str:
    q = contract.output_quant
    scale = f"{q.dtype}, prob = {q.scale:.6g} * (q - {q.zero_point})" if q else contract.output_dtype
    return (f"{contract.output_meaning}; {contract.output_width}x{contract.output_height} "
            f"{contract.output_layout}, {scale}")


def readable_props(contract: ModelContract) -> dict[str, str]:
    """Plain keys next to the JSON, for tools that only show strings."""
    return {
        CONTRACT_KEY: contract.to_json(),
        "model_name": contract.model_name,
        "version": contract.version,
        "author": contract.author,
        "license": contract.license,
        "model_card": contract.model_card,
        "model_card_version": contract.model_card_version,
        "description": description(contract),
        "input": input_description(contract),
        "output": output_description(contract),
    }


def embed_onnx(model: Any, contract: ModelContract, opset: int) -> None:
    """Set metadata_props (replacing ours), doc_string and producer on an onnx.ModelProto in place."""
    props = readable_props(contract)
    props["opset"] = str(opset)
    keep = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for k, v in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    model.doc_string = description(contract)
    model.producer_name = "portrait-mobile"
    from portrait_mobile import __version__

    model.producer_version = __version__
    model.graph.doc_string = description(contract)


def embed_coreml(mlmodel: Any, contract: ModelContract) -> None:
    """Fill the metadata Xcode shows and the user-defined contract on a coremltools MLModel."""
    mlmodel.author = contract.author
    mlmodel.license = contract.license
    mlmodel.short_description = description(contract)
    mlmodel.version = contract.version
    mlmodel.input_description[contract.input_name] = input_description(contract)
    mlmodel.output_description[contract.output_name] = output_description(contract)
    for k, v in readable_props(contract).items():
        if k in ("author", "license", "description", "version"):
            continue  # already in the standard fields
        mlmodel.user_defined_metadata[k] = v


def copy_model_card(out_dir: Path) -> Path:
    """Write the installed package's model card into `out_dir` (atomically); returns its path.

    The artifacts' metadata points to the card by name, so it travels with them.
    """
    src = packaged_card()
    if not src.is_file():
        raise ExportError(f"the model card {CARD_NAME} is missing from the installed package ({src}); "
                          "reinstall portrait-mobile or run docs/results/render_model_card.py")
    dest = Path(out_dir) / CARD_NAME
    write_bytes(dest, src.read_bytes())
    return dest


def tool_versions(*names: str) -> dict[str, str]:
    from importlib import metadata

    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            pass
    return out


def write_sidecar(artifact: Path, contract: ModelContract, parity: dict[str, Any],
                  export_info: dict[str, Any]) -> Path:
    """Write `<artifact>.json` atomically; returns its path."""
    # The contract's own fields at the top level (so `ModelContract.from_dict` and the demo apps read
    # the sidecar as a contract), plus the parity report and how the file was made.
    doc = contract.to_dict()
    doc["parity"] = parity
    doc["export"] = {
        "report_schema": SIDECAR_SCHEMA,
        "file": artifact.name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": f"{platform.system()} {platform.machine()} python {platform.python_version()}",
        **export_info,
    }
    path = sidecar_path(artifact)
    write_text(path, json.dumps(doc, indent=2, sort_keys=False, default=_default) + "\n")
    return path


def _default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    item = getattr(obj, "item", None)
    if callable(item):
        return item()
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):
        return tolist()
    return str(obj)
