"""int8 TFLite of the tile refiner: litert-torch converts the fp32 tile model (N x T x T x 4, NHWC),
ai-edge-quantizer's static int8 recipe quantizes it with ranges calibrated on real contour tiles.
Its I/O stays int8 (input scale 1/255, zero point -128: a tile's uint8 values minus 128; output the
sigmoid's 1/256, -128): the two QUANTIZE ops of a uint8 interface cost 0.025 M ARM instructions a
tile, 7% of the refiner's count, which the ARM budget cannot spare.

Phase 1 of issue 25: the geometry and encoding go into `<artifact>.refiner.json`
(portrait_mobile.runtime.refiner reads it); the contract, formats row and parity gate come with the
exporter skeleton.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from portrait_mobile.atomic import write_bytes
from portrait_mobile.contract import CONTRACT_KEY, ModelContract
from portrait_mobile.errors import ExportError
from portrait_mobile.litert import flatbuffer_str
from portrait_mobile.runtime.refiner import refiner_sidecar

from .native_output import quiet
from .tflite_convert import input_tensor_name, signature
from .tflite_quantize import CALIB_CHUNK, quantize_int8
from .tflite_rewrite import finalize


def convert_refiner_fp32(model: Any, tile: int, batch: int) -> bytes:
    """litert-torch conversion of the (BN-folded, eval) refiner with NHWC input and output."""
    import torch

    with quiet():
        import litert_torch

    litert_torch.config.show_progress = False
    wrapped = litert_torch.to_channel_last_io(model, args=[0], outputs=[0]).eval()
    with quiet() as cap:
        try:
            data = bytes(litert_torch.convert(wrapped, (torch.zeros(batch, tile, tile, 4),)).model_content())
        except Exception as e:
            raise ExportError(f"refiner tflite: litert-torch conversion failed: {type(e).__name__}: {e} "
                              f"({cap.tail()})") from None
    if not data:
        raise ExportError("refiner tflite: litert-torch returned an empty model")
    return data


def calibrate_refiner(fp32: bytes, tiles: np.ndarray, batch: int) -> dict[str, dict[str, np.ndarray]]:
    """Activation ranges from real tiles (uint8 N x T x T x 4), the input pinned to [0, 1]."""
    with quiet():
        from ai_edge_quantizer import quantizer, recipe

    key, name = signature(fp32)
    n = len(tiles) // batch * batch
    if n == 0:
        raise ExportError(f"refiner tflite: {len(tiles)} calibration tiles, need at least {batch}")
    x = tiles[:n].astype(np.float32) / 255.0
    batches = [{name: x[i:i + batch]} for i in range(0, n, batch)]
    q = quantizer.Quantizer(bytearray(fp32), recipe.static_wi8_ai8())
    qsvs = None
    for i in range(0, len(batches), CALIB_CHUNK):
        with quiet() as cap:
            try:
                qsvs = q.calibrate({key: batches[i:i + CALIB_CHUNK]}, previous_calibration_result=qsvs)
            except Exception as e:
                raise ExportError(f"refiner tflite: calibration failed: {type(e).__name__}: {e} ({cap.tail()})") from None
    tin = input_tensor_name(fp32)
    shape = np.shape(qsvs[tin]["min"])
    qsvs[tin] = {**qsvs[tin], "min": np.zeros(shape, np.float32), "max": np.ones(shape, np.float32)}
    return qsvs


def _without_contract(model_bytes: bytes) -> bytes:
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    m = fbu.read_model_from_bytearray(bytearray(model_bytes))
    m.metadata = [md for md in (m.metadata or []) if flatbuffer_str(md.name) != CONTRACT_KEY]
    return bytes(fbu.convert_object_to_bytearray(m))


# The refiner's parity gate: int8 against the PyTorch refiner on held-out contour tiles (the carve's).
MAX_MEAN_ABS_DIFF = 0.02
MIN_MASK_AGREEMENT = 0.98  # share of output pixels on the same side of 0.5


def refiner_parity(model_bytes: bytes, torch_model: Any, tiles: np.ndarray, batch: int) -> dict[str, float]:
    """The int8 file's outputs against the PyTorch refiner's on `tiles` (uint8 N x T x T x 4)."""
    import torch

    from portrait_mobile.litert import new_interpreter

    with quiet():
        it = new_interpreter(model_bytes, threads=1)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    n = len(tiles) // batch * batch
    got = []
    for i in range(0, n, batch):
        x = tiles[i:i + batch]
        it.set_tensor(inp["index"], (x ^ np.uint8(0x80)).view(np.int8) if inp["dtype"] == np.int8 else x)
        it.invoke()
        scale, zero = out["quantization"]
        got.append((it.get_tensor(out["index"]).astype(np.float32) - zero) * scale)
    got = np.concatenate(got).reshape(n, -1)
    with torch.no_grad():
        want = torch_model(torch.from_numpy(tiles[:n]).permute(0, 3, 1, 2).float() / 255).reshape(n, -1).numpy()
    return {"n_tiles": n, "mean_abs_diff": float(np.abs(got - want).mean()),
            "max_abs_diff": float(np.abs(got - want).max()),
            "mask_agreement": float(((got >= 0.5) == (want >= 0.5)).mean())}


def export_refiner_tflite(checkpoint: Any, dest: str | Path, calib_tiles: np.ndarray, batch: int = 1,
                          parity_tiles: np.ndarray | None = None) -> Path:
    """Write the int8 refiner to `dest` and its description beside it; returns `dest`. With
    `parity_tiles`, nothing is written unless the int8 file passes the parity gate (ExportError)."""
    import copy

    cfg = checkpoint.config
    model = copy.deepcopy(checkpoint.build()).fuse_for_export()
    fp32 = convert_refiner_fp32(model, cfg.tile, batch)
    data = quantize_int8(fp32, calibrate_refiner(fp32, calib_tiles, batch))
    # finalize's uint8 I/O and short names; the segmentation contract it embeds does not describe a
    # 4-channel tile model, so it is dropped again (the sidecar describes the file until the refiner
    # has a contract of its own).
    placeholder = ModelContract(model_name=cfg.name, version="refiner", input_height=cfg.tile, input_width=cfg.tile)
    data = _without_contract(finalize(data, placeholder, uint8_io=False))
    parity = None
    if parity_tiles is not None:
        parity = refiner_parity(data, checkpoint.build(), parity_tiles, batch)
        if parity["mean_abs_diff"] > MAX_MEAN_ABS_DIFF or parity["mask_agreement"] < MIN_MASK_AGREEMENT:
            raise ExportError(f"refiner tflite int8: parity gate failed on {parity['n_tiles']} held-out tiles: mean "
                              f"abs diff {parity['mean_abs_diff']:.4f} (max {MAX_MEAN_ABS_DIFF}), mask agreement "
                              f"{parity['mask_agreement']:.4f} (min {MIN_MASK_AGREEMENT}); nothing written")
    dest = Path(dest)
    write_bytes(dest, data)
    grid = cfg.grid()
    info = {"refiner": cfg.name, "config": cfg.to_dict(), "precision": "int8", "batch": batch,
            "grid": {"core": grid.core, "margin": grid.margin, "out_stride": grid.out_stride,
                     "work_long_side": grid.work_long_side},
            "input": "int8 [N, T, T, 4]: R, G, B, coarse probability as uint8 values minus 128 (scale 1/255, zero point -128)",
            "output": "int8 [N, T/2, T/2, 1]: refined probability (dequantize with the output's scale and zero point)",
            "calibration_tiles": int(len(calib_tiles)), "metrics": checkpoint.metrics,
            "parity": None if parity is None else {**parity, "gate": {"max_mean_abs_diff": MAX_MEAN_ABS_DIFF,
                                                                      "min_mask_agreement": MIN_MASK_AGREEMENT}}}
    write_bytes(refiner_sidecar(dest), json.dumps(info, indent=2).encode())
    return dest


def cache_tiles(cache_path: str | Path, grid: Any, carve: bool, count: int = 256, seed: int = 0) -> np.ndarray:
    """`count` contour tiles from a refine cache's training photos (calibration) or its carve (parity)."""
    from portrait_mobile.refine.dataset import load_refine_cache, sample_tiles

    cache = load_refine_cache(cache_path)
    rng = np.random.default_rng(seed)
    pool = np.nonzero(cache.is_val if carve else ~cache.is_val)[0]
    picked = rng.choice(pool, size=min(len(pool), count), replace=False)
    return sample_tiles(cache, picked, grid, per_image=1, rng=rng, flip=False).inputs[:count]


def main(argv: list[str] | None = None) -> int:
    """python -m portrait_export.refine_tflite CHECKPOINT --cache C --out FILE.tflite [--batch N]"""
    import sys

    from portrait_mobile.cli_support import OneLineParser, positive_int, run_cli

    p = OneLineParser(prog="portrait-export-refiner", description="int8 TFLite of a refiner checkpoint")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--cache", required=True, type=Path, help="refine cache whose training tiles calibrate")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--batch", type=positive_int, default=1, help="tiles per invoke (static; default 1)")
    args = p.parse_args(argv if argv is not None else sys.argv[1:])

    def body() -> None:
        from portrait_mobile.refine.checkpoint import RefinerCheckpoint

        ck = RefinerCheckpoint.load(args.checkpoint)
        grid = ck.config.grid()
        out = export_refiner_tflite(ck, args.out, cache_tiles(args.cache, grid, carve=False), args.batch,
                                    parity_tiles=cache_tiles(args.cache, grid, carve=True))
        p = json.loads(refiner_sidecar(out).read_text())["parity"]
        print(f"wrote {out} ({out.stat().st_size} bytes) and {refiner_sidecar(out).name}; parity on "
              f"{p['n_tiles']} carve tiles: mean abs diff {p['mean_abs_diff']:.4f}, mask agreement "
              f"{p['mask_agreement']:.4f}")

    return run_cli("portrait-export-refiner", body, failure_types=(ExportError,))


if __name__ == "__main__":
    raise SystemExit(main())
