"""portrait_mobile.writable: outputs checked before the work, never onto an input."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from portrait_mobile.writable import OutputError, refuse_collisions


def test_an_output_that_is_an_input_or_another_output_is_refused(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model")
    package = tmp_path / "p.mlpackage"
    package.mkdir()
    os.symlink(model, tmp_path / "link.onnx")
    monkeypatch.chdir(tmp_path)
    inputs = [("--model", model), ("--model", package), ("--weights", None)]
    for out, says in [("./m.onnx", "would overwrite the input --model"),  # the same file, spelled otherwise
                      ("link.onnx", "would overwrite the input --model"),  # a link to it
                      ("p.mlpackage/Data/x.json", "would write inside the input --model")]:
        with pytest.raises(OutputError, match=f"--out {out} {says} "):
            refuse_collisions(inputs, [("--out", out)])
    with pytest.raises(OutputError, match="--json r.json and --out ./r.json are the same file"):
        refuse_collisions(inputs, [("--out", "./r.json"), ("--plot", None), ("--json", "r.json")])
    refuse_collisions(inputs, [("--out", "r.json"), ("--json", "p.json"), ("--plot", None)])
    assert model.read_bytes() == b"model"
