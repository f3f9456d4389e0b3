"""Runs inside the emulated ARM64 Python (``qemu-aarch64 ... python3.11 guest.py JOB.json``).

Only the standard library, NumPy and ai_edge_litert exist there: this file imports nothing of the
project. For each model of the job it builds one LiteRT interpreter (XNNPACK, the job's thread count),
runs one warm-up invoke, then ``count_runs`` invokes each between two marker system calls that the
QEMU plugin (insn_count.c) counts between, then the parity inputs one by one, saving the raw outputs.

JOB.json: {"threads": 1, "hot": false, "models": [{"path": ..., "count_input": NPY,
"parity_inputs": NPY or null, "parity_outputs": NPY or null}]}
"""
import ctypes
import json
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter

MARK_NR = 0x7E57  # keep in step with insn_count.c
MARK_START, MARK_STOP = 1, 2
EMPTY_TAG = 999_999  # an empty window: what the markers themselves cost

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_syscall.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_long, ctypes.c_long]


def mark(op: int, tag: int, hot: int = 0) -> None:
    _syscall(MARK_NR, op, tag, hot)  # fails with ENOSYS: only the plugin sees it


def main(job_path: str) -> int:
    with open(job_path) as f:
        job = json.load(f)
    mark(MARK_START, EMPTY_TAG)
    mark(MARK_STOP, EMPTY_TAG)
    for k, m in enumerate(job["models"]):
        it = Interpreter(model_path=m["path"], num_threads=job["threads"])
        it.allocate_tensors()
        inp, out = it.get_input_details()[0], it.get_output_details()[0]
        it.set_tensor(inp["index"], np.load(m["count_input"]))
        it.invoke()  # warm-up: first-invoke work (weight packing, caches) is not what a frame costs
        runs = m["count_runs"]
        for r in range(runs):
            hot = int(bool(job.get("hot")) and r == runs - 1)  # hot blocks of the last counted invoke
            mark(MARK_START, k * 1000 + r)
            it.invoke()
            mark(MARK_STOP, k * 1000 + r, hot)
        if m.get("parity_inputs"):
            xs = np.load(m["parity_inputs"])
            ys = []
            for x in xs:
                it.set_tensor(inp["index"], x[None])
                it.invoke()
                ys.append(it.get_tensor(out["index"]).copy())
            np.save(m["parity_outputs"], np.concatenate(ys, axis=0))
        del it
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
