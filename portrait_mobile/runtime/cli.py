"""portrait-segment: segment images, folders and videos, and write a mask or an effect.

    portrait-segment photo.jpg photos/ clip.mp4 --effect blur --out out/
    portrait-segment photos/ --model portrait-sd-256_int8.tflite --effect cutout --out cutouts/
    portrait-segment photo.jpg --effect cutout --out cutout.png

Outputs are `<out>/<name>_<effect>.png` for images and `<out>/<name>_<effect>.mp4` for videos; an
`--out` with an image or video suffix that is not a folder names the one output of a single input
(a .png for an image, a .mp4 for a video). Each is written to a temp file and renamed when complete.
Errors are one line on stderr; exit status 0 when everything was written, 1 when something failed
(a missing or bad input, a full disk: the other inputs are still processed), 2 for a usage error,
143 on SIGTERM (the file being written is removed).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

PROG = "portrait-segment"

from ..cli_support import OneLineParser, fraction, thread_count


class UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    from ..config import DEFAULT_CONFIG
    from ..formats import BACKENDS
    from .effects import EFFECTS
    from .options import DEFAULT_SMOOTHING, QUALITIES
    from .effects import DEFAULT_BACKGROUND, DEFAULT_BLUR_STRENGTH
    from .postprocess import DEFAULT_CLEANUP

    p = OneLineParser(prog=PROG, description="Portrait segmentation of images, folders and videos: "
                                "write the person mask, a transparent cutout, portrait-mode blur or a new background.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images/videos, video files")
    p.add_argument("--model", metavar="PATH", help=".onnx, .tflite, .mlpackage (macOS) or .pt checkpoint "
                   f"(default: the shipped {DEFAULT_CONFIG})")
    p.add_argument("--backend", choices=BACKENDS,
                   help="force an engine (default: from the model's file type)")
    p.add_argument("--effect", required=True, choices=EFFECTS,
                   help="mask: 8-bit confidence mask (binary with --threshold); cutout: RGBA PNG; "
                   "blur: portrait-mode background blur; replace: new background (--background)")
    p.add_argument("--out", required=True, metavar="DIR|FILE",
                   help="output folder (created if missing); for a single input, the output file itself "
                        "(.png for an image, .mp4 for a video)")
    p.add_argument("--threshold", type=float, metavar="T",
                   help="binary mask at this probability (mask/cutout effects; default: soft confidence)")
    p.add_argument("--quality", choices=QUALITIES, default=None,
                   help="fast: the model's mask; balanced: + edges snapped to the image (guided filter); "
                        "accurate: + a learned refiner on the mask's contour at 512 on the long side, then snapped to "
                        "the photo's edges there (--refiner, "
                        "default: the packaged one) (default: fast, or balanced with --refine)")
    p.add_argument("--refiner", metavar="PATH", help="--quality accurate: the refiner artifact (a .tflite, .onnx "
                   "or .mlpackage whose contract says edge-refiner: portrait-export --refiner; default: the one "
                   "packaged with the weights)")
    p.add_argument("--refine", action="store_true", help="snap mask edges to the image (guided filter): "
                   "--quality balanced")
    p.add_argument("--largest", action="store_true", help="keep only the largest person")
    p.add_argument("--min-region", type=fraction, default=DEFAULT_CLEANUP.min_region, metavar="F",
                   help="drop person regions smaller than F x the largest (detached false positives); 0 keeps "
                        f"every region, e.g. for groups (default {DEFAULT_CLEANUP.min_region})")
    p.add_argument("--max-hole", type=fraction, default=DEFAULT_CLEANUP.max_hole, metavar="F",
                   help="fill holes the person encloses that are smaller than F x the person's area; 0 keeps "
                        f"them all (default {DEFAULT_CLEANUP.max_hole})")
    p.add_argument("--rotate", type=int, default=0, choices=(0, 90, 180, 270),
                   help="turn the input this many degrees clockwise to make the person upright")
    p.add_argument("--no-exif", action="store_true", help="ignore the EXIF orientation of image files")
    p.add_argument("--background", metavar="PATH|COLOR",
                   help=f"replace effect: an image file, '#RRGGBB' or 'R,G,B' (default: green {DEFAULT_BACKGROUND})")
    p.add_argument("--blur-strength", type=float, metavar="S",
                   help=f"blur effect: Gaussian sigma as a fraction of the image diagonal (default {DEFAULT_BLUR_STRENGTH})")
    p.add_argument("--smoothing", type=float, default=DEFAULT_SMOOTHING, metavar="A",
                   help="videos: temporal mask smoothing in [0, 1), 0 = off: the previous mask's weight at 30 "
                        "fps, a time constant of the video's clock, so other frame rates are smoothed alike "
                        f"(default {DEFAULT_SMOOTHING})")
    p.add_argument("--max-frames", type=int, metavar="N", help="videos: stop after N frames")
    p.add_argument("--threads", type=thread_count, metavar="N", help="inference threads (default: the engine's)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summary")
    return p


def collect_inputs(inputs: Sequence[str]) -> tuple[list[tuple[Path, str]], list[str]]:
    """([(path, 'image'|'video')], problems): files as given, folders searched recursively (hidden
    files skipped); a missing input or an empty folder is a problem, and the others still run."""
    from .image_input import IMAGE_EXTS
    from .video import VIDEO_EXTS

    out: list[tuple[Path, str]] = []
    problems: list[str] = []
    for spec in inputs:
        p = Path(spec)
        if p.is_dir():
            found = [f for f in sorted(p.rglob("*")) if f.is_file()
                     and not any(part.startswith(".") for part in f.relative_to(p).parts)
                     and f.suffix.lower() in IMAGE_EXTS + VIDEO_EXTS]
            if not found:
                problems.append(f"no images or videos in folder {p}")
            out += [(f, "video" if f.suffix.lower() in VIDEO_EXTS else "image") for f in found]
        elif p.exists():
            out.append((p, "video" if p.suffix.lower() in VIDEO_EXTS else "image"))
        else:
            problems.append(f"input not found: {p}")
    return out, problems


OUTPUT_EXTS = {"image": ".png", "video": ".mp4"}  # what each kind of input's effect is written as


def output_path(out_dir: Path, src: Path, effect: str, kind: str, taken: set[Path]) -> Path:
    ext = OUTPUT_EXTS[kind]
    dest = out_dir / f"{src.stem}_{effect}{ext}"
    i = 2
    while dest in taken:  # two inputs with one name (from different folders)
        dest = out_dir / f"{src.stem}_{effect}-{i}{ext}"
        i += 1
    taken.add(dest)
    return dest


def output_file(out: Path, items: list[tuple[Path, str]]) -> Path | None:
    """The file `--out` names, or None when it is a folder: a path with an image or video suffix that
    is not an existing folder names the output of exactly one input, in the format the effect writes
    for its kind (a folder called `mask.png` is not what anyone typing it meant)."""
    from .image_input import IMAGE_EXTS
    from .video import VIDEO_EXTS

    suffix = out.suffix.lower()
    if out.is_dir() or suffix not in IMAGE_EXTS + VIDEO_EXTS or not items:  # no input: its problem is said
        return None
    if len(items) != 1:
        raise UsageError(f"--out {out} names one file but the run has {len(items)} inputs: give a folder for "
                         "several")
    src, kind = items[0]
    ext = OUTPUT_EXTS[kind]
    if suffix != ext:
        raise UsageError(f"--out {out}: the output of {kind} {src} is a {ext} file (or give a folder)")
    return out


def plan_outputs(items: list[tuple[Path, str]], out_dir: Path, effect: str,
                 background: Path | None = None, out_file: Path | None = None,
                 ) -> tuple[list[tuple[Path, str, Path]], list[str]]:
    """([(input, kind, output)], problems), every name chosen before anything is written; `out_file`:
    the one input's output (`output_file`) instead of a name in `out_dir`.

    The inputs were listed before the run (so its own outputs are never read back as inputs); an
    output that would replace one of them (`--out` is an input folder holding `a.png` and
    `a_mask.png`) is refused: that input is not segmented, and the file stays as it was. So is one
    that would replace the `background` image file (`--background` `a_replace.png` in `--out`).
    """
    inputs = {src.resolve() for src, _ in items}
    bg = background.resolve() if background is not None else None
    taken: set[Path] = set()
    plan, problems = [], []
    for src, kind in items:
        dest = out_file if out_file is not None else output_path(out_dir, src, effect, kind, taken)
        if dest.resolve() in inputs:
            problems.append(f"{src}: not segmented: its output {dest} would replace an input of this run "
                            "(choose another --out)")
        elif dest.resolve() == bg:
            problems.append(f"{src}: not segmented: its output {dest} would replace the --background image "
                            f"{background} (choose another --out)")
        else:
            plan.append((src, kind, dest))
    return plan, problems


def make_effect(args: argparse.Namespace) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    from . import effects
    from .image_input import read_image

    # A flag of another effect would be ignored without a word: the user meant something else.
    for flag, value, effects_of in (("--background", args.background, ("replace",)),
                                    ("--blur-strength", args.blur_strength, ("blur",)),
                                    ("--threshold", args.threshold, ("mask", "cutout"))):
        if value is not None and args.effect not in effects_of:
            raise UsageError(f"{flag} applies to --effect {' or '.join(effects_of)}, not --effect {args.effect}")
    if args.effect == "blur":
        strength = effects.DEFAULT_BLUR_STRENGTH if args.blur_strength is None else args.blur_strength
        if not (strength > 0 and np.isfinite(strength)):
            raise UsageError(f"--blur-strength must be a positive number, got {strength}")
        return lambda im, m: effects.blur_background(im, m, strength=strength)
    if args.effect == "replace":
        bg_spec = effects.DEFAULT_BACKGROUND if args.background is None else args.background
        background: Any
        if Path(bg_spec).is_file():
            background = read_image(bg_spec)
        else:
            try:
                background = effects.parse_color(bg_spec)
            except ValueError as e:
                raise UsageError(f"--background: not an image file or a colour: {e}") from None
        return lambda im, m: effects.replace_background(im, m, background)
    threshold = args.threshold

    def _mask(m: np.ndarray) -> np.ndarray:
        return (m >= threshold).astype(np.float32) if threshold is not None else m

    if args.effect == "cutout":
        return lambda im, m: effects.cutout(im, _mask(m))
    return lambda im, m: effects.mask_image(_mask(m))


def encode_png(picture: np.ndarray) -> bytes:
    """RGB / RGBA / gray uint8 -> PNG bytes."""
    if picture.ndim == 3 and picture.shape[2] == 3:
        picture = cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)
    elif picture.ndim == 3 and picture.shape[2] == 4:
        picture = cv2.cvtColor(picture, cv2.COLOR_RGBA2BGRA)
    ok, buf = cv2.imencode(".png", picture)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def _error(msg: str) -> None:
    from tqdm import tqdm

    tqdm.write(f"{PROG}: error: {' '.join(str(msg).split())}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..atomic import write_bytes
    from ..errors import PortraitError
    from .image_input import read_image
    from .options import SegmenterOptions, smoothing_ms_for
    from .postprocess import RegionCleanup
    from .segmenter import Segmenter
    from .video import VideoSegmenter

    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise UsageError(f"--threshold must be in [0, 1], got {args.threshold}")
    if not 0.0 <= args.smoothing < 1.0:
        raise UsageError(f"--smoothing must be in [0, 1), got {args.smoothing}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    if args.max_frames is not None and args.max_frames < 1:
        raise UsageError(f"--max-frames must be >= 1, got {args.max_frames}")
    if args.backend is not None and args.model is None:
        raise UsageError(f"--backend {args.backend} needs --model PATH (the shipped model picks its own engine)")
    items, problems = collect_inputs(args.inputs)
    if args.effect == "cutout":  # a video in a folder of photos: that one is reported, the photos still run
        problems += [f"{src}: not segmented: --effect cutout makes transparent PNGs; for videos use mask, blur or "
                     "replace" for src, kind in items if kind == "video"]
        items = [(src, kind) for src, kind in items if kind != "video"]
    out_dir = Path(args.out)
    out_file = output_file(out_dir, items)
    if out_file is None and out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} exists and is not a folder")
    effect = make_effect(args)

    if args.refine and args.quality not in (None, "balanced"):
        raise UsageError(f"--refine is --quality balanced, not {args.quality}")
    if args.refiner is not None and args.quality != "accurate":
        raise UsageError("--refiner is the refiner of --quality accurate")
    options = SegmenterOptions(engine=args.backend, threads=args.threads,
                               quality=args.quality or ("balanced" if args.refine else "fast"),
                               smoothing_ms=smoothing_ms_for(args.smoothing), keep_largest=args.largest,
                               refiner=args.refiner,
                               cleanup=RegionCleanup(min_region=args.min_region, max_hole=args.max_hole))
    seg = Segmenter.from_file(args.model, options) if args.model else Segmenter.default(options)
    video_seg = VideoSegmenter(seg, rotation=args.rotate)
    background = Path(args.background) if args.background and Path(args.background).is_file() else None
    plan, clashes = plan_outputs(items, out_dir, args.effect, background, out_file)
    problems += clashes
    written, failed = 0, len(problems)
    for msg in problems:
        _error(msg)
    show = not args.quiet
    for src, kind, dest in tqdm(plan, unit="file", disable=not show or len(plan) < 2, desc=PROG):
        try:
            if kind == "video":
                video_seg.process_file(src, dest, effect=effect, progress=show, max_frames=args.max_frames)
            else:
                image = read_image(src, exif=not args.no_exif)
                mask = seg.segment(image, rotation=args.rotate)
                write_bytes(dest, encode_png(effect(image, mask)))
            written += 1
        except (PortraitError, ValueError) as e:
            failed += 1
            _error(e)
        except OSError as e:  # a full disk, a vanished folder: this output is lost, the next may not be
            failed += 1
            _error(f"{src}: cannot write {dest}: {e.strerror or e}")
        except (cv2.error, MemoryError, RuntimeError) as e:  # one file too big or odd for OpenCV or the engine
            failed += 1
            _error(f"{src}: not segmented: {type(e).__name__}: {e}".rstrip(": "))
    if show:
        tqdm.write(f"{PROG}: wrote {written} file{'s' * (written != 1)} to {out_dir}"
                   + (f", {failed} failed" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


def _quiet_opencv() -> None:
    """OpenCV's FFmpeg backend prints a line per frame it fails to write (a full disk: hundreds); this
    command reports each failure itself, in one line. Set the variables yourself to see them."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    if "OPENCV_LOG_LEVEL" not in os.environ:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 with a one-line usage error
    _quiet_opencv()
    from ..cli_support import (EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated, missing_module_message,
                               require_working_directory, signals_raise)
    from ..errors import PortraitError

    try:
        require_working_directory()
        with signals_raise(PROG):  # so the temp file of the output being written is removed
            return run(args)
    except Terminated:
        _error("terminated (SIGTERM); the partial output was removed")
        return EXIT_TERMINATED
    except ModuleNotFoundError as e:
        if (e.name or "").startswith("portrait_"):
            raise  # a broken install or a bug, not a missing extra
        _error(missing_module_message(PROG, e))
        return 2
    except UsageError as e:
        _error(e)
        return 2
    except PortraitError as e:
        _error(e)
        return 1
    except KeyboardInterrupt:
        _error("interrupted; the partial output was removed")
        return EXIT_INTERRUPTED
    except Exception as e:  # no tracebacks for users; PORTRAIT_DEBUG=1 shows them
        if os.environ.get("PORTRAIT_DEBUG"):
            raise
        _error(f"unexpected {type(e).__name__}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
