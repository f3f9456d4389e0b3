"""PNG comparing models and profiles: median / p90 per profile, and the ratio to the reference."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Sequence


def plot_result(result: Any, path: str | Path, verdicts: Sequence[Any] | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    profs = [p for p in result.profiles if p.timings]
    if not profs:
        raise ValueError("nothing to plot: no profile timed a model")
    labels = []
    for p in profs:
        for t in [*p.timings, *([p.reference] if p.reference else [])]:
            if t.model.label not in labels:
                labels.append(t.model.label)
    colors = plt.get_cmap("tab10")
    has_ref = any(p.reference for p in profs)
    fig, axes = plt.subplots(1, 2 if has_ref else 1, figsize=(13 if has_ref else 8, 5.6), squeeze=False)
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
    ax.set_xticks(x, [p.profile.name for p in profs], rotation=20, ha="right")
    ax.set_ylabel("ms per inference on this host (bar: median, whisker: p90)")
    ax.set_title("Latency per profile (measured on the x86 host)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    ax.grid(axis="y", alpha=0.3)
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
        ax2.set_xticks(x, [p.profile.name for p in profs], rotation=20, ha="right")
        ax2.set_ylabel("our median / reference median (95% CI)")
        ax2.set_title("Ratio to the MediaPipe reference (same process, interleaved)")
        ax2.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
        ax2.grid(axis="y", alpha=0.3)
    m = result.machine
    fig.suptitle(f"portrait-bench on {m['cpu']}, {len(m['cpus_available'])} CPUs, ai_edge_litert {m['ai_edge_litert']}",
                 fontsize=9)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name, suffix=".png", dir=out.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, out)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
