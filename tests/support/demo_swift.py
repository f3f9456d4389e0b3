"""Type-checks and runs the iOS demo's pure-Swift files on Linux.

Xcode is not reachable here, but Debian 13's Swift 6.0.3 compiler is (package `swiftlang`);
`ios_demo/swift-check/install-swift.sh` unpacks it privately, with the newer glibc it needs, and its
`swift-frontend` runs through that glibc's own loader. The app files that use only Foundation and
one Accelerate call (a stand-in, `swift-check/Accelerate.swift`) are type-checked in Swift 5 and
Swift 6 modes and run in the compiler's JIT (`-interpret`) with `swift-check/main.swift`. The rest
(SwiftUI, AVFoundation, Core ML, Vision, Core Image) needs Xcode.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from . import REPO

ROOT = REPO
IOS_SRC = ROOT / "ios_demo/PortraitDemo"
SWIFT_CHECK = ROOT / "ios_demo/swift-check"

PURE_SWIFT = ["ContractLoader.swift", "MaskSmoother.swift", "MaskCleanup.swift"]
APPLE_ONLY = {"PortraitDemoApp.swift", "ContentView.swift", "CameraController.swift", "Segmenter.swift",
              "EffectRenderer.swift", "PortraitViewModel.swift"}
_STAND_IN_IMPORTS = {"import Accelerate"}  # replaced by swift-check/Accelerate.swift


def swift_root() -> Path:
    return Path(os.environ.get("SWIFT_ROOT") or ROOT / ".ci-tools/swift")


def _paths() -> tuple[Path, Path, Path]:
    root = swift_root()
    return (root / "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", root / "usr/libexec/swift/bin/swift-frontend",
            root / "usr/libexec/swift/lib/swift")


def missing_tools() -> str | None:
    loader, frontend, _ = _paths()
    if not (loader.is_file() and frontend.is_file()):
        return f"no Swift toolchain in {swift_root()} (bash ios_demo/swift-check/install-swift.sh DIR; SWIFT_ROOT=DIR)"
    return None


def sources(tmp: Path) -> list[Path]:
    """The app's pure-Swift files (stand-in imports dropped), the stand-ins and main.swift, copied to tmp."""
    tmp.mkdir(parents=True, exist_ok=True)
    out = []
    for name in PURE_SWIFT:
        lines = (IOS_SRC / name).read_text().splitlines(keepends=True)
        (tmp / name).write_text("".join(ln for ln in lines if ln.strip() not in _STAND_IN_IMPORTS))
        out.append(tmp / name)
    return out + [SWIFT_CHECK / "Accelerate.swift", SWIFT_CHECK / "main.swift"]


def frontend(mode: str, files: list[Path], swift_version: str, *args: str) -> subprocess.CompletedProcess:
    loader, frontend_, resources = _paths()
    libs = [loader.parent, resources / "linux", resources / "host"]
    cmd = [str(loader), "--library-path", os.pathsep.join(map(str, libs)), str(frontend_), mode,
           "-swift-version", swift_version, "-resource-dir", str(resources), "-module-name", "PortraitDemo",
           *map(str, files)]
    if args:
        cmd += ["--", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)
