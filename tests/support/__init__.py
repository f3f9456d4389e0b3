"""Helpers the tests share (imported as `support.<module>`; pytest puts tests/ on the path).

- `datasets`: tiny labelled folders made on the fly
- `runtime_models`: tiny ONNX models and the PFCN test images for the runtime tests
- `demo_jvm`, `demo_swift`: compile and run the demo apps' Kotlin and Swift
"""
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Package name -> its folder, as pyproject.toml maps them (export/ installs as portrait_export, ...).
PACKAGE_DIRS = {name: REPO / folder for name, folder in
                tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"].items()}
