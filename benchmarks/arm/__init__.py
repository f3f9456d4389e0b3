"""ARM64 emulation for portrait-bench's ``arm-*`` profiles: QEMU user mode running the aarch64 build of
LiteRT (XNNPACK's ARM kernels), a TCG plugin counting the instructions of one invoke(), and the
parity of the ARM outputs with x86 (see docs/benchmarks.md)."""
