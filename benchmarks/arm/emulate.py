"""Run models on ARM64 XNNPACK kernels under QEMU and count the instructions of one invoke().

One QEMU process per core runs :mod:`guest` over all the models of a job; the plugin appends one JSON
line per counted window (see insn_count.c). Counts are of guest instructions, so they do not depend on
the host CPU: the same artifact gives the same count on an Intel or an AMD machine.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from portrait_bench.arm.cores import ArmCore
from portrait_bench.arm.prepare import GUEST_SCRIPT, ArmEnv, ArmSetupError, guest_environment

EMPTY_TAG = 999_999  # guest.py's empty window
CLASS_NAMES = ("load_store", "load_store_simd", "simd_fp", "dot_product", "fmla", "int_mla_long", "branch", "sve", "sme")


class EmulationError(RuntimeError):
    """QEMU or the guest failed, or the counts are not trustworthy."""


@dataclass
class ArmJob:
    path: Path
    count_input: np.ndarray  # what the counted invokes read
    parity_inputs: np.ndarray | None = None  # N inputs stacked on axis 0 (each one batch item)


@dataclass
class ArmRun:
    """What the emulation gave for one model."""

    path: Path
    runs: list[int]  # instructions of each counted invoke
    classes: dict[str, int]  # of the last counted invoke
    blocks: int
    outputs: np.ndarray | None = None
    hot: list[dict[str, Any]] = field(default_factory=list)

    @property
    def instructions(self) -> int:
        return int(np.median(self.runs))

    @property
    def spread(self) -> float:
        """(max - min) / median over the counted invokes: 0 for a deterministic count."""
        return (max(self.runs) - min(self.runs)) / max(1, self.instructions)


def run_core(env: ArmEnv, core: ArmCore, jobs: list[ArmJob], count_runs: int = 2, threads: int = 1,
             hot: bool = False, timeout_s: float = 900.0) -> tuple[list[ArmRun], int]:
    """Emulate ``core`` over ``jobs``: (one ArmRun per job, the markers' own instruction count)."""
    if count_runs < 1:
        raise ValueError("count_runs must be >= 1")
    with tempfile.TemporaryDirectory(prefix="portrait-arm-") as tmp:
        work = Path(tmp)
        if "," in str(work):
            raise EmulationError(f"temporary folder {work} contains a comma, which QEMU's -plugin option cannot take")
        spec: dict[str, Any] = {"threads": threads, "hot": hot, "models": []}
        for k, j in enumerate(jobs):
            if not Path(j.path).is_file():
                raise EmulationError(f"model not found: {j.path}")
            cin = work / f"count_{k}.npy"
            np.save(cin, j.count_input)
            m: dict[str, Any] = {"path": str(Path(j.path).resolve()), "count_input": str(cin), "count_runs": count_runs}
            if j.parity_inputs is not None:
                np.save(work / f"parity_in_{k}.npy", j.parity_inputs)
                m["parity_inputs"] = str(work / f"parity_in_{k}.npy")
                m["parity_outputs"] = str(work / f"parity_out_{k}.npy")
            spec["models"].append(m)
        (work / "job.json").write_text(json.dumps(spec))
        counts = work / "counts.jsonl"
        cmd = [str(env.qemu), "-cpu", core.qemu_cpu, "-L", str(env.core_root(core)),
               "-plugin", f"{env.plugin},out={counts},hot=400",
               str(env.python), str(GUEST_SCRIPT), str(work / "job.json")]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=guest_environment(),
                                  cwd=work)
        except subprocess.TimeoutExpired:
            raise EmulationError(f"{core.profile}: the emulation took more than {timeout_s:.0f} s") from None
        except OSError as e:
            raise ArmSetupError(f"cannot start {env.qemu}: {e}") from None
        if proc.returncode != 0:
            tail = [ln for ln in proc.stderr.strip().splitlines() if "XNNPACK delegate" not in ln][-4:]
            raise EmulationError(f"{core.profile}: the ARM64 run failed (exit {proc.returncode}): {' | '.join(tail)}")
        if not counts.is_file():
            raise EmulationError(f"{core.profile}: the plugin wrote no counts (is {env.plugin} loadable?)")
        windows = {}
        for line in counts.read_text().splitlines():
            w = json.loads(line)
            windows[w["tag"]] = w
        overhead = int(windows.get(EMPTY_TAG, {}).get("insns", 0))
        out: list[ArmRun] = []
        for k, j in enumerate(jobs):
            ws = [windows.get(k * 1000 + r) for r in range(count_runs)]
            if any(w is None for w in ws):
                raise EmulationError(f"{core.profile}: no count for {j.path} (the guest stopped early?)")
            last = ws[-1]
            scalable = last["classes"].get("sve", 0) + last["classes"].get("sme", 0)
            if scalable:
                raise EmulationError(f"{core.profile}: {scalable} SVE/SME instructions executed: the emulated CPU "
                                     "has SVE/SME, whose int8 results were wrong under QEMU 7.2; use sve=off,sme=off")
            outputs = np.load(work / f"parity_out_{k}.npy") if j.parity_inputs is not None else None
            out.append(ArmRun(Path(j.path), [int(w["insns"]) for w in ws], {c: int(last["classes"].get(c, 0))
                              for c in CLASS_NAMES}, int(last["blocks"]), outputs, last.get("hot", [])))
        return out, overhead
