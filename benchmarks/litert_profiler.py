"""LiteRT's own op profiler, reached through the LiteRT C API with ctypes.

ai_edge_litert's Python ``Interpreter`` exposes no profiler, but the ``libLiteRt.so`` it ships exports
the LiteRT C API with one: a CompiledModel created with the runtime option ``enable_profiling = true``
records every kernel invocation (``LiteRtCompiledModelGetProfiler`` / ``LiteRtGetProfileSummary``, the
same summary ``benchmark_model --enable_op_profiling`` prints). :func:`run_profiler` returns that text.

A mismatch with a future libLiteRt could crash the process: call it in a child
(:func:`portrait_bench.op_profile.profile_ops`).
"""
from __future__ import annotations

import ctypes as C
from pathlib import Path
from typing import Any

from portrait_mobile.litert import KERNELS


class OpProfileError(RuntimeError):
    """Per-op profiling could not run (the reason says why)."""


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


def run_profiler(model_path: str, threads: int, mode: str, runs: int, warmup: int, seed: int = 0) -> str:
    """Profile summary text (in this process: portrait_bench.op_profile.profile_ops runs it in a child)."""
    if mode not in KERNELS:
        raise OpProfileError(f"mode must be one of {KERNELS}")
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
