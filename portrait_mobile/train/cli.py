"""portrait-train: build the training cache, train, and ship a checkpoint as the default weights.

    portrait-train cache --source ../shared/datasets/pfcn:train --source ../shared/datasets/picsart:train \
        --out .traincache/train256.npz
    portrait-train fit --cache .traincache/train256.npz --model portrait-sd-256 --epochs 100 --out runs/s256
    portrait-train ship runs/s256/best.pt
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

import argparse

from ..cli_support import (OneLineParser, fraction, non_negative_float, non_negative_int, positive_float,
                           positive_int, random_seed, run_cli, share, thread_count_or_auto)
from ..config import DEFAULT_CONFIG, list_configs
from ..data.augment_config import AUGMENT_PRESETS
from ..data.carve import VAL_FRACTION
from ..errors import PortraitError
from .lr import LR_SCALES, REFERENCE_BATCH
from .resolution import MIN_SIZE, SIZE_MULTIPLE
from .threads import prefer_passive_waiting


PROG = "portrait-train"
TEACHERS = ("none", "mediapipe", "mediapipe-flip")


def cache_size(text: str) -> int:
    v = positive_int(text)
    if v < MIN_SIZE or v % SIZE_MULTIPLE:
        raise argparse.ArgumentTypeError(f"expected a multiple of {SIZE_MULTIPLE} of at least {MIN_SIZE}, "
                                         f"got {text!r}")
    return v


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Train the portrait model on folders of images + masks.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=OneLineParser)

    c = sub.add_parser("cache", help="pre-resize datasets into one compact training cache (.npz)")
    c.add_argument("--source", action="append", required=True, metavar="PATH[:SPLIT]",
                   help="labelled folder (images/, masks/, optional <split>.txt); repeatable")
    c.add_argument("--unlabeled", action="append", default=[], metavar="PATH[:SPLIT]",
                   help="folder of images without masks, used through the teacher only; repeatable")
    c.add_argument("--val-fraction", type=fraction, default=VAL_FRACTION,
                   help="share of each labelled source carved out (deterministically) for validation, in [0, 1)")
    c.add_argument("--size", type=cache_size, default=256,
                   help=f"cached square size (the model input; a multiple of {SIZE_MULTIPLE}, at least {MIN_SIZE})")
    c.add_argument("--teacher", choices=list(TEACHERS), default="none",
                   help="store a teacher's predictions as soft targets for distillation: mediapipe, or "
                        "mediapipe-flip (the average with its horizontally flipped prediction: a better teacher)")
    c.add_argument("--anchors", metavar="DIR", help="folder with the MediaPipe .tflite (default ../shared/anchors)")
    c.add_argument("--out", required=True, type=Path, help="output .npz")

    f = sub.add_parser("fit", help="train a model from a cache")
    f.add_argument("--cache", required=True, type=Path)
    f.add_argument("--model", default=DEFAULT_CONFIG, choices=list_configs())
    f.add_argument("--out", default="runs/train", type=Path, help="folder for best.pt, last.pt, curve.png")
    f.add_argument("--epochs", type=positive_int, default=100)
    f.add_argument("--batch-size", type=positive_int, default=32)
    f.add_argument("--lr", type=positive_float, default=3e-3)
    f.add_argument("--weight-decay", type=non_negative_float, default=1e-4)
    f.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    f.add_argument("--seed", type=random_seed, default=0)
    f.add_argument("--sources", nargs="+", default=[], metavar="NAME",
                   help="train only on these cache sources (e.g. pfcn/train picsart/train)")
    f.add_argument("--augment", choices=list(AUGMENT_PRESETS), default="full",
                   help="augmentation preset: full (training from scratch) or light (final fine-tune)")
    f.add_argument("--mix", nargs="+", default=[], metavar="NAME=SHARE",
                   help="share of a source's (or dataset's) samples drawn each epoch, in (0, 4], e.g. "
                        "vitonplus=0.25, voc_person=2 (every sample twice); unnamed sources are drawn whole. "
                        "'campaign' = the documented mix")
    f.add_argument("--res-schedule", nargs="+", default=[], metavar="SIZE:SHARE",
                   help="progressive resolution: train the first SHARE of the epochs at SIZE, and so on, e.g. "
                        "160:0.6 192:0.2 256:0.2 (default: every epoch at the cache's size)")
    f.add_argument("--hard-share", type=non_negative_float, default=0.0, metavar="SHARE",
                   help="each epoch also draws SHARE x each source's samples again, in proportion to how wrong "
                        "the current weights get them (1 - fg IoU; labelled samples only), e.g. 0.5; default 0")
    f.add_argument("--hard-every", type=positive_int, default=5, metavar="N",
                   help="re-score the samples' hardness every N epochs (with --hard-share)")
    f.add_argument("--procs", type=non_negative_int, default=0,
                   help="CPU processes sharing each batch (DDP ranks, one thread each, niced to yield to other "
                        "work; default 0: one a core, as many as the memory holds, or 1 when --threads is given)")
    f.add_argument("--threads", type=thread_count_or_auto, default=0,
                   help="CPU threads of each process (default 0: one a rank; a single process takes the cores "
                        "other processes leave free, re-checked as it runs)")
    f.add_argument("--no-teacher", action="store_true", help="ignore the cache's teacher maps")
    f.add_argument("--teacher-in-loop", metavar="mediapipe|TFLITE",
                   help="run MediaPipe (flip-averaged; LiteRT on the CPU, its torch port on a GPU) on each "
                        "augmented batch as the teacher, instead of the cache's maps; 'mediapipe' = the model "
                        "in ../shared/anchors")
    f.add_argument("--teacher-mix", type=share, metavar="SHARE",
                   help="with --teacher-in-loop: replace SHARE of each batch by cut-mixed composites of two "
                        "photos, trained on the teacher's map alone (function matching), e.g. 0.25")
    f.add_argument("--teacher-on-labels", choices=["agree", "none", "all"], default="agree",
                   help="on labelled images distil only where the teacher agrees with the label (default), "
                        "never, or everywhere")
    f.add_argument("--lovasz-weight", type=non_negative_float, default=0.0,
                   help="weight of a Lovasz hinge (IoU surrogate) on the refined map")
    f.add_argument("--edge-weight", type=non_negative_float, default=0.0,
                   help="weight of the boundary-band edge term (gradient matching) on the refined map")
    f.add_argument("--time-budget", type=positive_float, default=0.0, metavar="MIN",
                   help="fit the epoch count (and LR schedule) to this many minutes after epoch 1")
    f.add_argument("--val-every", type=positive_int, default=1, metavar="N",
                   help="validate and write last.pt every N epochs (and after the last); >1 keeps a GPU busy")
    f.add_argument("--lr-scale", choices=list(LR_SCALES), default="none",
                   help=f"scale --lr from batch {REFERENCE_BATCH} to --batch-size (sqrt or linear)")
    f.add_argument("--compile", action="store_true", help="torch.compile the training step (GPU)")
    f.add_argument("--max-steps-per-epoch", type=non_negative_int, default=0, help=argparse.SUPPRESS)
    f.add_argument("--resume", type=Path, metavar="CKPT", help="continue from a last.pt")
    f.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (by default an --out holding best.pt or last.pt is "
                        "refused unless --resume continues that run)")
    f.add_argument("--init", type=Path, metavar="CKPT",
                   help="start from these weights with a fresh schedule (fine-tune, e.g. the shipped model)")
    f.add_argument("--grown-lr-mult", type=positive_float, default=1.0, metavar="X",
                   help="with --init from a smaller family member, the layers growing it adds learn at X "
                        "times --lr (a resumed run keeps the rates it was started with)")
    f.add_argument("--no-progress", action="store_true")

    b = sub.add_parser("throughput", help="measure training images/s and where the step time goes")
    b.add_argument("--cache", required=True, type=Path)
    b.add_argument("--model", default=DEFAULT_CONFIG, choices=list_configs())
    b.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    b.add_argument("--batch-size", type=positive_int, default=32)
    b.add_argument("--augment", choices=list(AUGMENT_PRESETS), default="full")
    b.add_argument("--size", type=cache_size, help="training side (default: the cache's)")
    b.add_argument("--procs", type=non_negative_int, default=0,
                   help="CPU processes sharing each batch (default 0: as fit, one a core)")
    b.add_argument("--threads", type=thread_count_or_auto, default=0,
                   help="CPU threads of each process (default 0: as fit)")
    b.add_argument("--beside-busy", action="store_true",
                   help="measure twice: quiet, then beside a process that keeps one core busy")
    b.add_argument("--steps", type=positive_int, default=20)
    b.add_argument("--warmup", type=positive_int, default=3)
    b.add_argument("--compile", action="store_true")
    b.add_argument("--json", type=Path, metavar="FILE", help="also write the report as JSON")

    v = sub.add_parser("val", help="score checkpoints on the cache's validation carve, per source; each after the "
                                   "first also as its difference from the first, with a paired 95%% interval")
    v.add_argument("checkpoints", nargs="+", type=Path)
    v.add_argument("--cache", required=True, type=Path)
    v.add_argument("--json", type=Path, metavar="FILE", help="also write {checkpoint: metrics} as JSON")

    a = sub.add_parser("average", help="a weighted mean of checkpoints' weights (a model soup): e.g. the shipped "
                                       "model and a fine-tune of it on more data")
    a.add_argument("checkpoints", nargs="+", type=Path,
                   help="two or more checkpoints of one architecture, or of smaller ones that grow into the last "
                        "one's (portrait-s-256 into portrait-sd-256)")
    a.add_argument("--weight", type=float, nargs="+", required=True,
                   help="one a checkpoint, or all but the last (which takes the rest); >= 0, summing to 1")
    a.add_argument("--out", required=True, type=Path, help="the averaged checkpoint (.pt)")
    a.add_argument("--cache", type=Path, help="score the average on this cache's validation carve and record "
                                              "the metrics in it, as fit records a run's")

    s = sub.add_parser("ship", help="strip a checkpoint to weights+config+metrics (e.g. as the shipped default)")
    s.add_argument("checkpoint", type=Path)
    s.add_argument("--dest", type=Path, help="default: portrait_mobile/weights/<model name>.pt")
    return p


def _cache(args) -> None:
    from ..data.cache import CacheSource, build_cache
    from ..data.folder import training_source

    if args.val_fraction == 1:
        raise PortraitError("--val-fraction 1 leaves nothing to train on: use a share below 1")
    sources = [CacheSource(*training_source(s), labelled=True, val_fraction=args.val_fraction) for s in args.source]
    sources += [CacheSource(*training_source(s), labelled=False) for s in args.unlabeled]
    teacher = None
    if args.teacher != "none":
        from ..reference.mediapipe import MediaPipePredictor, flip_averaged, mediapipe_path

        teacher = MediaPipePredictor(mediapipe_path(args.anchors, flag="--anchors")).predict
        if args.teacher == "mediapipe-flip":
            teacher = flip_averaged(teacher)
    elif args.unlabeled:
        raise PortraitError("--unlabeled images need --teacher mediapipe (they have no masks)")
    out = build_cache(sources, args.out, size=args.size, teacher=teacher)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


def _mix(items: list[str]):
    from ..data.mix import CAMPAIGN_MIX, parse_mix

    return CAMPAIGN_MIX if items == ["campaign"] else parse_mix(items)


def _procs(args) -> int:
    """CPU ranks for fit/throughput: one on a GPU or under torchrun (which made the ranks itself)."""
    from ..data.cache import decoded_bytes
    from .ranks import available_memory, default_procs, launched_elsewhere

    if args.device != "cpu" or launched_elsewhere():
        if args.procs > 1:
            raise PortraitError("--procs is for CPU training; on GPUs launch the ranks with torchrun")
        return 1
    return args.procs or default_procs(args.threads, decoded_bytes(args.cache), available_memory())


def _fit(args) -> None:
    from ..data.mix import HardDraw
    from .losses import LossConfig
    from .resolution import parse_schedule
    from .ranks import run_ranks
    from .teacher import check_teacher_mix
    from .trainer import TrainConfig, rank_batch, train

    teacher_in_loop = args.teacher_in_loop
    if teacher_in_loop and args.no_teacher:
        raise PortraitError("--teacher-in-loop and --no-teacher exclude each other")
    check_teacher_mix(args.teacher_mix or 0.0, bool(teacher_in_loop))  # before any rank starts
    if args.grown_lr_mult != 1.0 and not args.init:
        raise PortraitError("--grown-lr-mult applies to the layers an --init checkpoint lacks: give --init")
    if teacher_in_loop == "mediapipe":
        from ..reference.mediapipe import mediapipe_path

        teacher_in_loop = str(mediapipe_path(flag="--teacher-in-loop PATH"))
    if teacher_in_loop and not Path(teacher_in_loop).is_file():
        raise PortraitError(f"--teacher-in-loop: no such .tflite: {teacher_in_loop}")
    cfg = TrainConfig(cache=str(args.cache), out_dir=str(args.out), model=args.model, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay, seed=args.seed,
                      device=args.device, sources=tuple(args.sources), use_teacher=not args.no_teacher,
                      time_budget_min=args.time_budget, max_steps_per_epoch=args.max_steps_per_epoch,
                      resume=str(args.resume) if args.resume else None,
                      init=str(args.init) if args.init else None, grown_lr_mult=args.grown_lr_mult,
                      overwrite=args.overwrite,
                      progress=not args.no_progress,
                      augment=AUGMENT_PRESETS[args.augment], val_every=args.val_every,
                      lr_scale=args.lr_scale, compile=args.compile, teacher_in_loop=teacher_in_loop,
                      teacher_mix=args.teacher_mix or 0.0,
                      loss=LossConfig(teacher_on_labels=args.teacher_on_labels, lovasz_weight=args.lovasz_weight,
                                      edge_weight=args.edge_weight),
                      mix=_mix(args.mix), hard=HardDraw(args.hard_share, args.hard_every),
                      resolution=parse_schedule(args.res_schedule), threads=args.threads,
                      procs=_procs(args))
    rank_batch(cfg, cfg.procs)  # a batch that does not split is refused before any rank starts
    best = run_ranks(train, (cfg,), cfg.procs) if cfg.procs > 1 else train(cfg)
    print(f"best checkpoint: {best}")


def _throughput(args) -> None:
    from ..atomic import write_text
    from ..writable import check_output_file, refuse_collisions
    from .throughput import measure_throughput
    from .trainer import TrainConfig

    if args.json:  # before minutes of measuring
        refuse_collisions([("--cache", args.cache)], [("--json", args.json)])
        check_output_file(args.json, "--json")
    cfg = TrainConfig(cache=str(args.cache), model=args.model, device=args.device, batch_size=args.batch_size,
                      augment=AUGMENT_PRESETS[args.augment], compile=args.compile, progress=False,
                      threads=args.threads, procs=_procs(args))
    reports = measure_throughput(cfg, steps=args.steps, warmup=args.warmup, size=args.size,
                                 beside_busy=args.beside_busy)
    for report in reports:
        print(report.summary())
    if args.json:
        write_text(args.json, json.dumps([r.to_dict() for r in reports], indent=2))


def _carve(cache: Path):
    """The cache's validation carve, every source (what fit validates on)."""
    from ..data.cache import load_cache
    from .trainer import select_split

    return select_split(load_cache(cache, progress=False), (), use_teacher=False)[1]


def _val(args) -> None:
    import numpy as np
    import torch

    from ..atomic import write_text
    from ..checkpoint import Checkpoint
    from ..writable import check_output_file, refuse_collisions
    from .paired import paired_comparison
    from .trainer import carve_metrics, image_scores

    twice = sorted({str(p) for p in args.checkpoints if args.checkpoints.count(p) > 1})
    if twice:  # each is a key of the JSON, and a checkpoint against itself says nothing
        raise PortraitError(f"checkpoint given more than once: {', '.join(twice)}")
    if args.json:  # before the scoring: neither replace what is scored nor fail at the end
        refuse_collisions(_read_by(args), [("--json", args.json)])
        check_output_file(args.json, "--json")
    val_set = _carve(args.cache)
    results: dict[str, dict] = {}
    first: tuple[str, np.ndarray] | None = None
    for path in args.checkpoints:
        acc = image_scores(Checkpoint.load(path).build(), val_set, torch.device("cpu"))
        m: dict = carve_metrics(acc, val_set.sources)
        per_source = ", ".join(f"{k.split('/', 1)[1]} {v:.2f}" for k, v in m.items() if k.startswith("val_fg_iou/"))
        print(f"{path}: score {m['val_score']:.2f} (fg IoU by source: {per_source}; all {m['val_fg_iou']:.2f}, "
              f"boundary {m['val_boundary_iou']:.2f})")
        fg = 100 * np.asarray(acc.fg_ious)
        if first is None:
            first = (str(path), fg)
        else:  # the same photos under both: the difference and the noise the choice is made on
            cmp = paired_comparison(first[1], fg, val_set.sources)
            by_source = ", ".join(f"{s.split('/', 1)[0]} {d}" for s, d in cmp.by_source.items())
            print(f"  vs {first[0]}: score {cmp.score} (95%, paired over {cmp.score.n} images; {by_source})")
            m["paired"] = {"base": first[0], "val_score": vars(cmp.score),
                           **{f"val_fg_iou/{s}": vars(d) for s, d in cmp.by_source.items()}}
        results[str(path)] = m
    if args.json:
        write_text(args.json, json.dumps(results, indent=2))


def _read_by(args) -> list[tuple[str, Path | None]]:
    """What `val` and `average` read, which their outputs must not replace."""
    return [*(("checkpoint", c) for c in args.checkpoints), ("--cache", args.cache)]


def _average(args) -> None:
    import torch

    from ..writable import check_output_file, refuse_collisions
    from .average import average_checkpoints, parse_weights
    from .trainer import validate

    refuse_collisions(_read_by(args), [("--out", args.out)])
    check_output_file(args.out, "--out")
    weights = parse_weights(args.weight, len(args.checkpoints))
    soup = average_checkpoints(args.checkpoints, weights)
    if args.cache:  # recorded as fit records a run's metrics: the contract and the card read them
        soup.metrics = validate(soup.build(), _carve(args.cache), torch.device("cpu"))
    soup.save(args.out, include_train_state=False)
    score = f" (carve score {soup.metrics['val_score']:.2f})" if soup.metrics else ""
    print(f"wrote {args.out}: " + " + ".join(f"{w:g} x {p}" for w, p in zip(weights, args.checkpoints)) + score)


def _ship(args) -> None:
    from ..atomic import write_text
    from ..checkpoint import DEFAULT_WEIGHTS, Checkpoint
    from ..config import list_configs
    from ..contract_io import sidecar_path
    from ..errors import CheckpointError
    from ..paths import packaged_artifacts
    from ..writable import refuse_collisions

    if args.dest is not None and args.dest.suffix != ".pt":
        # The card goes to dest.with_suffix(".json"): with --dest X.json it would replace the weights.
        raise PortraitError(f"--dest {args.dest}: the shipped weights are a .pt file (their card is written beside "
                            "them as .json)")
    ck = Checkpoint.load(args.checkpoint)
    if args.dest is None and ck.config.name not in list_configs():
        # The name is read from a file anyone can make: in the package folder "portrait-sd-256_int8.tflite"
        # would make the card replace the shipped int8 model's sidecar.
        raise CheckpointError(f"{args.checkpoint}: its config {ck.config.name!r} is not a registered model "
                              f"({', '.join(list_configs())}); ship it elsewhere with --dest FILE.pt")
    dest = args.dest or DEFAULT_WEIGHTS.with_name(f"{ck.config.name}.pt")
    flag = "--dest" if args.dest else "the destination"
    refuse_collisions([("checkpoint", args.checkpoint)], [(flag, dest), (f"{flag}'s card", dest.with_suffix(".json"))])
    ck.train_state = None
    ck.save(dest, include_train_state=False)
    card = {"model": ck.config.name, "config": ck.config.to_dict(), "metrics": ck.metrics,
            "train_info": ck.train_info}
    write_text(dest.with_suffix(".json"), json.dumps(card, indent=2))
    print(f"shipped {dest} ({dest.stat().st_size / 1e3:.0f} KB)")
    # An exported artifact packaged beside the old weights would keep serving the old model through
    # Segmenter.default(): remove it and say how to package the new one. Only in the package's own
    # folder: elsewhere the files are the user's, and nothing serves them by default.
    if dest.parent.resolve() != DEFAULT_WEIGHTS.parent.resolve():
        return
    stale = packaged_artifacts(dest.parent, ck.config.name)
    stale += [s for p in stale if (s := sidecar_path(p)).is_file()]
    for p in stale:
        p.unlink()
    if stale:
        print(f"removed the stale packaged {', '.join(sorted(p.name for p in stale))}; package the new model with "
              f"`portrait-export --target tflite --weights {dest}` and copy exported/{ck.config.name}_int8.tflite(.json) "
              f"into {dest.parent}")


def main(argv: Sequence[str] | None = None) -> int:
    prefer_passive_waiting()  # before anything imports torch
    args = build_parser().parse_args(argv)
    return run_cli(PROG, lambda: {"cache": _cache, "fit": _fit, "throughput": _throughput, "val": _val,
                                       "average": _average, "ship": _ship}[args.cmd](args))


if __name__ == "__main__":
    sys.exit(main())
