"""Time the PyTorch port against looping the LiteRT interpreter, on one batch (the teacher's job in training).

    python -m portrait_mobile.reference.bench [--model PATH] [--batch 32] [--threads 2] [--device cpu|cuda]

Prints ms per batch (median of --repeat runs after one warm-up) and the max abs difference of the two outputs.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from ..errors import PortraitError
from .mediapipe import MEDIAPIPE_FILE
from .mediapipe_torch import MediaPipeTorch

DEFAULT_MODEL = Path("..") / "shared" / "anchors" / MEDIAPIPE_FILE


def _median_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up: allocations, kernel selection, CUDA context
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads and LiteRT num_threads")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-litert", action="store_true", help="time the port only (e.g. on a GPU host)")
    args = p.parse_args(argv)

    import torch

    try:
        model = MediaPipeTorch.from_tflite(args.model).to(args.device)
    except PortraitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    h, w = model.input_size
    x = torch.rand(args.batch, 3, h, w, generator=torch.Generator().manual_seed(0))
    xd = x.to(args.device)
    out: dict[str, np.ndarray] = {}

    def run_port() -> None:
        with torch.no_grad():
            y = model(xd)
        if xd.is_cuda:
            torch.cuda.synchronize()
        out["port"] = y.cpu().numpy()[:, 0]

    try:
        ms = _median_ms(run_port, args.repeat)
    except RuntimeError as e:  # torch's own errors (out of memory, a shape the build did not foresee)
        print(f"error: the port of {args.model} failed to run: {' '.join(str(e).split())[:300]}", file=sys.stderr)
        return 2
    print(f"torch port  {args.device:>5}: {ms:8.1f} ms per batch of {args.batch} at {h}x{w} "
          f"({ms / args.batch:.2f} ms/image, {args.threads} threads)")
    if args.no_litert:
        return 0

    from ..litert import new_interpreter

    it = new_interpreter(model.path, threads=args.threads)  # the default kernels: XNNPACK
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    nhwc = np.ascontiguousarray(x.permute(0, 2, 3, 1).numpy())

    def run_litert() -> None:
        ys = []
        for a in nhwc:
            it.set_tensor(i, a[None])
            it.invoke()
            ys.append(it.get_tensor(o)[0, ..., 0].copy())
        out["litert"] = np.stack(ys)

    ms_l = _median_ms(run_litert, args.repeat)
    print(f"LiteRT loop   cpu: {ms_l:8.1f} ms per batch of {args.batch} at {h}x{w} "
          f"({ms_l / args.batch:.2f} ms/image, {args.threads} threads)")
    print(f"max abs diff port vs LiteRT on this batch: {np.abs(out['port'] - out['litert']).max():.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
