"""Read the model contract an exported artifact carries, with only the runtime extra installed.

`read_contract(path)` works for `.onnx` (ONNX metadata_props, read through onnxruntime or onnx),
`.tflite` (a Model.metadata entry, read by a tiny flatbuffer reader: no `flatbuffers`/tensorflow
needed) and `.mlpackage` / `.mlmodel` (Core ML user_defined_metadata, read by a tiny protobuf reader:
no coremltools needed). When the artifact holds no contract, the sidecar `<artifact>.json` written
next to it by `portrait-export` is used; when neither exists, ModelLoadError.

The sidecar JSON is the contract's own fields plus "parity" (the export's parity report) and
"export" (how it was made), so it parses directly with `ModelContract.from_dict`.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from .contract import CONTRACT_KEY, SCHEMA, ModelContract
from .errors import ContractError, ModelLoadError, UnsafeNameError
from .file_input import parse_json
from .formats import FORMATS, format_for_suffix, resolve
from .names import path_inside
from .tflite_graph import has_tflite_identifier

# The files that carry a contract: every format of the registry that has a contract reader.
SUFFIXES = tuple(s for f in FORMATS if f.contract_reader for s in f.suffixes)


def sidecar_path(artifact: str | Path) -> Path:
    """The JSON written next to an artifact: its full file name plus `.json` (`m_int8.tflite.json`).

    The full name (not the stem) keeps `m.onnx` and `m.mlpackage` from sharing one sidecar.
    """
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


def read_sidecar(artifact: str | Path) -> dict[str, Any]:
    """The whole sidecar document (contract, parity report, export info); ModelLoadError if absent/bad."""
    p = sidecar_path(artifact)
    if not p.is_file():
        raise ModelLoadError(f"no sidecar contract {p}")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ModelLoadError(f"{p}: unreadable sidecar ({e.strerror or e})") from None
    doc = parse_json(data, ContractError, str(p))
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ModelLoadError(f"{p}: not a portrait-mobile contract (schema {SCHEMA!r} expected)")
    return doc


def read_contract(path: str | Path) -> ModelContract:
    """The ModelContract of an exported model: embedded first, then its sidecar JSON.

    Raises ModelLoadError when the file is missing, of an unknown kind, or carries no contract.
    """
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"model not found: {path}")
    suffix = path.suffix.lower()
    fmt = format_for_suffix(suffix)
    if fmt is None or fmt.contract_reader is None:
        raise ModelLoadError(f"{path}: unknown model kind {suffix!r} (expected one of {', '.join(SUFFIXES)})")
    embedded_error = ""
    try:
        text = resolve(fmt.contract_reader)(path)
    except ModelLoadError as e:
        text, embedded_error = None, str(e)
    if text is not None:
        return ModelContract.from_json(text, f"{path} (embedded)")
    try:
        doc = read_sidecar(path)
    except ContractError:
        raise  # there is a sidecar, and it is malformed: say so
    except ModelLoadError as e:
        reason = embedded_error or f"{path} has no embedded {CONTRACT_KEY!r} entry"
        raise ModelLoadError(f"{reason}, and {e}") from None
    return ModelContract.from_dict(doc, str(sidecar_path(path)))


# --- the embedded contract of each format (the registry's contract readers) ------------------------

def onnx_contract_text(path: Path) -> str | None:
    return onnx_metadata(path).get(CONTRACT_KEY)


def tflite_contract_text(path: Path) -> str | None:
    data = tflite_metadata(path.read_bytes()).get(CONTRACT_KEY)
    # Bytes that are not UTF-8 become U+FFFD, which the JSON parser or the contract check then refuses.
    return None if data is None else data.decode("utf-8", errors="replace")


def coreml_contract_text(path: Path) -> str | None:
    spec = mlpackage_spec_path(path) if path.suffix.lower() == ".mlpackage" else path
    return coreml_user_metadata(spec.read_bytes()).get(CONTRACT_KEY)


# --- ONNX -----------------------------------------------------------------------------------------

def onnx_metadata(path: Path) -> dict[str, str]:
    """metadata_props of an .onnx file, through onnxruntime (runtime extra) or onnx."""
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    if ort is not None:
        try:
            sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types
            raise ModelLoadError(f"{path}: not a loadable ONNX model ({type(e).__name__}: {e})") from None
        return dict(sess.get_modelmeta().custom_metadata_map)
    try:
        import onnx
    except ImportError:
        raise ModelLoadError(f"{path}: reading ONNX metadata needs onnxruntime "
                             "(pip install 'portrait-mobile[runtime]')") from None
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:
        raise ModelLoadError(f"{path}: not an ONNX model ({type(e).__name__}: {e})") from None
    return {p.key: p.value for p in model.metadata_props}


# --- TFLite: a minimal flatbuffer reader of Model.metadata ----------------------------------------

def tflite_metadata(buf: bytes) -> dict[str, bytes]:
    """{name: bytes} of the Model.metadata entries of a .tflite flatbuffer (schema.fbs).

    Model table fields: 4 buffers, 6 metadata; Metadata: 0 name, 1 buffer index; Buffer: 0 data,
    1 offset, 2 size (data stored after the flatbuffer in files over 2 GB).
    """
    try:
        return _tflite_metadata(memoryview(buf))
    except (struct.error, IndexError, ValueError, UnicodeDecodeError) as e:
        raise ModelLoadError(f"not a readable .tflite flatbuffer ({e})") from None


def _tflite_metadata(buf: memoryview) -> dict[str, bytes]:
    if not has_tflite_identifier(buf):
        raise ValueError("missing the TFL3 file identifier")

    def u32(pos: int) -> int:
        return struct.unpack_from("<I", buf, pos)[0]

    def field(table: int, index: int) -> int | None:
        vtable = table - struct.unpack_from("<i", buf, table)[0]
        vt_size = struct.unpack_from("<H", buf, vtable)[0]
        slot = 4 + 2 * index
        if slot >= vt_size:
            return None
        off = struct.unpack_from("<H", buf, vtable + slot)[0]
        return table + off if off else None

    def vector(pos: int | None) -> tuple[int, int]:  # (start of elements, length)
        if pos is None:
            return 0, 0
        vec = pos + u32(pos)
        return vec + 4, u32(vec)

    def table_at(elem_pos: int) -> int:
        return elem_pos + u32(elem_pos)

    root = u32(0)
    buffers_start, n_buffers = vector(field(root, 4))
    meta_start, n_meta = vector(field(root, 6))
    out: dict[str, bytes] = {}
    for i in range(n_meta):
        md = table_at(meta_start + 4 * i)
        name_start, name_len = vector(field(md, 0))
        name = bytes(buf[name_start:name_start + name_len]).decode("utf-8")
        bpos = field(md, 1)
        bidx = u32(bpos) if bpos is not None else 0
        if bidx >= n_buffers:
            raise ValueError(f"metadata {name!r} points to buffer {bidx} of {n_buffers}")
        b = table_at(buffers_start + 4 * bidx)
        data_start, data_len = vector(field(b, 0))
        if data_len:
            out[name] = bytes(buf[data_start:data_start + data_len])
            continue
        opos, spos = field(b, 1), field(b, 2)
        offset = struct.unpack_from("<Q", buf, opos)[0] if opos is not None else 0
        size = struct.unpack_from("<Q", buf, spos)[0] if spos is not None else 0
        out[name] = bytes(buf[offset:offset + size]) if offset > 1 else b""
    return out


# --- Core ML: a minimal protobuf reader of Model.description.metadata.userDefined ------------------

def mlpackage_spec_path(package: Path) -> Path:
    """The model spec (model.mlmodel) inside an .mlpackage, located through its Manifest.json.

    The spec must be inside the package once links are resolved, checked from the package itself:
    a tampered manifest (`../`, an absolute path), a `Data` folder that is a link, or a spec that is
    one, must not make us read a contract from elsewhere on the disk.
    """
    manifest = package / "Manifest.json"
    if manifest.is_file():
        try:
            m = json.loads(manifest.read_text(encoding="utf-8"))
            entry = m["itemInfoEntries"][m["rootModelIdentifier"]]["path"]
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            entry = None
        if entry is not None:
            # The manifest's paths are relative to Data/; an absolute one stays absolute (and is refused).
            rel = str(Path("Data", entry)) if isinstance(entry, str) and entry else entry
            p = _inside(package, rel, f"{manifest}: the root model's path")
            if p.is_file():
                return p
    default = _inside(package, "Data/com.apple.CoreML/model.mlmodel", f"{package}: the model spec")
    if not default.is_file():
        raise ModelLoadError(f"{package}: not an .mlpackage (no model spec in Data/com.apple.CoreML)")
    return default


def _inside(package: Path, relative: object, what: str) -> Path:
    try:
        return path_inside(package, relative, what)
    except UnsafeNameError as e:
        raise ModelLoadError(str(e)) from None


def coreml_user_metadata(spec: bytes) -> dict[str, str]:
    """Model.description(2).metadata(100).userDefined(100) map of a Core ML spec (Model.proto)."""
    try:
        out: dict[str, str] = {}
        for desc in _pb_fields(spec, 2):
            for meta in _pb_fields(desc, 100):
                for entry in _pb_fields(meta, 100):
                    key = b"".join(_pb_fields(entry, 1)).decode("utf-8")
                    out[key] = b"".join(_pb_fields(entry, 2)).decode("utf-8")
        return out
    except (IndexError, ValueError, UnicodeDecodeError) as e:
        raise ModelLoadError(f"not a readable Core ML model spec ({e})") from None


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _pb_fields(buf: bytes, number: int) -> list[bytes]:
    """Payloads of the length-delimited fields `number` of one protobuf message."""
    out = []
    pos, n = 0, len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        fnum, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(buf, pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if fnum == number:
                out.append(buf[pos:pos + length])
            pos += length
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > n:
            raise ValueError("truncated protobuf message")
    return out
