"""`python -m portrait_mobile.refine.train`: the learned edge refiner's data cache, training, carve
scoring and shipping.

    python -m portrait_mobile.refine.train cache --out .traincache/refine512
    python -m portrait_mobile.refine.train fit --cache .traincache/refine512 --out runs/refine/r1 --minutes 60
    python -m portrait_mobile.refine.train val runs/refine/r1/best.pt --cache .traincache/refine512
    python -m portrait_mobile.refine.train ship runs/refine/r1/best.pt
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Sequence

from ..cli_support import (OneLineParser, fraction, non_negative_float, non_negative_int, positive_float, positive_int,
                           run_cli, share)
from ..data.carve import VAL_FRACTION
from ..errors import DatasetError
from ..runtime.band import FEATHER
from ..train.threads import prefer_passive_waiting
from .config import DEFAULT_REFINER, refiner_config_names

PROG = "portrait-refine-train"
# The labelled training lists, each at its own resolution (never pfcn/test: the benchmark split).
DEFAULT_SOURCES = ("pfcn:train", "ccp:train", "picsart:train", "vitonplus:train")


def weights_path(text: str) -> Path:
    """An argparse type for ship's --dest: a .pt file, so the card written beside it (the same name
    with .json) is never the weights themselves."""
    path = Path(text)
    if path.suffix != ".pt":
        raise argparse.ArgumentTypeError(f"expected a .pt file (its card is written beside it as .json), got {text!r}")
    return path


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    c = sub.add_parser("cache", help="run the coarse model once per labelled photo and cache it at 512")
    c.add_argument("--out", required=True, type=Path, help="cache path (<out>.npz + <out>.u8; keep it in .traincache/)")
    c.add_argument("--source", action="append", default=None, metavar="SET:SPLIT",
                   help=f"labelled set in the datasets folder, repeatable (default {', '.join(DEFAULT_SOURCES)})")
    c.add_argument("--datasets", type=Path, help="datasets folder (default ../shared/datasets)")
    c.add_argument("--coarse", type=Path, help="coarse model artifact (default: the packaged int8 .tflite)")
    c.add_argument("--val-fraction", type=fraction, default=VAL_FRACTION,
                   help=f"carve per source (default {VAL_FRACTION}, data.carve's)")
    c.add_argument("--config", default=DEFAULT_REFINER, choices=refiner_config_names())

    f = sub.add_parser("fit", help="train a refiner on a cache (one CPU thread)")
    f.add_argument("--cache", required=True, type=Path)
    f.add_argument("--out", required=True, type=Path, help="run folder: last.pt, best.pt, history.json")
    f.add_argument("--config", default=DEFAULT_REFINER, choices=refiner_config_names())
    f.add_argument("--epochs", type=positive_int, default=30)
    f.add_argument("--steps", type=positive_int, default=400, help="steps per epoch (default 400)")
    f.add_argument("--images", type=positive_int, default=16, help="photos per step (default 16)")
    f.add_argument("--tiles", type=positive_int, default=4, help="tiles per photo (default 4)")
    f.add_argument("--lr", type=positive_float, default=3e-3)
    f.add_argument("--lovasz", type=non_negative_float, default=0.5, help="Lovasz hinge weight (default 0.5)")
    f.add_argument("--band-weight", type=non_negative_float, default=4.0)
    f.add_argument("--hard-tiles", type=share, default=1.0, metavar="F",
                   help="average the loss over the share F of each batch's tiles with the highest loss (online "
                        "hard example mining; e.g. 0.5 with twice the --tiles); default 1: every tile")
    f.add_argument("--minutes", type=non_negative_float, default=0.0, help="stop after the epoch that crosses this")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--resume", type=Path, help="a last.pt to continue from")
    f.add_argument("--init", type=Path, help="start from this refiner checkpoint's weights (the same network, or a narrower one: widened "
                        "to compute what it did)")

    v = sub.add_parser("val", help="score refiner checkpoints on the cache's carves (original resolution)")
    v.add_argument("checkpoints", nargs="+", type=Path)
    v.add_argument("--cache", required=True, type=Path)
    v.add_argument("--json", type=Path, metavar="FILE", help="also write {checkpoint: metrics} as JSON")

    t = sub.add_parser("levels", help="fast / balanced / accurate on a labelled folder, scored and timed")
    t.add_argument("--data", required=True, metavar="SET:SPLIT", help="labelled set in the datasets folder, e.g. pfcn:test")
    t.add_argument("--datasets", type=Path, help="datasets folder (default ../shared/datasets)")
    t.add_argument("--refiner", required=True, type=Path,
                   help="a refiner artifact (.tflite, .onnx: portrait-export --refiner) or checkpoint (.pt)")
    t.add_argument("--coarse", type=Path, help="coarse model artifact (default: the packaged int8 .tflite)")
    t.add_argument("--carve", action="store_true",
                   help="score only the split's validation carve (the photos the refiner is chosen on)")
    t.add_argument("--feather", type=non_negative_int, default=FEATHER, metavar="PX",
                   help=f"the accurate level's hand-over at the refined region's edge (default {FEATHER})")
    t.add_argument("--time-images", type=non_negative_int, default=12, help="photos timed at 1080p (default 12, 0: none)")
    t.add_argument("--no-cleanup", action="store_true",
                   help="score the coarse model's mask as it is, without the runtime's cleanup of small "
                        "detached regions and holes (SegmenterOptions.cleanup)")
    t.add_argument("--json", type=Path, metavar="FILE")

    s = sub.add_parser("ship", help="strip a checkpoint to weights + config + metrics, with a JSON beside it")
    s.add_argument("checkpoint", type=Path)
    s.add_argument("--dest", type=weights_path, help="a .pt file (default: portrait_mobile/weights/<config name>.pt)")
    return p


def _cache(args) -> None:
    from ..data.folder import training_source
    from ..paths import DATASETS_ENV, DEFAULT_INT8, find_shared
    from ..runtime import Segmenter
    from .config import get_refiner_config
    from .dataset import RefineSource, build_refine_cache

    root = find_shared("datasets", args.datasets, flag="--datasets", env=DATASETS_ENV)
    specs = args.source or list(DEFAULT_SOURCES)
    sources = []
    for spec in specs:
        folder, split = training_source(str(root / spec))  # never a held-out split (pfcn:test, ./pfcn)
        sources.append(RefineSource(folder, split, args.val_fraction))
    coarse_path = args.coarse or DEFAULT_INT8
    seg = Segmenter.from_file(coarse_path, threads=1)
    out = build_refine_cache(sources, args.out, seg.predict_lowres, get_refiner_config(args.config).grid(),
                             coarse_name=Path(coarse_path).name)
    print(f"wrote {out}")


def _fit(args) -> None:
    import torch

    from .config import get_refiner_config
    from .dataset import load_refine_cache
    from .fit import FitConfig, fit
    from .loss import RefineLossConfig

    torch.set_num_threads(1)
    cfg = FitConfig(cache=str(args.cache), out_dir=str(args.out), config=args.config, epochs=args.epochs,
                    steps_per_epoch=args.steps, images_per_step=args.images, tiles_per_image=args.tiles,
                    lr=args.lr, seed=args.seed, time_budget_min=args.minutes,
                    loss=RefineLossConfig(band_weight=args.band_weight, lovasz_weight=args.lovasz,
                                          hard_fraction=args.hard_tiles),
                    resume=str(args.resume) if args.resume else None, init=str(args.init) if args.init else None)
    channel = get_refiner_config(args.config).prob_channel
    fit(load_refine_cache(args.cache, channel), cfg, log=lambda s: print(s, flush=True))


def _val(args) -> None:
    import torch

    from .checkpoint import RefinerCheckpoint
    from .dataset import load_refine_cache
    from .fit import runner_for
    from .validate import CarveSet, score

    if args.json:  # before the scoring: neither replace what is scored nor fail at the end
        from ..writable import check_output_file, refuse_collisions
        from .dataset import cache_files

        refuse_collisions([*(("checkpoint", c) for c in args.checkpoints),
                           *(("--cache", f) for f in cache_files(args.cache))], [("--json", args.json)])
        check_output_file(args.json, "--json")
    torch.set_num_threads(1)
    caches: dict[str, object] = {}  # by the refiners' 4th channel
    carve = None
    results = {}
    for path in args.checkpoints:
        ck = RefinerCheckpoint.load(path)
        ch = ck.config.prob_channel
        cache = caches.setdefault(ch, load_refine_cache(args.cache, ch))
        carve = carve or CarveSet.from_cache(cache)
        results[str(path)] = r = score(cache, carve, ck.config.grid(), runner_for(ck.build()))
        print(f"{path}: " + ", ".join(f"{k} {v:.2f}" for k, v in r.items()))
    if args.json:
        from ..atomic import write_bytes

        write_bytes(args.json, json.dumps(results, indent=1).encode())


def _levels(args) -> None:
    from ..atomic import write_bytes
    from ..data.folder import PortraitFolder
    from ..paths import DATASETS_ENV, DEFAULT_INT8, find_shared
    from ..runtime import NO_CLEANUP, Segmenter, SegmenterOptions
    from .evaluate import score_levels, time_levels
    from .validate import carve_indices

    root = find_shared("datasets", args.datasets, flag="--datasets", env=DATASETS_ENV)
    name, _, split = args.data.partition(":")
    folder = PortraitFolder(root / name, split or None)
    coarse = args.coarse or DEFAULT_INT8
    if args.json:  # before the scoring: neither replace what is read nor fail at the end
        from ..contract_io import sidecar_path
        from ..writable import check_output_file, refuse_collisions

        refuse_collisions([("--data", folder.root / f"{split}.txt" if split else None), ("--data", folder.image_dir),
                           ("--data", folder.mask_dir), ("--refiner", args.refiner),
                           ("--refiner", sidecar_path(args.refiner)), ("--coarse", coarse),
                           ("--coarse", sidecar_path(coarse))], [("--json", args.json)])
        check_output_file(args.json, "--json")
    options = SegmenterOptions(threads=1, cleanup=NO_CLEANUP) if args.no_cleanup else SegmenterOptions(threads=1)
    seg = Segmenter.from_file(coarse, options)
    if args.refiner.suffix != ".pt":
        from ..runtime.refiner import TileModel

        tm = TileModel.from_file(args.refiner, threads=1)
        runner, grid, batch, channel = tm, tm.grid, tm.batch, tm.channel
    else:
        import torch

        from .checkpoint import RefinerCheckpoint
        from .fit import runner_for

        torch.set_num_threads(1)
        ck = RefinerCheckpoint.load(args.refiner)
        runner, grid, batch, channel = runner_for(ck.build()), ck.config.grid(), 64, ck.config.prob_channel
    indices = carve_indices(folder) if args.carve else None
    if indices == []:
        raise DatasetError(f"{folder.name} has no validation carve")
    report = score_levels(folder, seg.predict_lowres, runner, grid, batch, channel=channel, indices=indices,
                          feather=args.feather, cleanup=seg.options.cleanup)
    result = {"data": args.data, "carve": args.carve, "feather": args.feather, "coarse": str(seg.backend.path), "refiner": str(args.refiner), "channel": channel,
              "cleanup": asdict(seg.options.cleanup),
              "n_images": report.n_images, "tiles_mean": report.tiles_mean, "tiles_max": report.tiles_max,
              "levels": report.metrics}
    for lvl, m in report.metrics.items():
        print(f"{lvl:9s} fg IoU {m['fg_iou']:.2f}  mIoU {m['miou']:.2f}  boundary IoU {m['boundary_iou']:.2f}")
    print(f"tiles per photo: mean {report.tiles_mean:.1f}, max {report.tiles_max}")
    if args.time_images > 0:
        imgs = [folder[i].image for i in range(min(args.time_images, len(folder)))]
        ms = time_levels(imgs, seg.predict_lowres, runner, grid, batch, size=(1080, 1920), channel=channel,
                        cleanup=seg.options.cleanup)
        result["ms_1080p_one_thread"] = ms
        print("1080x1920, one thread, median ms per photo (coarse model included): "
              + ", ".join(f"{k} {v:.1f}" for k, v in ms.items()))
    if args.json:
        write_bytes(args.json, json.dumps(result, indent=2).encode())


def _packaged_dest(ck, path: Path) -> Path:
    """portrait_mobile/weights/<config name>.pt, for a registered refiner only: the name is read from a
    file anyone can make, and in the package folder a name such as "portrait-sd-256" or
    "portrait-sd-256_int8.tflite" would replace the shipped model's weights or sidecar."""
    from ..checkpoint import _config_diff
    from ..config import list_configs
    from ..errors import CheckpointError
    from .checkpoint import DEFAULT_REFINER_WEIGHTS
    from .config import get_refiner_config

    name = ck.config.name
    if name not in refiner_config_names() or name in list_configs():  # a model's name: its weights and card
        raise CheckpointError(f"{path}: its refiner config {name!r} is not a registered refiner "
                              f"({', '.join(refiner_config_names())}); ship it elsewhere with --dest FILE.pt")
    if get_refiner_config(name) != ck.config:  # it would replace the registered refiner under its name
        raise CheckpointError(f"{path}: its config is named {name!r} but is not the registered {name} "
                              f"({_config_diff(get_refiner_config(name), ck.config)}); ship it with --dest FILE.pt")
    return DEFAULT_REFINER_WEIGHTS.with_name(f"{name}.pt")


def _ship(args) -> None:
    from ..atomic import write_bytes
    from ..errors import CheckpointError
    from ..writable import check_output_file, refuse_collisions
    from .checkpoint import RefinerCheckpoint

    ck = RefinerCheckpoint.load(args.checkpoint)
    dest = args.dest or _packaged_dest(ck, args.checkpoint)
    card_path = dest.with_suffix(".json")
    flag = "--dest" if args.dest else "the destination"
    refuse_collisions([("checkpoint", args.checkpoint)], [(flag, dest), (f"{flag}'s card", card_path)])
    check_output_file(dest, flag)
    check_output_file(card_path, f"{flag}'s card")
    info = {k: v for k, v in ck.train_info.items() if k != "train_state"}
    try:  # made before anything is written: a checkpoint whose metrics hold tensors leaves no half-shipped pair
        card = json.dumps({"refiner": ck.config.name, "config": ck.config.to_dict(), "metrics": ck.metrics,
                           "train_info": info}, indent=2).encode()
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{args.checkpoint}: its metrics or train_info are not plain JSON data ({e})") from None
    replace(ck, train_state=None).save(dest, include_train_state=False)
    write_bytes(card_path, card)
    print(f"wrote {dest} and {card_path.name}")


def main(argv: Sequence[str] | None = None) -> int:
    prefer_passive_waiting()  # before anything imports torch
    args = build_parser().parse_args(argv)
    return run_cli(PROG, lambda: {"cache": _cache, "fit": _fit, "val": _val, "levels": _levels, "ship": _ship}[args.cmd](args))


if __name__ == "__main__":
    sys.exit(main())
