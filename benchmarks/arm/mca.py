"""From instruction counts to a cycle estimate: llvm-mca over the hottest translated blocks.

The plugin lists the blocks of one invoke() by instructions executed (address, bytes, executions).
Each hot block is disassembled (llvm-mc) and scheduled by llvm-mca's model of the core for 100
back-to-back iterations; cycles per iteration x executions, summed, and the instructions outside the
hot blocks charged at the hot blocks' average CPI, give the estimate.

It is an ESTIMATE and a lower bound of a kind: llvm-mca assumes every load hits L1 and every branch
is predicted, and knows nothing of the memory system; llvm-14 has in-order Cortex-A53/A55 models but
schedules cortex-a76 with its Cortex-A57 model. It says which of two models keeps a core busier, not
what a phone measures; the gate stays on the counted instructions.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

from portrait_bench.arm.cores import ArmCore
from portrait_bench.arm.emulate import ArmRun

LLVM_VERSIONS = ("-14", "-15", "-16", "")
SEPARATOR = bytes.fromhex("ff2f03d5")  # "hint #0x7f": splits the blocks in one llvm-mc call
_REGION = re.compile(r"Code Region - b(\d+)\s+Iterations:\s+(\d+)\s+Instructions:\s+\d+\s+Total Cycles:\s+(\d+)")


def _tool(name: str) -> str | None:
    for v in LLVM_VERSIONS:
        p = shutil.which(f"{name}{v}")
        if p:
            return p
    return None


def _disassemble(mc: str, core: ArmCore, blocks: list[bytes]) -> list[list[str]]:
    data = SEPARATOR.join(blocks)
    text = " ".join(f"0x{b:02x}" for b in data)
    out = subprocess.run([mc, "--disassemble", "-triple=aarch64", f"-mcpu={core.mca_cpu}"], input=text,
                         capture_output=True, text=True, timeout=300).stdout
    asm: list[list[str]] = [[]]
    for line in out.splitlines():
        s = line.strip()
        if not s or s.startswith("."):
            continue
        if re.fullmatch(r"hint\s+#0x7f|hint\s+#127", s):
            asm.append([])
        else:
            asm[-1].append(s)
    return asm


def estimate_cycles(run: ArmRun, core: ArmCore, iterations: int = 100) -> dict[str, Any]:
    """{"cycles", "ipc", "coverage", "how", ...} or {"error": why} when llvm-mca is unavailable."""
    mc, mca = _tool("llvm-mc"), _tool("llvm-mca")
    if not mc or not mca:
        return {"error": "llvm-mc / llvm-mca not found (apt-get install llvm-14)"}
    hot = [h for h in run.hot if h.get("bytes")]
    if not hot:
        return {"error": "the plugin listed no hot blocks"}
    asm = _disassemble(mc, core, [bytes.fromhex(h["bytes"]) for h in hot])
    if len(asm) != len(hot):
        return {"error": f"disassembly split into {len(asm)} blocks, expected {len(hot)}"}
    src = []
    for k, lines in enumerate(asm):
        if lines:
            src += [f"# LLVM-MCA-BEGIN b{k}", *lines, "# LLVM-MCA-END"]
    proc = subprocess.run([mca, "-mtriple=aarch64", f"-mcpu={core.mca_cpu}", f"-iterations={iterations}",
                           "-instruction-info=false", "-resource-pressure=false"], input="\n".join(src) + "\n",
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        return {"error": f"llvm-mca failed: {proc.stderr.strip().splitlines()[-1:]}"}
    per_iter = {int(b): int(c) / int(it) for b, it, c in _REGION.findall(proc.stdout)}
    hot_insns = hot_cycles = 0.0
    for k, h in enumerate(hot):
        if k in per_iter:
            hot_insns += h["count"] * h["insns"]
            hot_cycles += h["count"] * per_iter[k]
    if hot_insns == 0:
        return {"error": "llvm-mca scheduled none of the hot blocks"}
    total = run.instructions
    cycles = hot_cycles + (total - hot_insns) * (hot_cycles / hot_insns)
    return {
        "cycles": cycles,
        "ipc": total / cycles,
        "coverage": hot_insns / total,
        "blocks": len(per_iter),
        "model": f"llvm-mca -mcpu={core.mca_cpu}: {core.mca_note}",
        "clock_ghz": core.clock_ghz,
        "ms": cycles / (core.clock_ghz * 1e6),
        "clock_source": core.clock_source,
        "how": (f"llvm-mca ({core.mca_note}) over the {len(per_iter)} hottest blocks "
                f"({hot_insns / total:.1%} of the instructions), the rest at their average CPI; assumes L1 hits "
                "and predicted branches: a model estimate, not a measurement"),
    }
