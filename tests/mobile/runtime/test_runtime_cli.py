"""portrait-segment's --quality: the quality levels of SegmenterOptions from the command line."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from portrait_mobile.runtime import Segmenter
from portrait_mobile.runtime.cli import main as cli_main
from support.runtime_models import red_person


def _photo(tmp_path: Path) -> Path:
    img, _ = red_person()
    path = tmp_path / "p.png"
    cv2.imwrite(str(path), img[..., ::-1])
    return path


def test_quality_balanced_is_refine(tiny_model: Path, tmp_path: Path) -> None:
    src = _photo(tmp_path)
    for flags, out in ((["--quality", "balanced"], "a"), (["--refine"], "b")):
        rc = cli_main([str(src), "--model", str(tiny_model), "--effect", "mask", "--out", str(tmp_path / out), "-q",
                       *flags])
        assert rc == 0
    a, b = (cv2.imread(str(tmp_path / d / "p_mask.png"), cv2.IMREAD_GRAYSCALE) for d in "ab")
    np.testing.assert_array_equal(a, b)
    img = cv2.imread(str(src))[..., ::-1].copy()
    expected = (Segmenter.from_file(tiny_model).segment(img, refine=True) * 255 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(a, expected)


@pytest.mark.parametrize("flags, rc, needle", [
    (["--quality", "accurate", "--refiner", "missing.tflite"], 1, "refiner not found: missing.tflite"),
    (["--refiner", "r.tflite"], 2, "--refiner is the refiner of --quality accurate"),
    (["--quality", "fast", "--refine"], 2, "--refine is --quality balanced, not fast"),
])
def test_quality_errors_are_one_line(tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     flags: list[str], rc: int, needle: str) -> None:
    got = cli_main([str(_photo(tmp_path)), "--model", str(tiny_model), "--effect", "mask", "--out",
                    str(tmp_path / "o"), "-q", *flags])
    err = capsys.readouterr().err.strip().splitlines()
    assert got == rc and len(err) == 1 and needle in err[0], err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("effect, flags, needle", [
    ("mask", ["--background", "#3A7BD5"], "--background applies to --effect replace, not --effect mask"),
    ("replace", ["--blur-strength", "0.02"], "--blur-strength applies to --effect blur, not --effect replace"),
    ("blur", ["--threshold", "0.5"], "--threshold applies to --effect mask or cutout, not --effect blur"),
])
def test_a_flag_of_another_effect_is_refused(tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             effect: str, flags: list[str], needle: str) -> None:
    # Ignored without a word, the flag would leave the user with an output they did not ask for.
    rc = cli_main([str(_photo(tmp_path)), "--model", str(tiny_model), "--effect", effect,
                   "--out", str(tmp_path / "out"), "-q", *flags])
    assert rc == 2 and needle in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_effect_defaults_apply_without_their_flags(tiny_model: Path, tmp_path: Path) -> None:
    from portrait_mobile.runtime import effects

    src = _photo(tmp_path)
    for effect in ("blur", "replace"):
        assert cli_main([str(src), "--model", str(tiny_model), "--effect", effect, "--out", str(tmp_path / "o"),
                         "-q"]) == 0
    img = cv2.imread(str(src))[..., ::-1].copy()
    m = Segmenter.from_file(tiny_model).segment(img)
    want = {"blur": effects.blur_background(img, m, effects.DEFAULT_BLUR_STRENGTH),
            "replace": effects.replace_background(img, m, effects.parse_color(effects.DEFAULT_BACKGROUND))}
    for effect, expected in want.items():
        got = cv2.imread(str(tmp_path / "o" / f"p_{effect}.png"))[..., ::-1]
        np.testing.assert_array_equal(got, expected)


def test_out_may_name_the_one_output_file(tiny_model: Path, tmp_path: Path) -> None:
    src = _photo(tmp_path)
    base = [str(src), "--model", str(tiny_model), "--effect", "mask", "-q"]
    assert cli_main([*base, "--out", str(tmp_path / "folder")]) == 0
    for name in ("mask.png", "sub/Mask.PNG"):  # a missing parent is made, as for a folder
        assert cli_main([*base, "--out", str(tmp_path / name)]) == 0
        assert (tmp_path / name).is_file(), name
        assert (tmp_path / name).read_bytes() == (tmp_path / "folder" / "p_mask.png").read_bytes()
    (tmp_path / "mask.png").write_bytes(b"old")  # a file of that name is replaced, as a rerun would
    assert cli_main([*base, "--out", str(tmp_path / "mask.png")]) == 0
    assert (tmp_path / "mask.png").read_bytes() == (tmp_path / "folder" / "p_mask.png").read_bytes()
    (tmp_path / "dir.png").mkdir()  # an existing folder stays a folder, whatever its name
    assert cli_main([*base, "--out", str(tmp_path / "dir.png")]) == 0
    assert [p.name for p in (tmp_path / "dir.png").iterdir()] == ["p_mask.png"]


@pytest.mark.parametrize("out, two_inputs, needle", [
    ("m.png", True, "names one file but the run has 2 inputs"),
    ("m.jpg", False, "the output of image"),
    ("m.mp4", False, "is a .png file (or give a folder)"),
])
def test_an_output_file_the_run_cannot_write_is_a_usage_error(tiny_model: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str], out: str,
                                                               two_inputs: bool, needle: str) -> None:
    src = _photo(tmp_path)
    inputs = [str(src), str(src.with_name("q.png"))] if two_inputs else [str(src)]
    if two_inputs:
        src.with_name("q.png").write_bytes(src.read_bytes())
    rc = cli_main([*inputs, "--model", str(tiny_model), "--effect", "mask", "--out", str(tmp_path / out), "-q"])
    assert rc == 2 and needle in capsys.readouterr().err
    assert not (tmp_path / out).exists()


def test_an_output_file_never_replaces_its_input(tiny_model: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    src = _photo(tmp_path)
    before = src.read_bytes()
    rc = cli_main([str(src), "--model", str(tiny_model), "--effect", "mask", "--out", str(src), "-q"])
    assert rc == 1 and "would replace an input" in capsys.readouterr().err
    assert src.read_bytes() == before
