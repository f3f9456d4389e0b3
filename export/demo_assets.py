"""Copy exported artifacts and their contract JSON into the Android and iOS demo apps.

`portrait-export --target all --demo-assets` calls `copy_to_demos` after the parity gates pass.
Which artifact goes where:

- ``*.tflite`` (LiteRT)        -> ``android_demo/app/src/main/assets/models/``
- ``*.mlpackage`` (Core ML)    -> ``ios_demo/PortraitDemo/Models/``
- ``*.onnx``                   -> no demo (ONNX Runtime is the Python/desktop runtime's target)

Segmentation models go to both apps; an edge refiner (`portrait-export --refiner`, its contract's role
"edge-refiner") only to the Android app, whose quality "accurate" runs it (it tells it from a model by
that role); the iOS app runs none, and one in its Models folder would be listed as a model.

Each artifact travels with its contract, named as the exporter names sidecars
(``portrait_mobile.contract_io.sidecar_path``): the artifact's full file name plus ``.json``, so the
contract of ``portrait-sd-256_int8.tflite`` is ``portrait-sd-256_int8.tflite.json`` and the one of
``portrait-sd-256.mlpackage`` is ``portrait-sd-256.mlpackage.json``. The demos list their model folder
and pair files by that rule; no model file name is compiled into them.

Files exported earlier can be copied without exporting again:
``python -m portrait_export.demo_assets [exported/]``.

Every write is atomic: a file is copied to a temp name beside its destination and renamed, and an
``.mlpackage`` directory is copied to a temp directory that replaces the old one only when complete.
An artifact is copied only if its bytes are the ones its sidecar records (the sha256 portrait-export
wrote, `portrait_mobile.artifact_digest`), and an ``.mlpackage`` only if it holds no link: a link would
bring a file from anywhere on the disk into the app.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Protocol

from portrait_mobile.artifact_digest import artifact_sha256, recorded_sha256, verify_artifact
from portrait_mobile.atomic import atomic_dir, atomic_path
from portrait_mobile.contract import ModelContract
from portrait_mobile.contract_io import sidecar_path
from portrait_mobile.errors import ContractError, ExportError, ModelLoadError, PortraitError
from portrait_mobile.formats import EDGE_REFINER, SEGMENTER
from portrait_mobile.paths import source_checkout

# Folders inside the repository (relative to its root); the demo sources name the same folders:
# android_demo/.../ContractLoader.kt (MODELS_ASSET_DIR) and ios_demo/.../ContractLoader.swift
# (modelsFolder). tests/demos/test_demo_apps.py checks that they agree.
ANDROID_MODELS_DIR = Path("android_demo/app/src/main/assets/models")
IOS_MODELS_DIR = Path("ios_demo/PortraitDemo/Models")
ANDROID_ASSET_SUBDIR = "models"  # the path inside the APK's assets
IOS_BUNDLE_SUBDIR = "Models"  # the folder reference's name inside the app bundle

# artifact suffix -> (demo folder, target the contract must name)
DEMO_TARGETS: dict[str, tuple[Path, str]] = {
    ".tflite": (ANDROID_MODELS_DIR, "tflite"),
    ".mlpackage": (IOS_MODELS_DIR, "coreml"),
}
# The roles (portrait_mobile.formats.ROLES) each demo folder runs: the Android app's quality
# "accurate" runs an edge refiner (android_demo/.../segmentation/EdgeRefiner.kt); the iOS app none.
DEMO_ROLES: dict[Path, tuple[str, ...]] = {
    ANDROID_MODELS_DIR: (SEGMENTER, EDGE_REFINER),
    IOS_MODELS_DIR: (SEGMENTER,),
}


class DemoAssetError(ExportError):
    """An artifact or its contract cannot be shipped to a demo app."""


class ArtifactLike(Protocol):
    """What `copy_to_demos` needs from an export result (portrait_export's ExportResult)."""

    path: Path
    json_path: Path


@dataclass(frozen=True)
class DemoAsset:
    """One artifact placed in a demo: where its model and contract now are."""

    demo: str  # "android" | "ios"
    model: Path
    contract: Path


def contract_name(artifact: Path) -> str:
    """The contract's file name next to an artifact: the exporter's sidecar name, `<full name>.json`."""
    return sidecar_path(artifact).name


def _demo_of(folder: Path) -> str:
    return "android" if folder == ANDROID_MODELS_DIR else "ios"


def _check_contract(json_path: Path, expected_target: str, artifact: Path) -> ModelContract:
    try:
        data = json_path.read_bytes()
    except FileNotFoundError:
        raise DemoAssetError(f"{artifact.name}: its contract {json_path} does not exist") from None
    except OSError as e:
        raise DemoAssetError(f"{artifact.name}: cannot read its contract {json_path}: {e}") from e
    try:
        contract = ModelContract.from_json(data, str(json_path))
    except ContractError as e:
        raise DemoAssetError(f"{artifact.name}: not a model contract ({e})") from None
    if contract.target != expected_target:
        raise DemoAssetError(
            f"{artifact.name}: its contract says target {contract.target!r}, expected {expected_target!r}")
    return contract


def _check_bytes(artifact: Path) -> None:
    """DemoAssetError unless the artifact is the one portrait-export wrote (its sidecar's sha256, when
    it records one) and, an .mlpackage, holds no link (artifact_sha256 refuses one, digest or not)."""
    try:
        verify_artifact(artifact)
        if artifact.is_dir() and recorded_sha256(artifact) is None:
            artifact_sha256(artifact)  # an old sidecar: no digest to compare, but still no link
    except ModelLoadError as e:
        raise DemoAssetError(str(e)) from None


def _copy_file(src: Path, dest: Path) -> None:
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)


def _copy_dir(src: Path, dest: Path) -> None:
    """Copy a directory (an .mlpackage) into a temp directory beside `dest`, then swap it in."""
    with atomic_dir(dest) as tmp:
        # Links stay links (never followed out of the package); `_check_bytes` refused any beforehand.
        shutil.copytree(src, tmp, symlinks=True, dirs_exist_ok=True)


def copy_to_demos(results: Iterable[ArtifactLike], repo_root: Path) -> list[Path]:
    """Copy each .tflite / .mlpackage result and its contract JSON into the matching demo app.

    Returns the written paths (model, then contract, per artifact). Results of other kinds (ONNX),
    results whose parity gate failed (``passed`` False) and artifacts of a role the demo does not run
    (DEMO_ROLES: an edge refiner goes to the Android app, not the iOS one) are skipped. Raises
    DemoAssetError when an artifact or its contract is missing, the contract names another target, the
    artifact's bytes are not the ones its sidecar records, or an .mlpackage holds a link; nothing is
    copied then.
    """
    repo_root = Path(repo_root)
    # Every artifact is checked before any is copied, so a refused one leaves both demos as they were.
    todo: list[tuple[Path, Path, Path]] = []
    for result in results:
        artifact = Path(result.path)
        suffix = artifact.suffix.lower()
        if suffix not in DEMO_TARGETS or not getattr(result, "passed", True):
            continue
        folder, target = DEMO_TARGETS[suffix]
        if not artifact.exists():
            raise DemoAssetError(f"{artifact} does not exist: export it before copying it to the demos")
        if (suffix == ".mlpackage") != artifact.is_dir():
            kind = "a directory" if suffix == ".mlpackage" else "a file"
            raise DemoAssetError(f"{artifact} should be {kind}")
        json_path = getattr(result, "json_path", None)
        if json_path is None:
            raise DemoAssetError(f"{artifact.name}: the export result names no contract JSON")
        if _check_contract(Path(json_path), target, artifact).role not in DEMO_ROLES[folder]:
            continue
        _check_bytes(artifact)
        todo.append((artifact, Path(json_path), repo_root / folder))

    written: list[Path] = []
    for artifact, json_path, dest_dir in todo:
        model_dest = dest_dir / artifact.name
        contract_dest = dest_dir / contract_name(artifact)
        if artifact.is_dir():
            _copy_dir(artifact, model_dest)
        else:
            _copy_file(artifact, model_dest)
        _copy_file(json_path, contract_dest)
        written += [model_dest, contract_dest]
    return written


def demo_assets(repo_root: Path) -> list[DemoAsset]:
    """The models now in the demos' folders, paired with their contracts (what the apps will list)."""
    found: list[DemoAsset] = []
    for suffix, (folder, _) in DEMO_TARGETS.items():
        base = Path(repo_root) / folder
        if not base.is_dir():
            continue
        for model in sorted(base.glob(f"*{suffix}")):
            contract = base / contract_name(model)
            if contract.is_file():
                found.append(DemoAsset(_demo_of(folder), model, contract))
    return found


@dataclass(frozen=True)
class ExportedArtifact:
    """An artifact already on disk with its sidecar contract (what `find_exported` returns)."""

    path: Path
    json_path: Path


def find_exported(out_dir: Path) -> list[ExportedArtifact]:
    """The .tflite and .mlpackage artifacts in an export folder that have a sidecar contract."""
    out_dir = Path(out_dir)
    found = []
    for suffix in DEMO_TARGETS:
        for artifact in sorted(out_dir.glob(f"*{suffix}")):
            sidecar = artifact.parent / contract_name(artifact)
            if sidecar.is_file():
                found.append(ExportedArtifact(artifact, sidecar))
    return found


def default_repo_root() -> Path:
    """The checkout whose demo apps to fill: the current folder when it has them, else the source tree
    this package runs from; DemoAssetError saying a source checkout is needed (an install from a wheel
    has no demo apps)."""
    try:
        return source_checkout("android_demo", "ios_demo", what="copying artifacts into the demo apps")
    except PortraitError as e:
        raise DemoAssetError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m portrait_export.demo_assets",
        description="Copy already exported .tflite / .mlpackage models and their contracts into the "
                    "Android and iOS demo apps (what `portrait-export --demo-assets` does after an export).")
    parser.add_argument("exported", nargs="?", default="exported", help="the export folder (portrait-export --out)")
    parser.add_argument("--repo-root", default=None,
                        help="the repository holding android_demo/ and ios_demo/ (default: the current "
                             "folder if it holds them, else the source tree this module is in)")
    args = parser.parse_args(argv)
    try:
        repo_root = Path(args.repo_root) if args.repo_root else default_repo_root()
    except DemoAssetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    artifacts = find_exported(Path(args.exported))
    if not artifacts:
        print(f"error: no .tflite or .mlpackage with its .json contract in {args.exported}/ "
              f"(run portrait-export first)", file=sys.stderr)
        return 1
    try:
        written = copy_to_demos(artifacts, repo_root)
    except (DemoAssetError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
