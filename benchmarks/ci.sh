#!/usr/bin/env bash
# Size / delegate-coverage budgets for CI (and the x86 wall-clock ratios, printed as information only:
# they depend on the host's CPU, issue 19): meant to be called from .ci/run after portrait-export.
#   bash benchmarks/ci.sh [MODEL]      (default: the default model's exported/<name>_int8.tflite and its _fp32 sibling)
# Exits non-zero, naming each broken budget, when one is exceeded (1), or when the benchmark cannot run (2).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:-exported/$(python -c 'from portrait_mobile.paths import DEFAULT_INT8; print(DEFAULT_INT8.name)')}"
if [[ ! -f "$MODEL" ]]; then
  echo "benchmarks/ci.sh: $MODEL not found: run portrait-export first" >&2
  exit 2
fi
# 100 interleaved runs per model per profile: the x86 ratios are information, not a gate; per-op
# profiling is skipped (it is for people, not for the gate).
exec portrait-bench --model "$MODEL" --reference mediapipe \
  --budget benchmarks/budgets/default.json --runs 100 --warmup 10 --op-profile none \
  --out runs/bench/ci --quiet
