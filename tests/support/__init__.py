"""Helpers the tests share (imported as `support.<module>`; pytest puts tests/ on the path).

- `datasets`: tiny labelled folders made on the fly
- `runtime_models`: tiny ONNX models (and a picture they segment) for the runtime tests
- `train_models`: the tiny model config the training tests train, average, grow and score
- `pfcn`: the PFCN test images (and masks) real models are run on; skips without ../shared
- `tflite_graphs`: small .tflite graphs written op by op (`GraphBuilder`), for the graph reader and
  the reference port
- `demo_jvm`, `demo_swift`: compile and run the demo apps' Kotlin and Swift
"""
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Package name -> its folder, as pyproject.toml maps them (export/ installs as portrait_export, ...).
PACKAGE_DIRS = {name: REPO / folder for name, folder in
                tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"].items()}
