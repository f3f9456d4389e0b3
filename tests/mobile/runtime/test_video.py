"""VideoSegmenter: temporal smoothing on a jittered real sequence, frame iterators and video files."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from portrait_mobile.checkpoint import DEFAULT_WEIGHTS
from portrait_mobile.errors import ImageError
from portrait_mobile.runtime import effects
from portrait_mobile.runtime import Segmenter, SegmenterOptions, VideoSegmenter, read_frames
from portrait_mobile.runtime.options import smoothing_ms_for

from support import pfcn
from support.runtime_models import iou, make_tiny_onnx, red_person



@pytest.fixture(scope="module")
def tiny_seg(tmp_path_factory: pytest.TempPathFactory) -> Segmenter:
    return Segmenter.from_file(make_tiny_onnx(tmp_path_factory.mktemp("tiny") / "tiny.onnx"))


def jittered(image: np.ndarray, n: int, seed: int = 0, shift: int = 2, noise: float = 8.0) -> list[np.ndarray]:
    """A 'still' clip: the same picture with hand-shake (+-shift px) and sensor noise per frame."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    frames = []
    for _ in range(n):
        dx, dy = rng.integers(-shift, shift + 1, 2)
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        f = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT).astype(np.float32)
        f += rng.normal(0, noise, f.shape).astype(np.float32)
        frames.append(np.clip(f, 0, 255).astype(np.uint8))
    return frames


def flicker(masks: list[np.ndarray]) -> float:
    """Mean absolute frame-to-frame change of the mask."""
    return float(np.mean([np.abs(a - b).mean() for a, b in zip(masks, masks[1:])]))


def _smoothing_lowers_flicker(seg: Segmenter, image: np.ndarray) -> tuple[float, float, float]:
    frames = jittered(image, 12)
    raw = list(VideoSegmenter(seg, smoothing=0.0).stream(frames))
    ema = list(VideoSegmenter(seg, smoothing=0.7, motion_aware=False).stream(frames))
    motion = list(VideoSegmenter(seg, smoothing=0.7, motion_aware=True).stream(frames))
    # Smoothing off is exactly the per-frame segmentation.
    np.testing.assert_array_equal(raw[3], seg.segment(frames[3]))
    return flicker(raw), flicker(ema), flicker(motion)


def test_smoothing_lowers_flicker_tiny_model(tiny_seg: Segmenter) -> None:
    img, _ = red_person(200, 160)
    f_raw, f_ema, f_motion = _smoothing_lowers_flicker(tiny_seg, img)
    assert f_ema < 0.7 * f_raw and f_motion < f_raw, (f_raw, f_ema, f_motion)


@pytest.mark.slow
def test_smoothing_lowers_flicker_real_sequence() -> None:
    if not DEFAULT_WEIGHTS.is_file():
        pytest.fail(f"the shipped weights are part of the repository: {DEFAULT_WEIGHTS} is missing")
    img = pfcn.images(1)[0]
    seg = Segmenter.default(threads=1)
    f_raw, f_ema, f_motion = _smoothing_lowers_flicker(seg, img)
    print(f"frame-to-frame mask change: raw {f_raw:.5f}, EMA {f_ema:.5f}, motion-aware {f_motion:.5f}")
    assert f_ema < 0.8 * f_raw and f_motion < f_raw


def test_smoothing_follows_real_motion(tiny_seg: Segmenter) -> None:
    """Motion-aware smoothing does not drag the mask behind a person who moves."""
    frames = [red_person(120, 160, box=(30, 10 + 12 * t, 90, 50 + 12 * t), seed=t) for t in range(6)]
    vs_ema = VideoSegmenter(tiny_seg, smoothing=0.8, motion_aware=False)
    vs_motion = VideoSegmenter(tiny_seg, smoothing=0.8, motion_aware=True)
    last_ema = last_motion = None
    for img, _ in frames:
        last_ema, last_motion = vs_ema.process(img), vs_motion.process(img)
    truth = frames[-1][1]
    assert iou(last_motion >= 0.5, truth) > iou(last_ema >= 0.5, truth)
    assert iou(last_motion >= 0.5, truth) > 0.85


def test_stream_bgr_and_reset(tiny_seg: Segmenter) -> None:
    img, gt = red_person()
    vs = VideoSegmenter(tiny_seg, smoothing=0.5)
    (m,) = list(vs.stream([np.ascontiguousarray(img[..., ::-1])], bgr=True))
    assert iou(m >= 0.5, gt) > 0.9
    vs.reset()
    np.testing.assert_array_equal(vs.process(img), tiny_seg.segment(img))  # first frame after reset: unsmoothed
    with pytest.raises(ValueError):
        VideoSegmenter(tiny_seg, smoothing=1.0)
    with pytest.raises(ImageError):
        vs.process(np.zeros((4, 4), np.uint8))


def _settling_ms(seg: Segmenter, fps: float, options: SegmenterOptions) -> float:
    """A still scene in which a person appears at 250 ms, filmed at `fps`: how long after that until the
    smoothed mask holds 90% of the person."""
    empty, _ = red_person(box=(0, 0, 0, 0))
    person, gt = red_person()
    vs = VideoSegmenter(seg, options)
    for k in range(int(0.6 * fps) + 1):
        t = 1000.0 * k / fps
        mask = vs.segment_for_video(person if t >= 250 else empty, t)
        if t >= 250 and mask[gt].mean() >= 0.9:
            return t - 250
    raise AssertionError("the mask never settled")


def test_a_60_and_a_24_fps_clip_are_smoothed_alike(tiny_seg: Segmenter) -> None:
    """The EMA's time constant is in ms of the video: the mask settles after about the same time at
    60 and at 24 fps (within one 24 fps frame). A per-frame weight (0.6 a frame) settled after the
    same number of frames: 2.5 times longer at 24 fps than at 60."""
    opts = SegmenterOptions(motion_aware=False)  # the frame changes at the step: smooth it anyway
    at60, at24 = _settling_ms(tiny_seg, 60, opts), _settling_ms(tiny_seg, 24, opts)
    assert at60 > 50 and at24 > 50  # smoothed at all
    assert abs(at60 - at24) <= 1000 / 24 + 1e-6
    per_frame_60 = _settling_ms(tiny_seg, 60, replace(opts, smoothing_ms=smoothing_ms_for(0.6, fps=60)))
    per_frame_24 = _settling_ms(tiny_seg, 24, replace(opts, smoothing_ms=smoothing_ms_for(0.6, fps=24)))
    assert per_frame_24 > 2 * per_frame_60


def test_timestamps_must_increase(tiny_seg: Segmenter) -> None:
    img, _ = red_person()
    vs = VideoSegmenter(tiny_seg)
    vs.segment_for_video(img, 100.0)
    with pytest.raises(ValueError, match="timestamp_ms must increase"):
        vs.segment_for_video(img, 100.0)
    vs.reset()  # a new clip starts its own clock
    vs.segment_for_video(img, 0.0)


def test_options_and_the_older_keywords(tiny_seg: Segmenter) -> None:
    assert VideoSegmenter(tiny_seg).options == tiny_seg.options == SegmenterOptions()
    vs = VideoSegmenter(tiny_seg, smoothing=0.0, refine=True, keep_largest=True, motion_aware=False)
    assert vs.options == SegmenterOptions(quality="balanced", smoothing_ms=0.0, keep_largest=True,
                                          motion_aware=False)
    img, _ = red_person()
    np.testing.assert_array_equal(vs.process(img), tiny_seg.segment(img, refine=True, keep_largest=True))


def _write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    h, w = frames[0].shape[:2]
    wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert wr.isOpened()
    for f in frames:
        wr.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    wr.release()
    return path


def test_video_file_roundtrip(tiny_seg: Segmenter, tmp_path: Path) -> None:
    img, gt = red_person(96, 128)
    src = _write_video(tmp_path / "clip.avi", jittered(img, 8, shift=1))
    dst = tmp_path / "out" / "clip_blur.mp4"
    res = VideoSegmenter(tiny_seg).process_file(src, dst, effect=effects.blur_background)
    assert res.frames == 8 and (res.width, res.height) == (128, 96) and dst.is_file()
    assert [p.name for p in dst.parent.iterdir()] == ["clip_blur.mp4"]
    out_frames = list(read_frames(dst))
    assert len(out_frames) == 8 and out_frames[0].shape == (96, 128, 3)
    masks = list(read_frames(VideoSegmenter(tiny_seg).process_file(src, tmp_path / "m.mp4").path))
    assert iou(masks[4][..., 0] > 127, gt) > 0.85


def test_video_errors_leave_no_file(tiny_seg: Segmenter, tmp_path: Path) -> None:
    vs = VideoSegmenter(tiny_seg)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not really a video" * 3)
    with pytest.raises(ImageError):
        vs.process_file(bad, tmp_path / "out" / "bad_mask.mp4")
    with pytest.raises(ImageError, match="not found"):
        vs.process_file(tmp_path / "missing.mp4", tmp_path / "out" / "x.mp4")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    src = _write_video(tmp_path / "c.avi", [red_person(48, 64)[0]] * 3)
    with pytest.raises(ValueError, match="cutouts"):
        vs.process_file(src, tmp_path / "out" / "c.mp4", effect=effects.cutout)
    assert not any((tmp_path / "out").iterdir())


def test_cli_video(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from portrait_mobile.runtime.cli import main as cli_main

    model = make_tiny_onnx(tmp_path / "tiny.onnx")
    src = _write_video(tmp_path / "clip.avi", jittered(red_person(48, 64)[0], 5, shift=1))
    out = tmp_path / "out"
    rc = cli_main([str(src), "--model", str(model), "--effect", "replace", "--background", "0,0,255",
                   "--smoothing", "0.5", "--out", str(out)])
    assert rc == 0 and [p.name for p in out.iterdir()] == ["clip_replace.mp4"]
    assert len(list(read_frames(out / "clip_replace.mp4"))) == 5
    assert "wrote 1 file" in capsys.readouterr().err
    one = tmp_path / "blurred.mp4"  # --out naming the one output file
    assert cli_main([str(src), "--model", str(model), "--effect", "blur", "--out", str(one)]) == 0
    assert one.is_file() and len(list(read_frames(one))) == 5
    assert cli_main([str(src), "--model", str(model), "--effect", "blur", "--out", str(tmp_path / "b.png")]) == 2
    assert "the output of video" in capsys.readouterr().err and not (tmp_path / "b.png").exists()
    rc = cli_main([str(src), "--model", str(model), "--effect", "cutout", "--out", str(tmp_path / "o2")])
    # Reported for the video (exit 1, as any file that fails), not a usage error that stops the images too.
    assert rc == 1 and "videos" in capsys.readouterr().err and not (tmp_path / "o2").exists()


# --- writing failures: nothing partial is left, the error says so ---------------------------------

def test_rotation_is_checked_at_construction(tiny_seg: Segmenter) -> None:
    with pytest.raises(ImageError, match="rotation must be one of"):
        VideoSegmenter(tiny_seg, rotation=45)


def test_unwritable_video_format_is_refused_before_reading(tiny_seg: Segmenter, tmp_path: Path) -> None:
    """issue 13: out.gif left 29 hidden files (OpenCV's image-sequence writer) and reported 30 frames."""
    src = _write_video(tmp_path / "c.avi", [red_person(48, 64)[0]] * 5)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ImageError, match=r"video output must end in \.mp4"):
        VideoSegmenter(tiny_seg).process_file(src, out / "c.gif")
    assert list(out.iterdir()) == []


def test_writer_that_loses_frames_leaves_no_file(tiny_seg: Segmenter, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer that silently drops frames (as on a full disk): OSError, and neither the file nor its temp."""
    import portrait_mobile.runtime.video as video

    real = cv2.VideoWriter

    class Dropping:
        def __init__(self, *a: object) -> None:
            self.w, self.n = real(*a), 0

        def isOpened(self) -> bool:  # noqa: N802 -- OpenCV's name
            return self.w.isOpened()

        def write(self, frame: np.ndarray) -> None:
            self.n += 1
            if self.n <= 2:
                self.w.write(frame)

        def release(self) -> None:
            self.w.release()

    src = _write_video(tmp_path / "c.avi", [red_person(48, 64)[0]] * 6)
    monkeypatch.setattr(video.cv2, "VideoWriter", Dropping)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="the finished video had 2 of its 6 frames; nothing was kept"):
        VideoSegmenter(tiny_seg).process_file(src, out / "c.mp4")
    assert list(out.iterdir()) == []


def _long_clip(path: Path, frames: int = 150) -> Path:
    img = red_person(240, 320)[0]
    rng = np.random.default_rng(0)
    return _write_video(path, [np.clip(img.astype(int) + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)
                               for _ in range(frames)], fps=25.0)


def _segment_cmd(*args: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "portrait_mobile.runtime.cli", *args]


def test_cli_full_disk_exits_non_zero_and_keeps_going(tmp_path: Path) -> None:
    """issue 13: on a full disk the video was reported written (40 KB, no moov atom). Here the file size
    limit (RLIMIT_FSIZE, which fails writes like a full disk) truncates the video: exit 1, no video,
    no temp file, one line about it, and the image after it is still written."""
    import subprocess
    import sys

    model = make_tiny_onnx(tmp_path / "tiny.onnx")
    src = _long_clip(tmp_path / "clip.avi", 60)
    img = tmp_path / "still.png"
    cv2.imwrite(str(img), red_person(48, 64)[0])
    out = tmp_path / "out"

    # The limit is set inside the child (no preexec_fn: forking a process with JAX's threads loaded).
    argv = [str(src), str(img), "--model", str(model), "--effect", "blur", "--out", str(out), "-q"]
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))\n"
            "from portrait_mobile.runtime.cli import main; sys.exit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.strip()]  # OpenCV's per-frame warnings silenced too
    assert len(errors) == 1 and errors[0].startswith("portrait-segment: error:"), r.stderr
    assert f"cannot write {out / 'clip_blur.mp4'}" in errors[0]
    assert "nothing was kept" in errors[0] and "Traceback" not in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["still_blur.png"]


def test_cli_sigterm_removes_the_partial_video(tmp_path: Path) -> None:
    """issue 13: SIGTERM during a video write left a hidden partial .NAME.XXXX.mp4."""
    import time

    from support.signals import signal_when

    model = make_tiny_onnx(tmp_path / "tiny.onnx")
    src = _long_clip(tmp_path / "clip.avi", 400)
    out = tmp_path / "out"

    def writing(_proc) -> bool:
        started = out.is_dir() and any(out.iterdir())
        if started:
            assert [p.name for p in out.iterdir()][0].startswith(".clip_blur.mp4.")
            time.sleep(0.3)
        return started

    status, err = signal_when(_segment_cmd(str(src), "--model", str(model), "--effect", "blur", "--out", str(out),
                                           "-q"), writing, stdout=None)
    assert status == 143, err
    assert "terminated" in err and "Traceback" not in err
    assert list(out.iterdir()) == []


def test_writer_that_cannot_start_on_a_full_disk(tiny_seg: Segmenter, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk with no room at all: FFmpeg cannot even write the header. The error says the disk is full
    (it said "codec for '.mp4' unavailable")."""
    import collections

    import portrait_mobile.runtime.video as video

    class Closed:
        def __init__(self, *a: object) -> None:
            pass

        def isOpened(self) -> bool:  # noqa: N802 -- OpenCV's name
            return False

        def release(self) -> None:
            pass

    src = _write_video(tmp_path / "c.avi", [red_person(48, 64)[0]] * 3)
    monkeypatch.setattr(video.cv2, "VideoWriter", Closed)
    monkeypatch.setattr(video.shutil, "disk_usage", lambda p: collections.namedtuple("U", "total used free")(1, 1, 0))
    out = tmp_path / "out"
    with pytest.raises(OSError, match=r"OpenCV could not start writing the video \(the disk is full\)") as e:
        VideoSegmenter(tiny_seg).process_file(src, out / "c.mp4")
    assert e.value.filename == str(out / "c.mp4")  # the error names the output, not the temp file
    assert list(out.iterdir()) == []
