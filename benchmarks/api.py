"""The benchmark itself, as a library: time our models beside the reference per device profile.

``run_benchmark`` is what ``portrait-bench`` and the pytest fixture call. For every profile it pins the
process, builds one LiteRT interpreter per model with the profile's thread count and kernels, times
them interleaved run by run (:mod:`portrait_bench.timing`), and records median / p90 / min / std, the
ratio to the reference, memory, per-op time (:mod:`portrait_bench.op_profile`) and the delegate check
(:mod:`portrait_bench.compat`) the profile asks for, as the types of :mod:`portrait_bench.results`.
"""
from __future__ import annotations

import datetime as _dt
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from portrait_mobile.litert import KERNELS
from portrait_mobile.tflite_graph import read_tflite
from portrait_bench import memprobe
from portrait_bench.compat import check_graph
from portrait_bench.compat_types import CompatReport, DelegateReport
from portrait_bench.interpreters import ready_interpreter
from portrait_bench.machine import machine_info
from portrait_bench.model_specs import ModelSpec, default_model_paths, resolve_models, resolve_reference
from portrait_bench.op_profile import OP_PROFILE_CHOICES, OpProfile, OpProfileError, profile_ops
from portrait_bench.profiles import DeviceProfile, load_profiles, select_profiles
from portrait_bench.results import BenchResult, ModelTiming, ProfileResult
from portrait_bench.timing import Pinning, compute_stats, median_ratio, peak_rss_bytes, pinned, time_interleaved

Progress = Callable[[str], None]


class BenchError(RuntimeError):
    """The benchmark could not run (no model, a model that does not load, ...)."""


# ------------------------------------------------------------------ running

def _make_interpreter(spec: ModelSpec, threads: int, kernels: str, rng: np.random.Generator) -> Any:
    try:
        it = ready_interpreter(spec.path, threads, kernels, rng)
        it.invoke()
    except (RuntimeError, ValueError) as e:
        raise BenchError(f"{spec.label}: cannot run with {kernels} kernels, {threads} thread(s): {e}") from None
    return it


def _estimate(profile: DeviceProfile, t: ModelTiming) -> dict[str, Any] | None:
    if profile.reference_on_device is not None and t.ratio is not None:
        r = profile.reference_on_device
        return {
            "kind": "ratio x published reference time",
            "ms": t.ratio.value * r.ms,
            "ms_low": t.ratio.ci_low * r.ms,
            "ms_high": t.ratio.ci_high * r.ms,
            "device": r.device,
            "reference_ms": r.ms,
            "source": r.source,
            "caveat": r.caveat,
        }
    if profile.slowdown is not None:
        s = profile.slowdown
        return {
            "kind": "measured median x published slowdown factor",
            "ms": t.stats.median_ms * s.factor,
            "factor": s.factor,
            "source": s.source,
            "caveat": s.note,
        }
    return None


def _compat_for(profile: DeviceProfile, graph_cache: dict[str, Any], spec: ModelSpec) -> DelegateReport | None:
    dc = profile.delegate_check
    if dc is None:
        return None
    g = graph_cache.setdefault(str(spec.path), read_tflite(spec.path))
    rep = check_graph(
        g,
        delegates=(dc.delegate,),
        android_api_level=dc.android_api_level,
        allow_quant_ops=dc.allow_quant_ops,
        gpu_max_partitions=dc.max_delegated_partitions if dc.delegate == "gpu" else None,
        nnapi_max_partitions=dc.max_delegated_partitions if dc.delegate == "nnapi" else None,
    )
    return rep.delegates[dc.delegate]


def _refuse_timing_nothing(asked: list[str] | None, chosen: list[DeviceProfile], arm_names: list[str],
                           specs: list[ModelSpec]) -> None:
    """BenchError, before any timing, when profiles were asked for (``[]`` asks for none: a size-only
    budget) but no model would be timed on any: such a run printed an empty report and passed."""
    if (asked is not None and not asked) or arm_names:  # the ARM profiles run every model, whatever its precision
        return
    if not chosen:
        raise BenchError(f"nothing would be timed: --profile {','.join(asked or [])!r} names no profile")
    if any(s.precision in p.precisions for p in chosen for s in specs):
        return
    have = ", ".join(f"{s.label} ({s.precision})" for s in specs)
    runs = sorted({x for p in chosen for x in p.precisions})
    why = (" (a model without a contract takes its precision from its tensors: float16 weights make it fp16)"
           if any(s.contract is None for s in specs) else "")
    raise BenchError(f"nothing would be timed: the profiles ({', '.join(p.name for p in chosen)}) run only "
                     f"{', '.join(runs)} models, and the models are {have}{why}")


def run_benchmark(
    models: list[str | Path] | None = None,
    profiles: list[str] | None = None,
    reference: str | None = "mediapipe",
    runs: int | None = None,
    warmup: int | None = None,
    with_siblings: bool = True,
    op_profile: str = "both",
    op_runs: int = 20,
    memory: bool = True,
    profiles_file: str | Path | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    root: str | Path = ".",
    arm_images: int = 16,
    arm_cycles: bool = False,
) -> BenchResult:
    """Time our models (and the reference) on each selected profile. See the module docstring.

    ``arm-*`` profiles (or ``arm`` for all of them) run under QEMU instead
    (:mod:`portrait_bench.arm.profile_run`): instruction counts, ratio and ARM/x86 parity on
    ``arm_images`` PFCN test images; ``arm_cycles`` adds llvm-mca's cycle estimate.
    """
    say = progress or (lambda _msg: None)
    registry = load_profiles(profiles_file)
    selected = select_profiles(profiles, registry)
    web = [p.name for p in selected if p.runner == "web"]
    if web:
        raise BenchError(f"--profile {', '.join(web)} runs on its own (portrait-bench --profile {web[0]})")
    chosen = [p for p in selected if p.runner == "host"]
    arm_names = [p.name for p in selected if p.runner == "arm"]
    if arm_images < 0:
        raise BenchError(f"arm_images must be >= 0 (got {arm_images})")
    arm_env = None
    if arm_names:  # before any timing: a missing set-up fails at once
        from portrait_bench.arm.prepare import locate

        arm_env = locate()
    paths = list(models) if models else default_model_paths(root)
    if not paths:
        raise BenchError(
            "no model given and none found in exported/ for the default config; run portrait-export or pass --model"
        )
    specs = resolve_models(paths, with_siblings=with_siblings)
    _refuse_timing_nothing(profiles, chosen, arm_names, specs)
    ref = resolve_reference(reference)
    if op_profile not in OP_PROFILE_CHOICES:
        raise BenchError(f"op_profile must be one of {', '.join(OP_PROFILE_CHOICES)} (got {op_profile!r})")
    rng = np.random.default_rng(seed)
    graph_cache: dict[str, Any] = {}
    op_cache: dict[tuple[str, int, str], OpProfile | str] = {}
    mem_cache: dict[tuple[str, int, str], dict[str, float] | None] = {}

    compat: dict[str, CompatReport] = {}
    for s in specs:
        g = graph_cache.setdefault(str(s.path), read_tflite(s.path))
        compat[s.label] = check_graph(g)

    results: list[ProfileResult] = []
    for k, prof in enumerate(chosen, 1):
        ours = [s for s in specs if s.precision in prof.precisions]
        if not ours:
            results.append(
                ProfileResult(prof, Pinning(prof.cpus, None, (), "skipped"), [], None,
                              notes=[f"no model in precisions {prof.precisions}"])
            )
            continue
        n_runs = runs if runs is not None else prof.runs
        n_warm = warmup if warmup is not None else prof.warmup
        timed = ours + ([ref] if ref is not None else [])
        say(f"[{k}/{len(chosen)}] {prof.name}: {len(timed)} models x {n_runs} runs (+{n_warm} warm-up), "
            f"{prof.threads} thread(s), {prof.kernels}")
        notes: list[str] = []
        with pinned(prof.cpus, prof.threads) as pin:
            interps = []
            usable = []
            for spec in timed:
                try:
                    interps.append(_make_interpreter(spec, prof.threads, prof.kernels, rng))
                except BenchError as e:
                    if spec.is_reference:
                        notes.append(f"reference not timed: {e}")
                        continue
                    raise
                usable.append(spec)
            samples = time_interleaved([it.invoke for it in interps], runs=n_runs, warmup=n_warm)
        del interps
        timings = [ModelTiming(spec, compute_stats(smp), smp) for spec, smp in zip(usable, samples)]
        if memory:
            for t in timings:
                key = (str(t.model.path), prof.threads, prof.kernels)
                if key not in mem_cache:
                    mem_cache[key] = memprobe.probe(t.model.path, prof.threads, prof.kernels)
                t.memory = mem_cache[key]
        ref_t = next((t for t in timings if t.model.is_reference), None)
        ours_t = [t for t in timings if not t.model.is_reference]
        for t in ours_t:
            if ref_t is not None:
                t.ratio = median_ratio(t.samples_ms, ref_t.samples_ms)
            t.estimate = _estimate(prof, t)
        if ref_t is None and ref is not None:
            notes.append("no ratio: the reference could not be timed with these kernels")
        pr = ProfileResult(prof, pin, ours_t, ref_t, runs=n_runs, warmup=n_warm, notes=notes)
        for spec in ours:
            rep = _compat_for(prof, graph_cache, spec)
            if rep is not None:
                pr.compat[spec.label] = rep
        if op_profile != "none":
            modes = KERNELS if op_profile == "both" else (op_profile,)
            if prof.kernels == "builtin":
                modes = ("builtin",)
            for spec in ours:
                for mode in modes:
                    key = (str(spec.path), prof.threads, mode)
                    if key not in op_cache:
                        try:
                            op_cache[key] = profile_ops(spec.path, prof.threads, mode, runs=op_runs, cpus=pin.applied)
                        except OpProfileError as e:
                            op_cache[key] = str(e)
                    got = op_cache[key]
                    if isinstance(got, OpProfile):
                        pr.op_profiles.setdefault(spec.label, {})[mode] = got
                    elif f"per-op profiling unavailable: {got}" not in pr.notes:
                        pr.notes.append(f"per-op profiling unavailable: {got}")
        results.append(pr)

    settings = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
        "profiles": [p.name for p in chosen],
        "reference": reference,
        "runs_override": runs,
        "warmup_override": warmup,
        "op_profile": op_profile,
        "op_runs": op_runs,
        "timed_call": "Interpreter.invoke() only (input set once before timing; no pre/post-processing)",
        "memory": "per model, in a fresh process: RSS added by loading and running it (interpreter, arena, "
                  "packed weights, runtime pages touched); peak = highest RSS reached above the pre-load baseline",
        "ratio": "our median / reference median, same process, interleaved run by run, same threads and pinning",
        "arm_profiles": arm_names,
    }
    arm_results = []
    if arm_env is not None:
        from portrait_bench.arm.profile_run import run_arm_profiles

        arm_results = run_arm_profiles(arm_env, specs, ref, arm_names, images=arm_images, cycles=arm_cycles,
                                       seed=seed, progress=say)
    return BenchResult(machine_info(), specs, ref, results, compat, settings, peak_rss_bytes() / 1024.0, arm_results)


def check_budget(
    model: str | Path | list[str | Path] | None,
    budget: str | Path | None = None,
    **options: Any,
) -> tuple[BenchResult, list[Any]]:
    """Run the benchmark a budget file asks for and evaluate it: (result, verdicts)."""
    from portrait_bench.budgets import DEFAULT_BUDGET, evaluate_budget, load_budget

    b = load_budget(budget or DEFAULT_BUDGET)
    models = None if model is None else ([model] if isinstance(model, (str, Path)) else list(model))
    options.setdefault("profiles", b.profiles())
    options.setdefault("reference", b.reference)
    options.setdefault("op_profile", "none")
    result = run_benchmark(models, **options)
    return result, evaluate_budget(b, result)
