"""Is this the file portrait-export wrote? The sha256 of an artifact and its check against the sidecar.

`portrait-export` records the artifact's sha256 in its sidecar (`"export": {"sha256": ...}`); the
runtime checks it before it opens the file, so a model damaged in a copy, or changed after its parity
gate passed (weights edited, another export written over it while the old sidecar stayed), is refused
with an error that says so instead of running and giving wrong masks. It is an integrity check, not a
signature: whoever can rewrite the file can rewrite the sidecar too. A file with no sidecar, or a sidecar
from before the digest was recorded, is not checked.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .contract_io import read_sidecar, sidecar_path
from .errors import ModelLoadError

# The key of the sidecar's "export" section that holds the digest.
DIGEST_KEY = "sha256"
_CHUNK = 1 << 20
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def artifact_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, or of a folder's (an .mlpackage): each file's relative POSIX path and
    bytes, in path order, so the digest does not depend on the order the file system lists them."""
    path = Path(path)
    h = hashlib.sha256()
    if path.is_dir():
        # An .mlpackage is its own files: a link inside it would make its digest (and the model that
        # loads) another file's, anywhere on the disk.
        link = next((p for p in path.rglob("*") if p.is_symlink()), None)
        if link is not None:
            raise ModelLoadError(f"{path}: {link.relative_to(path)} is a link; a model package holds its own files")
        for f in sorted((p for p in path.rglob("*") if p.is_file()), key=lambda p: p.relative_to(path).as_posix()):
            rel = f.relative_to(path).as_posix().encode()
            h.update(len(rel).to_bytes(8, "little") + rel + f.stat().st_size.to_bytes(8, "little"))
            _update(h, f)
    else:
        _update(h, path)
    return h.hexdigest()


def _update(h: "hashlib._Hash", f: Path) -> None:
    with f.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)


def recorded_sha256(artifact: str | Path) -> str | None:
    """The digest the artifact's sidecar records; None without a sidecar, or with one from before the
    digest was recorded (no "export" section, or no "sha256" key in it). A sidecar that is there but
    cannot be read, or whose "export" section or digest is malformed (not a 64-hex-digit string), is a
    ModelLoadError: cut or tampered, it would otherwise turn the check off without a word."""
    side = sidecar_path(artifact)
    if not side.is_file():
        return None
    cannot = "the artifact's sha256 cannot be checked against it (export it again, or restore the sidecar)"
    try:
        doc = read_sidecar(artifact)
    except ModelLoadError as e:  # ContractError included
        raise ModelLoadError(f"{e}; {cannot}") from None
    if "export" not in doc:
        return None
    export = doc["export"]
    if not isinstance(export, dict):
        raise ModelLoadError(f"{side}: its \"export\" section is {_shown(export)}, not an object; {cannot}")
    if DIGEST_KEY not in export:
        return None
    digest = export[DIGEST_KEY]
    if not (isinstance(digest, str) and _HEX64.fullmatch(digest)):
        raise ModelLoadError(f"{side}: its recorded {DIGEST_KEY} {_shown(digest)} is not 64 hex digits; {cannot}")
    return digest


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def verify_artifact(artifact: str | Path) -> None:
    """ModelLoadError when the artifact's bytes are not the ones its sidecar records."""
    want = recorded_sha256(artifact)
    if want is None:
        return
    try:
        got = artifact_sha256(artifact)
    except OSError as e:
        raise ModelLoadError(f"{artifact}: unreadable ({e.strerror or e})") from None
    if got != want.lower():
        raise ModelLoadError(
            f"{artifact} is not the file portrait-export wrote: its sha256 is {got[:16]}..., its sidecar "
            f"{sidecar_path(artifact).name} records {want[:16]}... (damaged in a copy, or changed or replaced "
            "after export); export it again, or restore the file")
