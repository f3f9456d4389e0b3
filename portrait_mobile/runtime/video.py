"""Video segmentation with temporal smoothing of the mask, on frame iterators and on video files.

Frame-by-frame masks flicker: the model's answer for the hair or a hand changes a little between
nearly identical frames. `VideoSegmenter` smooths the mask with an exponential moving average at the
model's resolution (cheap), before it is upsampled to the frame, driven by the frames' timestamps
(`segment_for_video(frame, timestamp_ms)`, as MediaPipe Tasks):

    m_t = a * m_(t-1) + (1 - a) * p_t,      a = exp(-dt / smoothing_ms), dt = ms since the last frame

so a 60 fps and a 24 fps clip of one scene are smoothed alike (`SegmenterOptions.smoothing_ms`, 0 =
off). With `motion_aware` the weight drops where the frame itself changed (per-pixel difference of
the downscaled frames), so a moving person is followed without lag while a still one stops flickering.
"""
from __future__ import annotations

import errno
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import cv2
import numpy as np

from ..atomic import atomic_path
from ..errors import ImageError, ModelLoadError
from .image_input import IMAGE_EXTS, check_rgb_uint8, check_rotation, to_rgb_uint8
from .options import REFERENCE_FPS, SegmenterOptions, smoothing_ms_for, smoothing_weight
from .segmenter import Segmenter

VIDEO_EXTS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")
# What process_file writes (through FFmpeg only: OpenCV's other writers turn e.g. `.gif` into one
# image file per frame); the inputs it reads are VIDEO_EXTS.
_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
WRITABLE_EXTS = tuple(_FOURCC)
# Frame difference (intensity in [0, 1], at model resolution) at which smoothing is fully off.
MOTION_SCALE = 0.12


@dataclass
class VideoResult:
    path: Path
    frames: int
    fps: float
    width: int
    height: int


class VideoSegmenter:
    """Stateful per-frame segmentation with EMA smoothing; `reset()` between unrelated clips.

    segmenter: a loaded `Segmenter`. options: how to segment and smooth (SegmenterOptions; default: the
    segmenter's): quality, keep_largest, smoothing_ms (the EMA's time constant, 0 = off),
    motion_aware. rotation: as in `Segmenter.segment`.

    The older keyword arguments still work and win over `options`: `smoothing` is a per-frame weight
    in [0, 1) (it becomes the time constant that gives that weight at 30 fps), `refine=True` is quality
    "balanced", `motion_aware` and `keep_largest` as in the options.
    """

    def __init__(self, segmenter: Segmenter, options: SegmenterOptions | None = None, *,
                 smoothing: float | None = None, motion_aware: bool | None = None, refine: bool | None = None,
                 keep_largest: bool | None = None, rotation: int = 0) -> None:
        check_rotation(rotation)  # a bad rotation fails here, not at the first frame
        given = {"smoothing_ms": None if smoothing is None else smoothing_ms_for(smoothing),
                 "motion_aware": motion_aware, "keep_largest": keep_largest,
                 "quality": None if refine is None else ("balanced" if refine else "fast")}
        self.segmenter = segmenter
        self.options = replace(options or segmenter.options, **{k: v for k, v in given.items() if v is not None})
        if self.options.quality == "accurate" and segmenter.refiner is None:
            raise ModelLoadError("quality 'accurate' needs the segmenter's refiner: load the Segmenter with "
                                 "SegmenterOptions(quality='accurate')")
        self.rotation = rotation
        self.reset()

    def reset(self) -> None:
        self._prev_prob: np.ndarray | None = None
        self._prev_gray: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None
        self._last_ms: float | None = None

    def _smooth(self, frame: np.ndarray, prob: np.ndarray, dt_ms: float) -> np.ndarray:
        a0 = smoothing_weight(self.options.smoothing_ms, dt_ms)
        if a0 == 0.0:
            return prob
        gray = None
        if self.options.motion_aware:
            small = cv2.resize(frame, (prob.shape[1], prob.shape[0]), interpolation=cv2.INTER_AREA)
            gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        if self._prev_prob is None or self._shape != frame.shape or self._prev_prob.shape != prob.shape:
            out = prob
        else:
            a: np.ndarray | float = a0
            if gray is not None and self._prev_gray is not None:
                motion = cv2.GaussianBlur(np.abs(gray - self._prev_gray), (0, 0), 1.5)
                a = a0 * np.clip(1.0 - motion / MOTION_SCALE, 0.0, 1.0)
            out = (a * self._prev_prob + (1.0 - a) * prob).astype(np.float32)
        self._prev_prob, self._prev_gray, self._shape = out, gray, frame.shape
        return out

    def segment_for_video(self, frame: np.ndarray, timestamp_ms: float) -> np.ndarray:
        """One RGB uint8 HxWx3 frame shown at `timestamp_ms` -> its smoothed float32 HxW person probability.

        Timestamps must increase from frame to frame (ValueError otherwise), as in MediaPipe Tasks;
        the smoothing between two frames depends on the time between them, not on the frame count.
        """
        check_rgb_uint8(frame, "frame")
        t = float(timestamp_ms)
        if not np.isfinite(t) or (self._last_ms is not None and t <= self._last_ms):
            raise ValueError(f"timestamp_ms must increase from frame to frame: got {timestamp_ms!r} after "
                             f"{self._last_ms!r}")
        dt = 0.0 if self._last_ms is None else t - self._last_ms
        self._last_ms = t
        low = self.segmenter.predict_lowres(frame, self.rotation)
        low = self._smooth(frame, low, dt)
        # accurate: refine=None lets the segmenter run its refiner on the smoothed mask.
        refine = None if self.options.quality == "accurate" else self.options.refine
        return self.segmenter.finish(frame, low, refine=refine, keep_largest=self.options.keep_largest,
                                     cleanup=self.options.cleanup)

    def process(self, frame: np.ndarray) -> np.ndarray:
        """`segment_for_video` for a frame without a timestamp: frames are taken as 1/30 s apart."""
        nxt = 0.0 if self._last_ms is None else self._last_ms + 1000.0 / REFERENCE_FPS
        return self.segment_for_video(frame, nxt)

    def stream(self, frames: Iterable[np.ndarray], bgr: bool = False) -> Iterator[np.ndarray]:
        """Masks for an iterator of frames (RGB uint8, or OpenCV's BGR with ``bgr=True``)."""
        for frame in frames:
            yield self.process(to_rgb_uint8(frame, bgr=True) if bgr else frame)

    def process_file(self, src: str | os.PathLike, dst: str | os.PathLike,
                     effect: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                     progress: bool = False, max_frames: int | None = None) -> VideoResult:
        """Segment a video file and write `effect(frame, mask)` for each frame to `dst`.

        `effect` returns an RGB uint8 HxWx3 frame or a uint8 HxW picture (e.g. the mask); None writes
        the mask. The output is written to a temp file, read back (every frame must decode: OpenCV's
        writer does not report a full disk) and renamed onto `dst`, so a failure leaves no partial
        video. `dst` must end in one of WRITABLE_EXTS. ImageError if `src` cannot be opened or has no
        frames; OutputError (a ValueError) if `dst` cannot be written there, checked before any frame is
        read; OSError if the video could not be written completely. Each names its file.
        """
        from tqdm import tqdm

        from ..writable import check_output_file

        src, dst = Path(src), Path(dst)
        if dst.suffix.lower() not in WRITABLE_EXTS:
            raise ImageError(f"cannot write {dst}: video output must end in {', '.join(WRITABLE_EXTS)}")
        # A folder at `dst`, a file where its folder should be: said now, naming dst, not after every
        # frame was segmented (as an OSError naming the temp file or dst's parent).
        check_output_file(dst, "video output")
        with _opened_video(src) as cap:
            fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
            if not np.isfinite(fps) or fps <= 0 or fps > 1000:
                fps = 25.0
            total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
            if max_frames is not None and total:
                total = min(total, max_frames)
            fourcc = cv2.VideoWriter_fourcc(*_FOURCC.get(dst.suffix.lower(), "mp4v"))
            self.reset()
            n, size = 0, (0, 0)
            with atomic_path(dst) as tmp, tqdm(total=total, unit="frame", desc=src.name, disable=not progress,
                                               leave=False) as bar:
                writer: Any = None
                try:
                    while max_frames is None or n < max_frames:
                        ok, bgr = cap.read()
                        if not ok or bgr is None:
                            break
                        frame = to_rgb_uint8(bgr, bgr=True)
                        mask = self.segment_for_video(frame, n * 1000.0 / fps)  # the file's own clock
                        out = effect(frame, mask) if effect is not None else (mask * 255 + 0.5).astype(np.uint8)
                        out = _to_bgr_frame(out)
                        if writer is None:
                            size = (out.shape[1], out.shape[0])
                            writer = cv2.VideoWriter(str(tmp), cv2.CAP_FFMPEG, fourcc, fps, size)
                            if not writer.isOpened():
                                why = _disk_full(tmp) or f"no {dst.suffix} encoder in this OpenCV"
                                raise OSError(errno.EIO, f"OpenCV could not start writing the video ({why})",
                                              str(dst))
                        writer.write(out)
                        n += 1
                        bar.update(1)
                finally:
                    if writer is not None:
                        writer.release()
                if n == 0:
                    raise ImageError(f"{src}: no frames could be decoded")
                _check_written(tmp, dst, n)
        return VideoResult(dst, n, fps, size[0], size[1])


def _check_written(tmp: Path, dst: Path, frames: int) -> None:
    """OSError unless the finished file at `tmp` decodes to `frames` frames (a full disk truncates it
    silently: the writer neither raises nor returns an error)."""
    cap = cv2.VideoCapture(str(tmp), cv2.CAP_FFMPEG)
    n = 0
    try:
        while cap.isOpened() and cap.grab():
            n += 1
    finally:
        cap.release()
    if n != frames:
        full = _disk_full(tmp)
        raise OSError(errno.EIO, f"the finished video had {n} of its {frames} frames"
                      f"{f' ({full})' if full else ''}; nothing was kept", str(dst))


def _disk_full(path: Path) -> str:
    """'the disk is full' when less than 1 MB is free where `path` is, else ''."""
    try:
        return "the disk is full" if shutil.disk_usage(path.parent).free < 1 << 20 else ""
    except OSError:
        return ""


def _to_bgr_frame(out: np.ndarray) -> np.ndarray:
    if out.ndim == 2:
        return cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    if out.ndim == 3 and out.shape[2] == 3:
        return np.ascontiguousarray(out[..., ::-1])
    raise ValueError(f"a video frame must be HxW or HxWx3, the effect returned shape {out.shape} "
                     "(transparent cutouts cannot be stored in a video)")


def read_frames(path: str | os.PathLike, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """RGB uint8 frames of a video file (ImageError if it cannot be opened)."""
    with _opened_video(Path(path)) as cap:
        n = 0
        while max_frames is None or n < max_frames:
            ok, bgr = cap.read()
            if not ok or bgr is None:
                break
            yield to_rgb_uint8(bgr, bgr=True)
            n += 1


@contextmanager
def _opened_video(path: Path) -> Iterator[Any]:
    """The video at `path` opened by OpenCV, released after; ImageError naming `path` if it is missing, a
    folder, an image or unreadable."""
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not a video file")
    if not path.is_file():
        raise ImageError(f"video not found: {path}")
    if path.suffix.lower() in IMAGE_EXTS:  # FFmpeg opens a photo as a one-frame video without a word
        raise ImageError(f"{path}: is an image, not a video (Segmenter.segment_file segments it)")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ImageError(f"{path}: not a video OpenCV can open (corrupt or unsupported format)")
        yield cap
    finally:
        cap.release()
