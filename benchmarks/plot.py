"""PNG comparing models and profiles: median / p90 per x86 profile, the ratio to the reference, and the
ARM instruction counts by class."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from portrait_mobile.atomic import atomic_path


def plot_result(result: Any, path: str | Path, verdicts: Sequence[Any] | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    profs = [p for p in result.profiles if p.timings]
    arm = list(getattr(result, "arm", []))
    if not profs and not arm:
        raise ValueError("nothing to plot: no profile timed or counted a model")
    if not profs:
        fig, axes = plt.subplots(1, 1, figsize=(8, 5.6), squeeze=False)
        _arm_panel(axes[0][0], arm)
        return _save(fig, plt, path, result)
    labels = []
    for p in profs:
        for t in [*p.timings, *([p.reference] if p.reference else [])]:
            if t.model.label not in labels:
                labels.append(t.model.label)
    colors = plt.get_cmap("tab10")
    has_ref = any(p.reference for p in profs)
    n_panels = 1 + has_ref + bool(arm)
    fig, axes = plt.subplots(1, n_panels, figsize=(6.5 * n_panels if n_panels > 1 else 8, 5.6), squeeze=False)
    ax = axes[0][0]
    x = np.arange(len(profs))
    w = 0.8 / max(len(labels), 1)
    for j, lab in enumerate(labels):
        med, err = [], []
        for p in profs:
            t = p.timing(lab) or (p.reference if p.reference and p.reference.model.label == lab else None)
            med.append(t.stats.median_ms if t else np.nan)
            err.append(t.stats.p90_ms - t.stats.median_ms if t else 0.0)
        is_ref = any(p.reference and p.reference.model.label == lab for p in profs)
        ax.bar(x + (j - (len(labels) - 1) / 2) * w, med, w, yerr=[np.zeros(len(err)), err], capsize=3,
               label=lab + (" (reference)" if is_ref else ""), color="0.6" if is_ref else colors(j),
               hatch="//" if is_ref else None, edgecolor="0.3", linewidth=0.5)
    _label_profile_axes(ax, x, [p.profile.name for p in profs], "ms per inference on this host (bar: median, whisker: p90)",
                        "Latency per profile (measured on the x86 host)")
    if has_ref:
        ax2 = axes[0][1]
        ours = [lab for lab in labels if not any(p.reference and p.reference.model.label == lab for p in profs)]
        w2 = 0.8 / max(len(ours), 1)
        for j, lab in enumerate(ours):
            vals, lo, hi = [], [], []
            for p in profs:
                t = p.timing(lab)
                if t is None or t.ratio is None:
                    vals.append(np.nan)
                    lo.append(0.0)
                    hi.append(0.0)
                    continue
                vals.append(t.ratio.value)
                lo.append(t.ratio.value - t.ratio.ci_low)
                hi.append(t.ratio.ci_high - t.ratio.value)
            ax2.bar(x + (j - (len(ours) - 1) / 2) * w2, vals, w2, yerr=[lo, hi], capsize=3, label=lab,
                    color=colors(labels.index(lab)), edgecolor="0.3", linewidth=0.5)
        ax2.axhline(1.0, color="k", linewidth=1, linestyle="--", label="reference = 1")
        if verdicts:
            for v in verdicts:
                if v.metric != "ratio_to_reference":
                    continue
                prof_name = v.subject.split(",")[0]
                names = [p.profile.name for p in profs]
                if prof_name in names:
                    i = names.index(prof_name)
                    ax2.plot([i - 0.45, i + 0.45], [v.limit, v.limit], color="r", linewidth=1.2, linestyle=":")
            ax2.plot([], [], color="r", linestyle=":", label="budget")
        _label_profile_axes(ax2, x, [p.profile.name for p in profs], "our median / reference median (95% CI)",
                            "Ratio to the MediaPipe reference (same process, interleaved)")
    if arm:
        _arm_panel(axes[0][n_panels - 1], arm)
    return _save(fig, plt, path, result)


def _label_profile_axes(ax: Any, x: Any, names: list[str], ylabel: str, title: str) -> None:
    """What both x86 panels share: a tick per profile, the labels, the legend below, a y grid."""
    ax.set_xticks(x, names, rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    ax.grid(axis="y", alpha=0.3)


# instruction classes drawn as stacked segments (dot/fmla/mlal are parts of simd_fp in the counts)
_SEGMENTS = (("dot_product", "SDOT/UDOT"), ("fmla", "FMLA"), ("int_mla_long", "SMLAL/UMLAL"),
             ("simd_other", "other SIMD & FP"), ("load_store", "loads/stores"), ("branch", "branches"),
             ("rest", "other"))


def _arm_panel(ax: Any, arm: Sequence[Any]) -> None:
    """Instructions of one invoke per ARM core and model, stacked by class, ratio to the reference on top."""
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("Set2")
    xs, names, ticks = [], [], []
    x = 0.0
    for pr in arm:
        rows = [*pr.models, *([pr.reference] if pr.reference else [])]
        start = x
        for m in rows:
            k, total = m.run.classes, m.run.instructions
            simd_other = k["simd_fp"] - k["dot_product"] - k["fmla"] - k["int_mla_long"]
            parts = {**k, "simd_other": simd_other,
                     "rest": total - k["simd_fp"] - k["load_store"] - k["branch"]}
            bottom = 0.0
            for i, (key, _label) in enumerate(_SEGMENTS):
                h = max(parts[key], 0) / 1e6
                ax.bar(x, h, 0.8, bottom=bottom, color=cmap(i), edgecolor="0.3", linewidth=0.4,
                       hatch="//" if m.model.is_reference else None)
                bottom += h
            tag = "ref" if m.model.is_reference else (f"{m.ratio:.2f}x" if m.ratio is not None else "")
            ax.text(x, bottom, tag, ha="center", va="bottom", fontsize=7)
            names.append(("MediaPipe" if m.model.is_reference else m.model.precision))
            xs.append(x)
            x += 1.0
        ticks.append(((start + x - 1.0) / 2, pr.name))
        x += 0.8
    ax.set_xticks(xs, names, rotation=45, ha="right", fontsize=7)
    for pos, name in ticks:
        ax.text(pos, -0.22, name, transform=ax.get_xaxis_transform(), ha="center", fontsize=8)
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=cmap(i), edgecolor="0.3", label=label) for i, (_k, label) in enumerate(_SEGMENTS)]
    handles.append(Patch(facecolor="white", edgecolor="0.3", hatch="//", label="MediaPipe (reference)"))
    ax.set_ylabel("M instructions of one invoke (ARM64 XNNPACK under QEMU)")
    ax.set_title("ARM64 instruction counts by class (ratio to MediaPipe on top)")
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.27), ncol=4, frameon=False)
    ax.grid(axis="y", alpha=0.3)


def _save(fig: Any, plt: Any, path: str | Path, result: Any) -> Path:
    m = result.machine
    fig.suptitle(f"portrait-bench on {m['cpu']}, {len(m['cpus_available'])} CPUs, ai_edge_litert {m['ai_edge_litert']}",
                 fontsize=9)
    fig.tight_layout()
    out = Path(path)
    try:
        with atomic_path(out, suffix=".png") as tmp:  # PNG whatever the name says, as the help promises
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return out
