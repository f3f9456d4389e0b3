"""The emulated ARM cores of the ``arm-*`` profiles: which QEMU CPU gives the instruction set, and which
MIDR the fake /proc/cpuinfo shows (XNNPACK picks its kernels from both: features from the ELF hwcaps
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


_V82 = ("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp")

CORES: dict[str, ArmCore] = {c.profile: c for c in (
    ArmCore("arm-a53", "Budget phone core: Cortex-A53 (ARMv8.0, in-order, no dot product)", "cortex-a53",
            0xD03, 0x0, 4, "fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid",
            "cortex-a53", "llvm-14's in-order Cortex-A53 model",
            1.8, "Snapdragon 450 (8x Cortex-A53 at 1.8 GHz), Qualcomm's published specification"),
    ArmCore("arm-a55", "Mid-range phone core: Cortex-A55 (ARMv8.2, in-order, dot product)", "cortex-a76",
            0xD05, 0x1, 0, _V82,
            "cortex-a55", "llvm-14's in-order Cortex-A55 model",
            1.78, "Snapdragon 855's efficiency cores (Kryo 485 Silver, Cortex-A55 based, 1.78 GHz), Qualcomm's "
                  "published specification"),
    ArmCore("arm-a76", "Flagship phone big core: Cortex-A76 (ARMv8.2, out-of-order, dot product)", "cortex-a76",
            0xD0B, 0x4, 1, _V82,
            "cortex-a76", "llvm-14 has no Cortex-A76 scheduling model of its own: it uses its Cortex-A57 model",
            2.42, "Snapdragon 855's performance cores (Kryo 485 Gold, Cortex-A76 based, 2.42 GHz), Qualcomm's "
                  "published specification"),
)}


def arm_core(profile: str) -> ArmCore:
    try:
        return CORES[profile]
    except KeyError:
        raise ArmCoreError(f"unknown ARM profile {profile!r}; known: {', '.join(CORES)}") from None


def is_arm_profile(name: str) -> bool:
    return name in CORES or name == "arm"
