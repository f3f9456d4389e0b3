"""Readable tables for benchmark results, per-op profiles and compatibility reports."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from portrait_bench.compat_types import CompatReport
from portrait_bench.op_profile import OpProfile
from portrait_bench.op_labels import layer_label, op_params

_STATUS = {"ok": "ok", "unsupported": "NO", "uncertain": "?", "n/a": "n/a"}


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str | None = None, indent: str = "  ") -> str:
    """A plain-text table; ``align`` is one char per column, 'l' or 'r'."""
    rows = [["" if c is None else str(c) for c in r] for r in rows]
    heads = list(headers)
    widths = [max([len(heads[i])] + [len(r[i]) for r in rows]) for i in range(len(heads))]
    align = align or "l" * len(heads)

    def fmt(cells: Sequence[str]) -> str:
        out = []
        for i, c in enumerate(cells):
            out.append(c.rjust(widths[i]) if align[i] == "r" else c.ljust(widths[i]))
        return indent + "  ".join(out).rstrip()

    lines = [fmt(heads), indent + "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in rows]
    return "\n".join(lines)


def _ms(v: float | None) -> str:
    return "" if v is None else (f"{v:.2f}" if v < 100 else f"{v:.0f}")


def format_profile_result(pr: Any) -> str:
    p = pr.profile
    lines = [f"== {p.name}: {p.title} ==", f"  emulates : {p.emulates}"]
    lines.append(f"  measured : {pr.measured()}")
    if p.proxy_note:
        lines.append(f"  proxy    : {p.proxy_note}")
    rows = []
    for t in [*pr.timings, *([pr.reference] if pr.reference else [])]:
        s = t.stats
        native = "*" if (not t.model.is_reference and t.model.precision == p.native_precision) else ""
        ratio = ""
        if t.model.is_reference:
            ratio = "1.00 (ref)"
        elif t.ratio is not None:
            ratio = f"{t.ratio.value:.2f} ({t.ratio.ci_low:.2f}-{t.ratio.ci_high:.2f})"
        est = ""
        if t.estimate:
            est = f"~{t.estimate['ms']:.1f} ms"
        mem = "" if t.peak_mb is None else f"{t.peak_mb:.1f}"
        rows.append([t.model.label, t.model.precision + native, _ms(s.median_ms), _ms(s.p90_ms), _ms(s.min_ms),
                     f"{s.std_ms:.2f}", ratio, est, f"{t.model.size_kb:.0f}", mem])
    if rows:
        lines.append(table(
            ["model", "prec", "median ms", "p90 ms", "min ms", "std", "ratio to ref (95% CI)", "est. on device",
             "size KB", "peak MB"],
            rows, "llrrrrlrrr"))
        lines.append(f"  * native precision of this target ({p.native_precision}); other rows are run for comparison."
                     " peak MB: RSS a fresh process adds to load and run the model")
    est = next((t.estimate for t in pr.timings if t.estimate), None)
    if est:
        lines.append(f"  est. on device = {est['kind']}: {est.get('reference_ms', est.get('factor'))} "
                     f"({est.get('device', '')}; {est['source']}). ESTIMATE, not measured: {est['caveat']}")
    for label, rep in pr.compat.items():
        lines.append(f"  delegate check [{label}]: {rep.summary()} ({rep.settings})")
    for n in pr.notes:
        lines.append(f"  note: {n}")
    return "\n".join(lines)


def format_arm_profile(pr: Any) -> str:
    """One ARM profile: instruction counts by class, ratio to the reference, ARM-vs-x86 parity."""
    c = pr.core
    lines = [f"== {c.profile}: {c.title} ==",
             f"  emulated : qemu-aarch64 -cpu {c.qemu_cpu}, /proc/cpuinfo MIDR part {c.midr_part:#x} "
             f"({pr.emulator}); ARM64 XNNPACK kernels of ai-edge-litert, 1 thread",
             f"  counted  : guest instructions of one invoke() (median of {pr.count_runs}, after a warm-up); "
             "deterministic and independent of the host CPU. Instructions are not time: see the classes."]
    rows = []
    for m in [*pr.models, *([pr.reference] if pr.reference else [])]:
        k = m.run.classes
        tot = max(1, m.run.instructions)
        ratio = "1.00 (ref)" if m.model.is_reference else ("" if m.ratio is None else f"{m.ratio:.3f}")
        par = ""
        if m.parity is not None:
            p = m.parity
            par = (f"max|d| {p.max_abs_diff:.1e}, IoU min {p.min_mask_iou:.4f} "
                   f"({p.bit_exact}/{p.images} bit-exact, {p.source})")
        rows.append([m.model.label, m.model.precision, f"{m.millions:.2f}", ratio,
                     f"{100 * k['load_store'] / tot:.0f}%", f"{100 * k['simd_fp'] / tot:.0f}%",
                     f"{k['dot_product'] / 1e6:.2f}", f"{k['fmla'] / 1e6:.2f}", f"{k['int_mla_long'] / 1e6:.2f}",
                     f"{m.run.spread:.4%}", par])
    lines.append(table(["model", "prec", "M instr", "ratio to ref", "ld/st", "SIMD&FP", "M dot", "M fmla",
                        "M s/umlal", "run spread", "ARM vs x86 parity"], rows, "llrrrrrrrrl"))
    if pr.photos:
        lines.append("  a photo at quality accurate = the coarse model + the refiner on each tile its contour "
                     "crosses:")
        prow = []
        for p in pr.photos:
            rm, rx = p.ratio(p.mean_instructions), p.ratio(p.max_instructions)
            prow.append([f"{p.coarse} + {p.refiner}", f"{p.tiles.long_side}", f"{p.tiles.mean:.1f} / {p.tiles.max}",
                         f"{p.coarse_instructions / 1e6:.2f} + {p.tile_instructions / 1e6:.3f} x tiles",
                         f"{p.mean_instructions / 1e6:.2f} / {p.max_instructions / 1e6:.2f}",
                         "" if rm is None else f"{rm:.3f} / {rx:.3f}"])
        lines.append(table(["models", "frame long side", "tiles mean / max", "M instr", "M instr a photo mean / max",
                            "ratio to ref mean / max"], prow, "llrrrr"))
        lines.append(f"  tiles: {pr.photos[0].tiles.source}; 1920 = the photo as a 1080p frame, refined at its "
                     "resolution with the same tiles")
    for label, est in pr.cycles.items():
        if "error" in est:
            lines.append(f"  cycles [{label}]: not estimated ({est['error']})")
            continue
        lines.append(f"  cycles [{label}]: ESTIMATE ~{est['cycles'] / 1e6:.1f} M cycles, IPC {est['ipc']:.2f}, "
                     f"~{est['ms']:.1f} ms if clocked at {est['clock_ghz']} GHz")
    if pr.cycles:
        est = next((e for e in pr.cycles.values() if "how" in e), None)
        if est:
            lines.append(f"  cycles: {est['how']}. Clock: {est['clock_source']}.")
    for n in pr.notes:
        lines.append(f"  note: {n}")
    return "\n".join(lines)


def format_op_profile(prof: OpProfile, model: str, top: int = 10) -> str:
    if prof.mode == "xnnpack":
        title = (f"XNNPACK kernels (what runs on a phone's CPU path; XNNPACK fuses ops, so rows are its operators), "
                 f"{prof.threads} thread(s), sum {prof.total_ms:.2f} ms/run")
    else:
        title = (f"TFLite ops with builtin kernels (one row per layer; these kernels are slower than XNNPACK: "
                 f"read shares, not ms), {prof.threads} thread(s), sum {prof.total_ms:.2f} ms/run")
    lines = [f"  {model} - {title}"]
    bt = prof.by_type()[:6]
    lines.append("    by type : " + "; ".join(f"{t.replace('Delegate/', '')} {pct:.0f}% (x{n})" for t, n, _ms_, pct in bt))
    if prof.mode == "builtin":
        named = prof.has_layer_names()
        blocks = [b for b in prof.by_block(depth=1 if named else 2) if b[0] not in ("(unnamed)", "(unknown)")]
        if blocks:
            what = "by block" if named else "by output resolution (export stripped layer names)"
            lines.append(f"    {what}: " + "; ".join(f"{b} {pct:.0f}%" for b, n, _m, pct in blocks[:7]))
    rows = []
    for r in prof.top(top):
        rows.append([f"#{r.index}", r.node_type.replace("Delegate/", "xnn:"), r.layer, r.out_shape, f"{r.avg_ms:.3f}",
                     f"{100 * r.avg_ms / (prof.total_ms or 1):.1f}%"])
    lines.append(table(["node", "kernel / op", "layer", "output", "avg ms", "share"], rows, "llllrr", indent="    "))
    return "\n".join(lines)


def format_compat(rep: CompatReport, full: bool = True) -> str:
    g = rep.graph
    lines = [f"== Delegate compatibility: {rep.model} ({len(g.ops)} ops) =="]
    for d in rep.delegates.values():
        lines.append(f"  {d.summary()}")
        lines.append(f"      settings: {d.settings}")
        for n in d.notes:
            lines.append(f"      note: {n}")
    show = range(len(g.ops)) if full else [
        i for i in range(len(g.ops)) if any(d.verdicts[i].status not in ("ok", "n/a") for d in rep.delegates.values())
    ]
    rows = []
    for i in show:
        op = g.ops[i]
        out_t = g.t(op.outputs[0]) if op.outputs else None
        cells = [str(i), op.label, str(op.version), op_params(op, g), layer_label(g.output_name(op)),
                 "x".join(map(str, out_t.shape)) if out_t is not None else ""]
        reasons = []
        for name, d in rep.delegates.items():
            v = d.verdicts[i]
            cells.append(_STATUS.get(v.status, v.status))
            if v.status not in ("ok", "n/a") and v.reason:
                reasons.append(f"{name}: {v.reason}")
        cells.append("; ".join(reasons))
        rows.append(cells)
    if rows:
        heads = ["#", "op", "v", "params", "layer", "output", *[n.upper() if n != "coreml" else "CoreML/ANE" for n in rep.delegates], "why not"]
        lines.append(table(heads, rows, "rlrlll" + "l" * len(rep.delegates) + "l"))
        lines.append("  ok = runs on the delegate, NO = falls back to CPU, ? = uncertain (heuristic), n/a = not in that export")
    elif not full:
        lines.append("  every op is taken by every delegate checked")
    return "\n".join(lines)


def format_result(result: Any, top_ops: int = 8, compat_full: bool = False) -> str:
    m = result.machine
    out = [
        f"portrait-bench  {result.settings.get('created', '')}",
        f"host: {m['cpu']} ({m['arch']}; {' '.join(m.get('cpu_kernel_flags') or []) or 'no AVX2/AVX-512/AMX'}), "
        f"{len(m['cpus_available'])} CPUs available to this process, load average {m.get('load_average_1m')}, "
        f"{m['os']}, Python {m['python']}, ai_edge_litert {m['ai_edge_litert']}",
        "timed: Interpreter.invoke() only, in-process; ratio = our median / reference median, interleaved run by run, "
        "same threads and pinning. The x86 ratio depends on which kernels this host's CPU gets (0.59 on AMD EPYC, "
        "1.1 on Intel Sapphire Rapids): information only. The arm-* profiles' instruction counts do not.",
        "nothing here ran on a phone: ms are this x86 host's; 'est. on device' is an estimate; NNAPI / GPU / Core ML "
        "support comes from op tables, not from running those delegates.",
        "",
    ]
    if result.reference is None:
        out.append("no reference timed (--reference none): no ratios\n")
    for pr in result.profiles:
        out.append(format_profile_result(pr))
        out.append("")
    for apr in getattr(result, "arm", []):
        out.append(format_arm_profile(apr))
        out.append("")
    seen: set[tuple[str, str]] = set()
    op_lines = []
    for pr in result.profiles:
        for label, modes in pr.op_profiles.items():
            for mode, prof in modes.items():
                key = (label, mode)  # first profile's thread count; every view is in the JSON
                if key in seen:
                    continue
                seen.add(key)
                op_lines.append(format_op_profile(prof, label, top=top_ops))
    if op_lines:
        out.append("== Per-op time (LiteRT's op profiler, first profile's thread count; all in the JSON) ==")
        out.extend(op_lines)
        out.append("")
    for label, rep in result.compat.items():
        out.append(format_compat(rep, full=compat_full))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def format_verdicts(verdicts: Sequence[Any]) -> str:
    gates = [v for v in verdicts if v.gate]
    broken = [v for v in gates if not v.ok]
    info = len(verdicts) - len(gates)
    lines = [f"== Budgets: {len(gates) - len(broken)}/{len(gates)} gates ok"
             + (f", {info} for information only" if info else "") + " =="]
    for v in verdicts:
        lines.append(f"  {v.message}")
    return "\n".join(lines)
