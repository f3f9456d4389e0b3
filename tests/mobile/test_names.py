"""portrait_mobile.names: the one rule for names that become file names, where names are read."""
from __future__ import annotations

from pathlib import Path

import pytest

from portrait_mobile.checkpoint import Checkpoint
from portrait_mobile.config import ModelConfig, list_configs
from portrait_mobile.errors import CheckpointError, UnsafeNameError
from portrait_mobile.names import MAX_NAME_LENGTH, check_file_stem, path_inside
from support.hostile import raw_checkpoint

UNSAFE = ["../escaped", "a/b", "a\\b", "/tmp/abs", ".", "..", ".hidden", "-rf", "", "a b", "x\n", "x\x00",
          "a" * (MAX_NAME_LENGTH + 1), None, 3, ["a"]]


@pytest.mark.parametrize("name", ["portrait-s-256", "tiny-64", "m", "MODEL_CARD.md", "a..b", "v1.2_x"])
def test_plain_names_pass(name: str) -> None:
    assert check_file_stem(name, "name") == name


@pytest.mark.parametrize("name", UNSAFE)
def test_names_that_could_leave_a_folder_are_refused(name: object) -> None:
    with pytest.raises(UnsafeNameError, match="model config name .* is not a plain file name"):
        check_file_stem(name, "model config name")


def test_every_registered_config_name_is_plain() -> None:
    assert all(check_file_stem(n, "config") for n in list_configs())


@pytest.mark.parametrize("name", ["../escaped", "/tmp/abs/x"])
def test_a_config_and_a_checkpoint_refuse_an_unsafe_name(tmp_path: Path, name: str) -> None:
    """issue 24: a checkpoint's config name became `<out>/<name>.onnx`, outside --out."""
    with pytest.raises(UnsafeNameError):
        ModelConfig(name=name)
    path = raw_checkpoint(tmp_path / "x.pt", config={"name": name})
    with pytest.raises(CheckpointError, match=rf"x.pt: bad model config: model config name '{name}' is not a plain"):
        Checkpoint.load(path)


def test_path_inside_keeps_relative_paths_in_their_folder(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    assert path_inside(tmp_path / "d", "sub/f.bin", "entry") == tmp_path / "d" / "sub" / "f.bin"
    (tmp_path / "d" / "link").symlink_to(tmp_path)
    for bad in ["../x", "sub/../../x", str(tmp_path / "x"), "link/x", ".", "", None, "a\x00"]:
        with pytest.raises(UnsafeNameError):
            path_inside(tmp_path / "d", bad, "entry")
