#!/usr/bin/env bash
# Latency / size / delegate-coverage budgets for CI: meant to be called from .ci/run after portrait-export.
#   bash benchmarks/ci.sh [MODEL]      (default: exported/portrait-s-256_int8.tflite and its _fp32 sibling)
# Exits non-zero, naming each broken budget, when one is exceeded (1), or when the benchmark cannot run (2).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:-exported/portrait-s-256_int8.tflite}"
if [[ ! -f "$MODEL" ]]; then
  echo "benchmarks/ci.sh: $MODEL not found: run portrait-export first" >&2
  exit 2
fi
# 200 interleaved runs per model per profile: the ratio's 95% interval stays within a few percent on the
# shared 2-core host; per-op profiling is skipped (it is for people, not for the gate).
exec portrait-bench --model "$MODEL" --reference mediapipe \
  --budget benchmarks/budgets/default.json --runs 200 --warmup 20 --op-profile none \
  --out runs/bench/ci --quiet
