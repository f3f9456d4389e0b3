"""Per-op time from LiteRT's own op profiler (:mod:`portrait_bench.litert_profiler`), in two views:

* ``xnnpack``: the kernels that actually run on a phone's CPU path. XNNPACK fuses and renames ops
  (a 1x1 conv is a "Fully Connected GEMM", a concat a "Copy"), so rows are XNNPACK operators, in
  execution order, not TFLite ops.
* ``builtin``: XNNPACK off (CPU kernel mode BUILTIN), one row per TFLite op, so each row maps to a
  layer of the model (its output tensor name). Absolute times are those of TFLite's reference-ish
  kernels, slower than XNNPACK; read it for *where* the time goes, not for how much.

The profiler is reached through ctypes, so a mismatch with a future libLiteRt could crash the process:
:func:`profile_ops` therefore runs it in a child process (:mod:`portrait_bench.child_entry`).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from portrait_mobile.litert import KERNELS
from portrait_mobile.tflite_graph import read_tflite
from portrait_bench.child import ChildError, run_child
from portrait_bench.litert_profiler import OpProfileError, run_profiler
from portrait_bench.op_labels import layer_label

OP_PROFILE_CHOICES = ("both", *KERNELS, "none")  # what portrait-bench --op-profile takes
_ROW_RE = re.compile(
    r"^\s*(?P<type>\S.*?)\s+(?P<start>-?[\d.]+)\s+(?P<first>-?[\d.]+)\s+(?P<avg>-?[\d.]+)\s+"
    r"(?P<pct>-?[\d.]+)%\s+(?P<cdf>-?[\d.]+)%\s+(?P<mem>-?[\d.]+)\s+(?P<times>\d+)\s+(?P<name>\S.*?)\s*$"
)
_INDEX_RE = re.compile(r"\[(?:Delegate|Builtin|[A-Za-z]+)\]:(\d+)$")


@dataclass
class OpRow:
    index: int  # position in the run order (node index)
    node_type: str
    name: str
    avg_ms: float
    first_ms: float
    pct: float
    times_called: int
    layer: str = ""  # '[Builtin]' rows: the TFLite op's output tensor, shortened ('' if names were stripped)
    out_shape: str = ""  # '[Builtin]' rows: the op's output shape, e.g. 1x128x128x8

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class OpProfile:
    mode: str
    threads: int
    runs: int
    rows: list[OpRow] = field(default_factory=list)

    @property
    def total_ms(self) -> float:
        return sum(r.avg_ms for r in self.rows)

    def top(self, n: int) -> list[OpRow]:
        return sorted(self.rows, key=lambda r: r.avg_ms, reverse=True)[:n]

    def by_type(self) -> list[tuple[str, int, float, float]]:
        """(node type, count, total avg ms, % of total), largest first."""
        agg: dict[str, list[float]] = {}
        for r in self.rows:
            agg.setdefault(r.node_type, []).append(r.avg_ms)
        tot = self.total_ms or 1.0
        out = [(k, len(v), sum(v), 100.0 * sum(v) / tot) for k, v in agg.items()]
        return sorted(out, key=lambda t: t[2], reverse=True)

    def has_layer_names(self) -> bool:
        """Most TFLite-op rows carry a layer name (exports that strip tensor names keep a few)."""
        rows = [r for r in self.rows if r.out_shape]
        return bool(rows) and sum(bool(r.layer) for r in rows) > len(rows) / 2

    def by_block(self, depth: int = 2) -> list[tuple[str, int, float, float]]:
        """Time per model block (first ``depth`` parts of the layer name); when the export stripped the
        tensor names, per output resolution instead ('@128x128'): a stage of a U-Net is a resolution."""
        named = self.has_layer_names()
        agg: dict[str, list[float]] = {}
        for r in self.rows:
            if named:
                key = ".".join(r.layer.split(".")[:depth]) if r.layer else "(unnamed)"
            else:
                dims = r.out_shape.split("x")
                key = f"@{dims[1]}x{dims[2]}" if len(dims) == 4 else "(unknown)"
            agg.setdefault(key, []).append(r.avg_ms)
        tot = self.total_ms or 1.0
        out = [(k, len(v), sum(v), 100.0 * sum(v) / tot) for k, v in agg.items()]
        return sorted(out, key=lambda t: t[2], reverse=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "threads": self.threads,
            "runs": self.runs,
            "total_ms": self.total_ms,
            "rows": [r.to_dict() for r in self.rows],
            "by_type": [dict(zip(("node_type", "count", "ms", "pct"), t)) for t in self.by_type()],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "OpProfile":
        return cls(mode=d["mode"], threads=d["threads"], runs=d["runs"], rows=[OpRow(**r) for r in d["rows"]])


def parse_summary(text: str) -> list[OpRow]:
    """Rows of the first 'Run Order' table of a TFLite profile summary."""
    lines = text.splitlines()
    try:
        start = next(i for i, ln in enumerate(lines) if "Run Order" in ln)
    except StopIteration:
        raise OpProfileError("profile summary has no 'Run Order' table") from None
    rows: list[OpRow] = []
    for ln in lines[start + 1 :]:
        if "[node type]" in ln:
            continue
        if not ln.strip() or ln.lstrip().startswith("="):
            if rows:
                break
            continue
        m = _ROW_RE.match(ln)
        if not m:
            continue
        idx_m = _INDEX_RE.search(m["name"])
        rows.append(
            OpRow(
                index=int(idx_m.group(1)) if idx_m else len(rows),
                node_type=m["type"].strip(),
                name=m["name"],
                avg_ms=float(m["avg"]),
                first_ms=float(m["first"]),
                pct=float(m["pct"]),
                times_called=int(m["times"]),
            )
        )
    if not rows:
        raise OpProfileError("profile summary has an empty 'Run Order' table")
    return rows


def _layer_names(model_path: str) -> list[tuple[str, str]]:
    """(short layer name or '' when the export stripped names to t<index>, output shape) per op."""
    g = read_tflite(model_path)
    out = []
    for op in g.ops:
        t = g.t(op.outputs[0]) if op.outputs else None
        out.append((layer_label(g.output_name(op)), "x".join(map(str, t.shape)) if t else ""))
    return out


def profile_here(model_path: str, threads: int, mode: str, runs: int, warmup: int) -> OpProfile:
    """Per-op times of one model, in this process (the child's job: call :func:`profile_ops`)."""
    text = run_profiler(model_path, threads, mode, runs, warmup)
    rows = parse_summary(text)
    # '[Builtin]:k' rows are TFLite node k (all rows in builtin mode, ops XNNPACK left to TFLite in
    # xnnpack mode); '[Delegate]:k' rows are XNNPACK's own operators and have no single TFLite layer.
    names = _layer_names(model_path)
    for r in rows:
        if r.name.startswith("[Builtin]") and 0 <= r.index < len(names):
            r.layer, r.out_shape = names[r.index]
    return OpProfile(mode=mode, threads=threads, runs=runs, rows=rows)


def profile_ops(
    model_path: str | Path,
    threads: int = 1,
    mode: str = "xnnpack",
    runs: int = 20,
    warmup: int = 3,
    cpus: tuple[int, ...] | None = None,
    timeout_s: float = 300.0,
) -> OpProfile:
    """Per-op times of one model, measured in a child process (a ctypes crash cannot take us down)."""
    args = [str(model_path), "--threads", str(threads), "--kernels", mode, "--runs", str(runs), "--warmup", str(warmup)]
    if cpus:
        args += ["--cpus", ",".join(map(str, cpus))]
    what = f"op profiling of {model_path}"
    try:
        return OpProfile.from_dict(run_child("op-profile", args, what, timeout_s))
    except ChildError as e:
        raise OpProfileError(str(e)) from None
    except (KeyError, TypeError) as e:
        raise OpProfileError(f"{what}: unreadable result ({e})") from None
