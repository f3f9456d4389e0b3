"""Per-op time from LiteRT's own op profiler.

ai_edge_litert's Python ``Interpreter`` exposes no profiler, but the ``libLiteRt.so`` it ships exports
the LiteRT C API with one: a CompiledModel created with the runtime option ``enable_profiling = true``
records every kernel invocation (``LiteRtCompiledModelGetProfiler`` / ``LiteRtGetProfileSummary``, the
same summary ``benchmark_model --enable_op_profiling`` prints). This module drives that C API with
ctypes. Two views:

* ``xnnpack``: the kernels that actually run on a phone's CPU path. XNNPACK fuses and renames ops
  (a 1x1 conv is a "Fully Connected GEMM", a concat a "Copy"), so rows are XNNPACK operators, in
  execution order, not TFLite ops.
* ``builtin``: XNNPACK off (CPU kernel mode BUILTIN), one row per TFLite op, so each row maps to a
  layer of the model (its output tensor name). Absolute times are those of TFLite's reference-ish
  kernels, slower than XNNPACK; read it for *where* the time goes, not for how much.

The C API is reached through ctypes, so a mismatch with a future libLiteRt could crash the process:
:func:`profile_ops` therefore runs it in a child process (``python -m portrait_bench.op_profile``).
"""
from __future__ import annotations

import argparse
import ctypes as C
import json
import os
import re
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MODES = ("xnnpack", "builtin")
_ROW_RE = re.compile(
    r"^\s*(?P<type>\S.*?)\s+(?P<start>-?[\d.]+)\s+(?P<first>-?[\d.]+)\s+(?P<avg>-?[\d.]+)\s+"
    r"(?P<pct>-?[\d.]+)%\s+(?P<cdf>-?[\d.]+)%\s+(?P<mem>-?[\d.]+)\s+(?P<times>\d+)\s+(?P<name>\S.*?)\s*$"
)
_INDEX_RE = re.compile(r"\[(?:Delegate|Builtin|[A-Za-z]+)\]:(\d+)$")


class OpProfileError(RuntimeError):
    """Per-op profiling could not run (the reason says why)."""


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


_STRIPPED_RE = re.compile(r"^t\d+$")


def short_layer_name(tensor_name: str) -> str:
    """'...Wrapper/portrait_mobile.model.PortraitNet_wrapped/portrait_mobile.model.Encoder_encoder/
    torch.nn.modules.container.Sequential_1/...Conv2d_conv;...' -> 'encoder.1.0.pw.conv'."""
    candidates = [c for c in tensor_name.split(";") if c] or [tensor_name]
    best: list[str] = []
    for cand in candidates:  # fused ops carry several names; keep the most specific one
        parts = []
        for seg in cand.split("/"):
            cls_attr = seg.rsplit(".", 1)[-1]
            if "_" not in cls_attr:
                continue
            cls, attr = cls_attr.split("_", 1)
            if cls.endswith("Wrapper") or attr == "wrapped":
                continue
            parts.append(attr)
        if len(parts) > len(best):
            best = parts
    if best:
        return ".".join(best)
    first = candidates[0]
    return "output" if "Wrapper" in first else first.rsplit("/", 1)[-1][-48:]


# ------------------------------------------------------------------ ctypes LiteRT C API

class _Layout(C.Structure):
    _fields_ = [("packed", C.c_uint32), ("dims", C.c_int32 * 8), ("strides", C.c_uint32 * 8)]


class _RankedTensorType(C.Structure):
    _fields_ = [("element_type", C.c_int32), ("layout", _Layout)]


_DESTRUCTOR = C.CFUNCTYPE(None, C.c_void_p)


def _load_lib() -> C.CDLL:
    import ai_edge_litert

    path = Path(ai_edge_litert.__file__).resolve().parent / "libLiteRt.so"
    if not path.is_file():
        raise OpProfileError(f"{path} not found: this ai_edge_litert build ships no LiteRT C API")
    lib = C.CDLL(str(path))
    vp = C.c_void_p
    sigs: dict[str, list[Any]] = {
        "LiteRtCreateEnvironment": [C.c_int, vp, C.POINTER(vp)],
        "LiteRtCreateModelFromBuffer": [vp, vp, C.c_size_t, C.POINTER(vp)],
        "LiteRtCreateOptions": [C.POINTER(vp)],
        "LiteRtSetOptionsHardwareAccelerators": [vp, C.c_int],
        "LiteRtCreateOpaqueOptions": [C.c_char_p, vp, _DESTRUCTOR, C.POINTER(vp)],
        "LiteRtAddOpaqueOptions": [vp, vp],
        "LiteRtCreateCompiledModel": [vp, vp, vp, C.POINTER(vp)],
        "LiteRtGetModelSignature": [vp, C.c_size_t, C.POINTER(vp)],
        "LiteRtGetNumSignatureInputs": [vp, C.POINTER(C.c_size_t)],
        "LiteRtGetNumSignatureOutputs": [vp, C.POINTER(C.c_size_t)],
        "LiteRtGetSignatureInputTensorByIndex": [vp, C.c_size_t, C.POINTER(vp)],
        "LiteRtGetSignatureOutputTensorByIndex": [vp, C.c_size_t, C.POINTER(vp)],
        "LiteRtGetRankedTensorType": [vp, C.POINTER(_RankedTensorType)],
        "LiteRtGetCompiledModelInputBufferRequirements": [vp, C.c_size_t, C.c_size_t, C.POINTER(vp)],
        "LiteRtGetCompiledModelOutputBufferRequirements": [vp, C.c_size_t, C.c_size_t, C.POINTER(vp)],
        "LiteRtCreateManagedTensorBufferFromRequirements": [vp, C.POINTER(_RankedTensorType), vp, C.POINTER(vp)],
        "LiteRtGetTensorBufferSize": [vp, C.POINTER(C.c_size_t)],
        "LiteRtLockTensorBuffer": [vp, C.POINTER(vp), C.c_int],
        "LiteRtUnlockTensorBuffer": [vp],
        "LiteRtRunCompiledModel": [vp, C.c_size_t, C.c_size_t, C.POINTER(vp), C.c_size_t, C.POINTER(vp)],
        "LiteRtCompiledModelGetProfiler": [vp, C.POINTER(vp)],
        "LiteRtStartProfiler": [vp],
        "LiteRtStopProfiler": [vp],
        "LiteRtResetProfiler": [vp],
        "LiteRtGetProfileSummary": [vp, vp, C.POINTER(C.c_char_p)],
    }
    for name, args in sigs.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise OpProfileError(f"libLiteRt.so lacks {name}") from None
        fn.argtypes = args
        fn.restype = C.c_int
    return lib


def _check(status: int, what: str) -> None:
    if status != 0:
        raise OpProfileError(f"{what} failed (LiteRtStatus {status})")


def _run_profiler(model_path: str, threads: int, mode: str, runs: int, warmup: int, seed: int = 0) -> str:
    """Profile summary text (in this process: call through :func:`profile_ops` for isolation)."""
    if mode not in MODES:
        raise OpProfileError(f"mode must be one of {MODES}")
    import numpy as np

    lib = _load_lib()
    libc = C.CDLL(None)
    libc.strdup.restype = C.c_void_p
    libc.strdup.argtypes = [C.c_char_p]
    free_fn = C.cast(libc.free, _DESTRUCTOR)
    vp = C.c_void_p

    env = vp()
    _check(lib.LiteRtCreateEnvironment(0, None, C.byref(env)), "LiteRtCreateEnvironment")
    data = Path(model_path).read_bytes()
    buf = C.create_string_buffer(data, len(data))  # must outlive the model
    model = vp()
    _check(lib.LiteRtCreateModelFromBuffer(env, C.cast(buf, vp), len(data), C.byref(model)), "LiteRtCreateModelFromBuffer")
    opts = vp()
    _check(lib.LiteRtCreateOptions(C.byref(opts)), "LiteRtCreateOptions")
    _check(lib.LiteRtSetOptionsHardwareAccelerators(opts, 1), "LiteRtSetOptionsHardwareAccelerators(CPU)")
    cpu_toml = f"num_threads = {int(threads)}\n" + ("kernel_mode = 2\n" if mode == "builtin" else "")
    for ident, toml in ((b"runtime_options_string", b"enable_profiling = true\n"), (b"xnnpack", cpu_toml.encode())):
        oo = vp()
        _check(lib.LiteRtCreateOpaqueOptions(ident, libc.strdup(toml), free_fn, C.byref(oo)), "LiteRtCreateOpaqueOptions")
        _check(lib.LiteRtAddOpaqueOptions(opts, oo), "LiteRtAddOpaqueOptions")
    cm = vp()
    _check(lib.LiteRtCreateCompiledModel(env, model, opts, C.byref(cm)), "LiteRtCreateCompiledModel")
    sig = vp()
    _check(lib.LiteRtGetModelSignature(model, 0, C.byref(sig)), "LiteRtGetModelSignature")
    n_in, n_out = C.c_size_t(), C.c_size_t()
    _check(lib.LiteRtGetNumSignatureInputs(sig, C.byref(n_in)), "LiteRtGetNumSignatureInputs")
    _check(lib.LiteRtGetNumSignatureOutputs(sig, C.byref(n_out)), "LiteRtGetNumSignatureOutputs")
    rng = np.random.default_rng(seed)

    def buffers(n: int, get_tensor: Any, get_req: Any, fill: bool) -> Any:
        arr = (vp * n)()
        for i in range(n):
            t = vp()
            _check(get_tensor(sig, i, C.byref(t)), "signature tensor")
            rtt = _RankedTensorType()
            _check(lib.LiteRtGetRankedTensorType(t, C.byref(rtt)), "LiteRtGetRankedTensorType")
            req = vp()
            _check(get_req(cm, 0, i, C.byref(req)), "buffer requirements")
            b = vp()
            _check(lib.LiteRtCreateManagedTensorBufferFromRequirements(env, C.byref(rtt), req, C.byref(b)), "tensor buffer")
            arr[i] = b
            if fill:  # random bytes: the kernels do not care about values, only about not all-zero tricks
                size = C.c_size_t()
                addr = vp()
                if lib.LiteRtGetTensorBufferSize(b, C.byref(size)) == 0 and lib.LiteRtLockTensorBuffer(b, C.byref(addr), 1) == 0:
                    raw = rng.integers(0, 64, size=size.value, dtype=np.uint8).tobytes()
                    C.memmove(addr, raw, size.value)
                    lib.LiteRtUnlockTensorBuffer(b)
        return arr

    ins = buffers(n_in.value, lib.LiteRtGetSignatureInputTensorByIndex, lib.LiteRtGetCompiledModelInputBufferRequirements, True)
    outs = buffers(n_out.value, lib.LiteRtGetSignatureOutputTensorByIndex, lib.LiteRtGetCompiledModelOutputBufferRequirements, False)
    prof = vp()
    _check(lib.LiteRtCompiledModelGetProfiler(cm, C.byref(prof)), "LiteRtCompiledModelGetProfiler")
    if not prof.value:
        raise OpProfileError("the compiled model has no profiler (runtime option enable_profiling ignored)")
    for _ in range(max(warmup, 1)):
        _check(lib.LiteRtRunCompiledModel(cm, 0, n_in.value, ins, n_out.value, outs), "LiteRtRunCompiledModel")
    _check(lib.LiteRtResetProfiler(prof), "LiteRtResetProfiler")
    _check(lib.LiteRtStartProfiler(prof), "LiteRtStartProfiler")
    for _ in range(runs):
        _check(lib.LiteRtRunCompiledModel(cm, 0, n_in.value, ins, n_out.value, outs), "LiteRtRunCompiledModel")
    _check(lib.LiteRtStopProfiler(prof), "LiteRtStopProfiler")
    summary = C.c_char_p()
    _check(lib.LiteRtGetProfileSummary(prof, cm, C.byref(summary)), "LiteRtGetProfileSummary")
    text = (summary.value or b"").decode("utf-8", "replace")
    # The summary is malloc'ed for the caller; a few KB per call in a short-lived child: not freed.
    return text


def _layer_names(model_path: str) -> list[tuple[str, str]]:
    """(short layer name or '' when the export stripped names to t<index>, output shape) per op."""
    from portrait_bench.compat import read_graph

    g = read_graph(model_path)
    out = []
    for op in g.ops:
        name = short_layer_name(op.output_name)
        t = g.t(op.outputs[0]) if op.outputs else None
        out.append(("" if _STRIPPED_RE.match(name) else name, "x".join(map(str, t.shape)) if t else ""))
    return out


def _profile_here(model_path: str, threads: int, mode: str, runs: int, warmup: int) -> OpProfile:
    text = _run_profiler(model_path, threads, mode, runs, warmup)
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
    cmd = [
        sys.executable, "-m", "portrait_bench.op_profile", str(model_path),
        "--threads", str(threads), "--mode", mode, "--runs", str(runs), "--warmup", str(warmup), "--json",
    ]
    if cpus:
        cmd += ["--cpus", ",".join(map(str, cpus))]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        raise OpProfileError(f"op profiling of {model_path} timed out after {timeout_s:.0f} s") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise OpProfileError(f"op profiling of {model_path} failed (exit {proc.returncode}): {' | '.join(tail)}")
    try:
        return OpProfile.from_dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    except (json.JSONDecodeError, IndexError, KeyError) as e:
        raise OpProfileError(f"op profiling of {model_path}: unreadable result ({e})") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m portrait_bench.op_profile", description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mode", choices=MODES, default="xnnpack")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--cpus", default=None, help="comma-separated CPUs to pin to")
    ap.add_argument("--json", action="store_true", help="print the result as one JSON line (for the parent)")
    ap.add_argument("--top", type=int, default=15)
    a = ap.parse_args(argv)
    if a.cpus and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {int(c) for c in a.cpus.split(",")})
        except OSError:
            pass
    try:
        prof = _profile_here(a.model, a.threads, a.mode, a.runs, a.warmup)
    except OpProfileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if a.json:
        sys.stdout.flush()
        print(json.dumps(prof.to_dict()))
    else:
        from portrait_bench.report import format_op_profile

        print(format_op_profile(prof, a.model, top=a.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
