"""The ``arm-*`` profiles: instruction counts of one invoke() on ARM64 XNNPACK kernels, the ratio to the
reference, and the parity of the ARM outputs with the x86 ones on real images.

For each profile one QEMU process runs our models and the reference. Our models count on a real
photo (the first parity image) and then run every parity image; the reference counts on a seeded
random input (it has no contract here; its count does not depend on the pixels). On the host the same
inputs go through the x86 build of LiteRT, and the two outputs are compared as probabilities (max
absolute difference) and as masks at 0.5 (IoU), image by image. An edge refiner (its contract's role)
counts and is compared on real contour tiles of those photos, cut around the coarse model's mask
(the first segmenter among the models); with both, each profile also counts a whole photo at quality
accurate (portrait_bench.photo_cost: coarse + the tiles its contour crosses on the PFCN test images).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from portrait_mobile.errors import PortraitError
from portrait_mobile.formats import EDGE_REFINER
from portrait_mobile.litert import new_interpreter
from portrait_mobile.paths import DATASETS_ENV, find_shared
from portrait_bench.arm.cores import ArmCore
from portrait_bench.arm.emulate import ArmJob, ArmRun, run_core
from portrait_bench.arm.prepare import ArmEnv, qemu_version
from portrait_bench.interpreters import random_input
from portrait_bench.model_specs import ModelSpec
from portrait_bench.photo_cost import FRAME_1080P, PhotoCost, count_tiles, pairs, parity_tiles, photo_costs
from portrait_bench.profiles import arm_core

Progress = Callable[[str], None]
DETERMINISM_TOLERANCE = 0.001  # two counted invokes must agree within 0.1%


@dataclass
class Parity:
    images: int
    source: str  # "pfcn test images" or "random inputs (...)"
    max_abs_diff: float  # of the probability maps, over all images
    min_mask_iou: float
    mean_mask_iou: float
    bit_exact: int  # images whose raw outputs are identical
    real_images: bool = False  # PFCN test photos (else random inputs: no contract or no data)

    def to_dict(self) -> dict[str, Any]:
        return {"images": self.images, "source": self.source, "real_images": self.real_images,
                "max_abs_diff": self.max_abs_diff, "min_mask_iou": self.min_mask_iou, "mean_mask_iou": self.mean_mask_iou, "bit_exact": self.bit_exact}


@dataclass
class ArmModelResult:
    model: ModelSpec
    run: ArmRun
    ratio: float | None = None  # our instructions / the reference's, same core
    parity: Parity | None = None

    @property
    def millions(self) -> float:
        return self.run.instructions / 1e6

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model.label, "path": str(self.model.path), "precision": self.model.precision,
                "is_reference": self.model.is_reference, "instructions": self.run.instructions,
                "instructions_per_run": self.run.runs, "spread": self.run.spread, "classes": self.run.classes,
                "blocks": self.run.blocks, "ratio_to_reference": self.ratio,
                "parity": self.parity.to_dict() if self.parity else None}


@dataclass
class ArmProfileResult:
    core: ArmCore
    emulator: str
    models: list[ArmModelResult]
    reference: ArmModelResult | None
    marker_overhead: int  # instructions of an empty window (included in every count)
    count_runs: int
    notes: list[str] = field(default_factory=list)
    cycles: dict[str, Any] = field(default_factory=dict)  # label -> llvm-mca estimate (see mca.py)
    photos: list[PhotoCost] = field(default_factory=list)  # quality accurate on a whole photo

    @property
    def name(self) -> str:
        return self.core.profile

    def result(self, label: str) -> ArmModelResult | None:
        return next((m for m in self.models if m.model.label == label), None)

    def to_dict(self) -> dict[str, Any]:
        return {"profile": self.core.profile, "core": self.core.to_dict(), "emulator": self.emulator,
                "counted": f"guest instructions of one invoke() after a warm-up, {self.count_runs} counted "
                           "invokes (median), 1 thread, XNNPACK; includes the markers' own "
                           f"{self.marker_overhead} instructions",
                "marker_overhead": self.marker_overhead, "models": [m.to_dict() for m in self.models],
                "reference": self.reference.to_dict() if self.reference else None, "notes": self.notes,
                "cycles": self.cycles, "photos": [p.to_dict() for p in self.photos]}


def _x86_outputs(path: Path, inputs: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    it = new_interpreter(path, threads=1)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    ys = []
    for x in inputs:
        it.set_tensor(inp["index"], x[None])
        it.invoke()
        ys.append(it.get_tensor(out["index"]).copy())
    return np.concatenate(ys, axis=0), out


def _input_detail(path: Path) -> dict[str, Any]:
    return new_interpreter(path).get_input_details()[0]


def parity_images(count: int) -> list[Path]:
    """The first ``count`` PFCN test images (test.txt order): real photos for the ARM parity check;
    [] when the shared datasets are absent ($PORTRAIT_DATASETS, else ../shared/datasets)."""
    try:
        root = find_shared("datasets", env=DATASETS_ENV)
    except PortraitError:
        return []
    listing = root / "pfcn" / "test.txt"
    if not listing.is_file():
        return []
    names = [n.strip() for n in listing.read_text().splitlines() if n.strip()]
    found = [root / "pfcn" / "images" / f"{n}.jpg" for n in names]
    return [p for p in found if p.is_file()][:count]


def _parity_inputs(spec: ModelSpec, images: list[Path], rng: np.random.Generator,
                   coarse: ModelSpec | None = None) -> tuple[np.ndarray, str, Any]:
    """(inputs stacked on axis 0, where they came from, the contract or None). An edge refiner's are
    contour tiles of the images around `coarse`'s mask (random inputs without one)."""
    contract = spec.contract
    detail = _input_detail(spec.path)
    if contract is not None and contract.role == EDGE_REFINER:
        tiles = parity_tiles(coarse, spec, images) if coarse is not None and images else np.zeros((0,))
        if len(tiles):
            return tiles, f"{len(tiles)} contour tiles of PFCN test images ({coarse.label}'s mask)", contract
        why = "no coarse model given" if coarse is None else "no PFCN test images (../shared/datasets absent)"
        xs = [random_input(detail, rng)[0] for _ in range(4)]
        return np.stack(xs), f"random inputs ({why})", contract
    if contract is not None and images:
        from portrait_mobile.model_io import quantize_input, to_model_input
        from portrait_mobile.runtime.image_input import read_image

        xs = [quantize_input(to_model_input(read_image(p), contract), contract)[0] for p in images]
        return np.stack(xs), f"{len(images)} PFCN test images", contract
    why = "no contract" if contract is None else "no PFCN test images (../shared/datasets absent)"
    xs = [random_input(detail, rng)[0] for _ in range(max(2, min(4, len(images) or 4)))]
    return np.stack(xs), f"random inputs ({why})", contract


def _probabilities(y: np.ndarray, contract: Any, out_detail: dict[str, Any]) -> np.ndarray:
    if contract is not None:
        from portrait_mobile.model_io import output_to_prob

        return np.stack([output_to_prob(y[i:i + 1], contract) for i in range(len(y))])
    scale, zp = out_detail.get("quantization", (0.0, 0))
    yf = y.astype(np.float32)
    return (yf - zp) * scale if scale else yf


def compare(arm: np.ndarray, x86: np.ndarray, contract: Any, out_detail: dict[str, Any], source: str,
            real_images: bool = False) -> Parity:
    if arm.shape != x86.shape:
        raise ValueError(f"ARM output shape {arm.shape} != x86 {x86.shape}")
    pa, px = _probabilities(arm, contract, out_detail), _probabilities(x86, contract, out_detail)
    ious = []
    for a, b in zip(pa, px):
        ma, mb = a > 0.5, b > 0.5
        union = np.logical_or(ma, mb).sum()
        ious.append(1.0 if union == 0 else float(np.logical_and(ma, mb).sum() / union))
    exact = sum(bool(np.array_equal(a, b)) for a, b in zip(arm, x86))
    return Parity(len(arm), source, float(np.max(np.abs(pa - px))), float(min(ious)), float(np.mean(ious)), exact,
                  real_images)


def run_arm_profiles(
    env: ArmEnv,
    specs: list[ModelSpec],
    reference: ModelSpec | None,
    profiles: list[str],
    images: int = 16,
    count_runs: int = 2,
    cycles: bool = False,
    seed: int = 0,
    progress: Progress | None = None,
) -> list[ArmProfileResult]:
    """Emulate each ARM profile over our models (and the reference); see the module docstring."""
    say = progress or (lambda _m: None)
    photos = parity_images(images) if images > 0 else []
    rng = np.random.default_rng(seed)
    photo_pairs = pairs(specs)
    coarse = photo_pairs[0][0] if photo_pairs else None
    # Tiles a photo needs: every PFCN test image (the contour's length varies a lot between photos).
    all_photos = parity_images(10 ** 6) if images > 0 else []
    tile_counts = {r.label: count_tiles(c, r.contract.tiles, all_photos, (r.contract.tiles.work_long_side, FRAME_1080P),
                                        r.contract.extra_channels[0]) for c, r in photo_pairs}
    prepared = []  # (spec, parity inputs, source, contract, x86 outputs, output detail)
    for spec in specs:
        xs, source, contract = _parity_inputs(spec, photos, rng, coarse)
        y86, out_detail = _x86_outputs(spec.path, xs)
        prepared.append((spec, xs, source, contract, y86, out_detail))
    ref_input = random_input(_input_detail(reference.path), np.random.default_rng(seed)) if reference else None
    emulator = qemu_version(env.qemu)
    results = []
    for name in profiles:
        core = arm_core(name)
        jobs = [ArmJob(spec.path, xs[:1], xs) for spec, xs, *_ in prepared]
        if reference is not None:
            jobs.append(ArmJob(reference.path, ref_input))
        say(f"arm: {name} ({core.qemu_cpu}, MIDR part {core.midr_part:#x}): {len(jobs)} model(s) under QEMU")
        runs, overhead = run_core(env, core, jobs, count_runs=count_runs, hot=cycles)
        ours = []
        notes = []
        ref_res = ArmModelResult(reference, runs[-1]) if reference is not None else None
        for (spec, xs, source, contract, y86, out_detail), run in zip(prepared, runs):
            real = contract is not None and bool(photos)
            r = ArmModelResult(spec, run, parity=compare(run.outputs, y86, contract, out_detail, source, real))
            if ref_res is not None:
                r.ratio = run.instructions / ref_res.run.instructions
            ours.append(r)
        for r in [*ours, *([ref_res] if ref_res else [])]:
            if r.run.spread > DETERMINISM_TOLERANCE:
                notes.append(f"{r.model.label}: counted invokes differ by {r.run.spread:.2%} (> 0.1%)")
        pr = ArmProfileResult(core, emulator, ours, ref_res, overhead, count_runs, notes)
        counted = {r.model.label: r.run.instructions for r in ours}
        for c, r in photo_pairs:
            pr.photos += photo_costs(c, r, tile_counts[r.label], counted,
                                     ref_res.run.instructions if ref_res else None)
        if any(s.contract is not None and s.contract.role == EDGE_REFINER for s in specs) and not photo_pairs:
            pr.notes.append("an edge refiner without a coarse model: its count is one tile's; pass the segmentation "
                            "model too (--model) to count a whole photo at quality accurate")
        if cycles:
            from portrait_bench.arm.mca import estimate_cycles

            for r in [*ours, *([ref_res] if ref_res else [])]:
                if r.run.hot:
                    pr.cycles[r.model.label] = estimate_cycles(r.run, core)
        results.append(pr)
    return results
