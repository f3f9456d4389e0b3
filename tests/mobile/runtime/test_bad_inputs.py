"""Bad inputs an audit found in the runtime and portrait-segment: each is refused or reported naming what
is wrong, and one bad file never stops the others."""
from __future__ import annotations

import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest

from portrait_mobile.errors import ImageError
from portrait_mobile.runtime import Segmenter, SegmenterOptions, VideoSegmenter, cli, effects, postprocess
from portrait_mobile.runtime.cli import main as cli_main
from portrait_mobile.runtime.options import smoothing_ms_for
from portrait_mobile.writable import OutputError
from support.runtime_models import red_person


def _png(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def _avi(path: Path, frames: int = 3) -> Path:
    img = red_person(48, 64)[0]
    wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for _ in range(frames):
        wr.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    wr.release()
    return path


def _errors(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


# --- 1. a background of any shape costs the output's size; one failing file does not stop the batch ---

def test_fit_cover_crops_before_it_resizes() -> None:
    """A 1x20000 background covering a 400-row photo was first resized to 400x8,000,000 (~10 GB): here a
    1x2000 strip covering 100x100 would have allocated 60 MB."""
    strip = np.zeros((1, 2000, 3), np.uint8)
    strip[0, :, 0] = np.arange(2000) % 256
    tracemalloc.start()
    try:
        out = effects.fit_cover(strip, 100, 100)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == (100, 100, 3) and peak < 1_000_000, peak
    assert (out[..., 0] == 999 % 256).all()  # the middle pixel of the strip (999 of 0..1999), stretched
    # Centre-cropped to the target's aspect (10 columns out of 40), resized to cover.
    wide = np.zeros((10, 40, 3), np.uint8)
    wide[..., 1] = np.arange(40)
    np.testing.assert_array_equal(effects.fit_cover(wide, 10, 10)[0, :, 1], np.arange(15, 25))
    tall = np.ascontiguousarray(wide.transpose(1, 0, 2))
    assert effects.fit_cover(tall, 20, 5).shape == (20, 5, 3)
    assert effects.fit_cover(tall, 200, 100).shape == (200, 100, 3)


@pytest.mark.parametrize("error", [cv2.error("Insufficient memory"), MemoryError(), RuntimeError("engine failed")])
def test_cli_reports_a_file_that_fails_and_goes_on(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str], error: Exception) -> None:
    """A cv2.error (the 21 GB background), MemoryError or RuntimeError for one file aborted the whole batch."""
    a = _png(tmp_path / "a.png", red_person(50, 40, seed=1)[0])
    b = _png(tmp_path / "b.png", red_person(50, 40, seed=2)[0])
    real, calls = cli.encode_png, []

    def failing_first(picture: np.ndarray) -> bytes:
        calls.append(1)
        if len(calls) == 1:
            raise error
        return real(picture)

    monkeypatch.setattr(cli, "encode_png", failing_first)
    out = tmp_path / "out"
    rc = cli_main([str(a), str(b), "--model", str(tiny_model), "--effect", "replace", "--out", str(out), "-q"])
    err = _errors(capsys)
    assert rc == 1 and len(err) == 1 and err[0].startswith(f"portrait-segment: error: {a}: not segmented: "), err
    assert type(error).__name__ in err[0]
    assert [p.name for p in out.iterdir()] == ["b_replace.png"]


def test_cli_replace_with_a_strip_background(tiny_model: Path, tmp_path: Path) -> None:
    photo = _png(tmp_path / "p.png", red_person(60, 50)[0])
    strip = _png(tmp_path / "strip.png", np.full((1, 20000, 3), 200, np.uint8))
    rc = cli_main([str(photo), "--model", str(tiny_model), "--effect", "replace", "--background", str(strip),
                   "--out", str(tmp_path / "out"), "-q"])
    assert rc == 0 and cv2.imread(str(tmp_path / "out" / "p_replace.png")).shape == (60, 50, 3)


# --- 2. the --background image is never an output ---------------------------------------------------

def test_cli_never_writes_over_the_background(tiny_model: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    p = _png(tmp_path / "in" / "p.png", red_person(50, 40, seed=1)[0])
    _png(tmp_path / "in" / "q.png", red_person(50, 40, seed=2)[0])
    out = tmp_path / "out"
    bg = _png(out / "p_replace.png", np.full((30, 30, 3), 90, np.uint8))  # the user's background
    before = bg.read_bytes()
    rc = cli_main([str(tmp_path / "in"), "--model", str(tiny_model), "--effect", "replace", "--background", str(bg),
                   "--out", str(out), "-q"])
    err = _errors(capsys)
    assert rc == 1 and err == [f"portrait-segment: error: {p}: not segmented: its output {bg} would replace the "
                               f"--background image {bg} (choose another --out)"], err
    assert bg.read_bytes() == before
    assert sorted(f.name for f in out.iterdir()) == ["p_replace.png", "q_replace.png"]


# --- 3. --effect cutout: a video among the inputs is reported, the images are still cut out --------

def test_cli_cutout_skips_a_video_in_a_folder(tiny_model: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "in"
    _png(folder / "a.png", red_person(50, 40)[0])
    clip = _avi(folder / "clip.avi")
    out = tmp_path / "out"
    rc = cli_main([str(folder), "--model", str(tiny_model), "--effect", "cutout", "--out", str(out), "-q"])
    err = _errors(capsys)
    assert rc == 1 and len(err) == 1 and err[0].startswith(f"portrait-segment: error: {clip}: not segmented: "), err
    assert "for videos use mask, blur or replace" in err[0]
    assert [f.name for f in out.iterdir()] == ["a_cutout.png"]


# --- 4. the API: bad numbers are refused naming the parameter; NumPy scalars are numbers ----------

def _scene() -> tuple[np.ndarray, np.ndarray]:
    img, gt = red_person(60, 50)
    return img, gt.astype(np.float32)


@pytest.mark.parametrize("eps", [float("nan"), -1e-3, 0.0, float("inf"), "0.001", None])
def test_bad_eps_is_refused(eps: object) -> None:
    img, prob = _scene()
    guide = img.astype(np.float32) / 255
    rects = np.array([[0, 60, 0, 50]])
    for call in (lambda: postprocess.guided_filter(guide, prob, 4, eps=eps),
                 lambda: postprocess.refine_edges(img, prob, eps=eps),
                 lambda: postprocess.refine_edges_in(img, prob, rects, eps=eps)):
        with pytest.raises(ValueError, match="eps must be a finite number > 0"):
            call()


@pytest.mark.parametrize("radius", [float("nan"), float("inf"), 0, -3, 0.5, "8", True])
def test_bad_radius_is_refused(radius: object) -> None:
    img, prob = _scene()
    with pytest.raises(ValueError, match="radius must be a number of pixels >= 1"):
        postprocess.guided_filter(img.astype(np.float32) / 255, prob, radius)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="radius must be a number of pixels >= 1"):
        postprocess.refine_edges(img, prob, radius=radius)  # type: ignore[arg-type]


def test_a_radius_beyond_the_image_is_the_whole_image() -> None:
    """guided_filter(radius=10**9) failed in OpenCV allocating the kernel ("vector::_M_default_append", or
    the OOM killer; 10**6 takes minutes): a window the image's long side wide already reaches across it from
    every pixel. (10**4 here: enough to tell, and cheap even where it is not clamped.)"""
    img, prob = _scene()
    guide = img.astype(np.float32) / 255
    whole = postprocess.guided_filter(guide, prob, 60)
    np.testing.assert_array_equal(postprocess.guided_filter(guide, prob, 10**4), whole)
    assert np.isfinite(whole).all()
    np.testing.assert_array_equal(postprocess.refine_edges(img, prob, radius=10**12),
                                  postprocess.refine_edges(img, prob, radius=60))


@pytest.mark.parametrize("threshold", [float("nan"), -0.1, 1.5, "0.5", None])
def test_bad_thresholds_are_refused(threshold: object) -> None:
    """keep_largest and clean_regions took NaN: every pixel compared as background, without a word."""
    _, prob = _scene()
    for f in (postprocess.binary_mask, postprocess.keep_largest, postprocess.clean_regions):
        with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
            f(prob, threshold=threshold)  # type: ignore[operator]


def test_numpy_scalars_are_numbers(tiny_model: Path) -> None:
    """np.float32(0.5) and np.int64(2) were refused as "must be a fraction/number", as if they were not."""
    img, prob = _scene()
    c = postprocess.RegionCleanup(min_region=np.float32(0.5), max_hole=np.int64(0))
    assert (c.min_region, c.max_hole) == (0.5, 0.0) and type(c.min_region) is float
    o = SegmenterOptions(threads=np.int64(2), smoothing_ms=np.float32(50.0))
    assert (o.threads, o.smoothing_ms) == (2, 50.0) and type(o.threads) is int and type(o.smoothing_ms) is float
    assert SegmenterOptions(smoothing_ms=np.int64(0)).smoothing_ms == 0.0
    assert smoothing_ms_for(np.float64(0.6)) == smoothing_ms_for(0.6)
    assert smoothing_ms_for(np.float32(0.5)) == pytest.approx(smoothing_ms_for(0.5))
    np.testing.assert_array_equal(postprocess.binary_mask(prob, np.float32(0.5)), postprocess.binary_mask(prob))
    np.testing.assert_array_equal(postprocess.keep_largest(prob, np.float64(0.5)), postprocess.keep_largest(prob))
    np.testing.assert_array_equal(postprocess.refine_edges(img, prob, radius=np.int64(5), eps=np.float32(1e-3)),
                                  postprocess.refine_edges(img, prob, radius=5, eps=float(np.float32(1e-3))))
    np.testing.assert_array_equal(effects.blur_background(img, prob, strength=np.float32(0.25)),
                                  effects.blur_background(img, prob, strength=0.25))
    seg = Segmenter.from_file(tiny_model, o)
    assert VideoSegmenter(seg, smoothing=np.float32(0.5)).process(img).shape == (60, 50)
    with pytest.raises(ValueError, match=r"min_region must be a fraction in \[0, 1\], got np.True_"):
        postprocess.RegionCleanup(min_region=np.bool_(True))


# --- 4. VideoSegmenter.process_file: every error names its file --------------------------------------

def test_process_file_errors_name_the_input(seg: Segmenter, tmp_path: Path) -> None:
    vs = VideoSegmenter(seg)
    dst = tmp_path / "out" / "o.mp4"
    photo = _png(tmp_path / "photo.png", red_person(48, 64)[0])  # FFmpeg made it a one-frame video
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    for src, needle in ((tmp_path / "missing.mp4", "video not found: "), (tmp_path, ": is a folder, not a video"),
                        (photo, ": is an image, not a video"), (text, ": not a video OpenCV can open")):
        with pytest.raises(ImageError, match=needle) as e:
            vs.process_file(src, dst)
        assert str(src) in str(e.value)
    assert not dst.parent.exists()


def test_process_file_refuses_an_unwritable_output_naming_it(seg: Segmenter, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder at the output, or a file where its folder should be, failed after every frame was segmented,
    naming the temp file or the output's parent (FileExistsError, IsADirectoryError)."""
    src = _avi(tmp_path / "c.avi")
    (tmp_path / "taken.mp4").mkdir()
    (tmp_path / "afile").write_text("x")
    read = []
    monkeypatch.setattr(VideoSegmenter, "segment_for_video",
                        lambda self, frame, t: read.append(1) or np.zeros(frame.shape[:2], np.float32))
    for dst, needle in ((tmp_path / "taken.mp4", "is a folder, expected a file name"),
                        (tmp_path / "afile" / "o.mp4", "is a file, not a folder")):
        with pytest.raises(OutputError, match=needle) as e:
            VideoSegmenter(seg).process_file(src, dst)
        assert str(e.value).startswith(f"video output {dst}: ")
    assert read == [] and (tmp_path / "afile").read_text() == "x"
