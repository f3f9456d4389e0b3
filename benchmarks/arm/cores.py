"""An emulated ARM core of an ``arm-*`` profile (its ``arm`` table in benchmarks/profiles/devices.json,
read by :mod:`portrait_bench.profiles`): which QEMU CPU gives the instruction set, and which MIDR the
fake /proc/cpuinfo shows (XNNPACK picks its kernels from both: features from the ELF hwcaps
QEMU derives from ``-cpu``, microarchitecture-tuned variants from the MIDR in /proc/cpuinfo).

QEMU 7.2 has no cortex-a55, so ``arm-a55`` runs the cortex-a76 instruction set (the same ARMv8.2
dot-product/fp16 features an A55 has) with an A55 MIDR, which selects XNNPACK's A55-tuned kernels.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


class ArmCoreError(ValueError):
    """An unknown ARM profile, or a core definition that would give untrustworthy numbers."""


@dataclass(frozen=True)
class ArmCore:
    profile: str  # portrait-bench profile name
    title: str
    qemu_cpu: str  # qemu-aarch64 -cpu
    midr_part: int  # MIDR part number shown in /proc/cpuinfo (implementer 0x41, Arm)
    midr_variant: int
    midr_revision: int
    features: str  # the Features line of /proc/cpuinfo (matches what qemu_cpu provides)
    mca_cpu: str  # llvm-mca -mcpu for the cycle estimate
    mca_note: str
    clock_ghz: float  # a published clock of a phone with this core, to turn estimated cycles into ms
    clock_source: str

    def __post_init__(self) -> None:
        # -cpu max enables SVE/SME; under QEMU 7.2 our int8 model's output was garbage there (issue 19),
        # so a profile may use max only with both switched off.
        cpu = self.qemu_cpu.replace(" ", "")
        if cpu.startswith("max") and not ("sve=off" in cpu and "sme=off" in cpu):
            raise ArmCoreError(f"{self.profile}: -cpu {self.qemu_cpu} enables SVE/SME; use a named core or "
                               "max,sve=off,sme=off")

    def cpuinfo(self) -> str:
        return (f"processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: {self.features}\nCPU implementer\t: 0x41\n"
                f"CPU architecture: 8\nCPU variant\t: {self.midr_variant:#x}\nCPU part\t: {self.midr_part:#05x}\n"
                f"CPU revision\t: {self.midr_revision}\n\n")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
