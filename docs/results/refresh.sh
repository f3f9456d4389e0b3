#!/usr/bin/env bash
# Re-measure every figure in the README's results and latency tables, then rewrite the tables.
# Run from the repository root after `pip install -e ".[all]"`; needs ../shared (datasets, anchors).
# Takes ~15 minutes on the 2-core machine (export ~2 min, evaluations ~5 min, benchmark ~8 min).
set -euo pipefail
cd "$(dirname "$0")/../.."
R=docs/results
portrait-export --target all --out exported
portrait-eval --data ../shared/datasets/pfcn:test --weights portrait_mobile/weights/portrait-s-256.pt \
    --model exported/portrait-s-256_int8.tflite --model exported/portrait-s-256.onnx \
    --reference mediapipe --no-progress --out "$R/pfcn_test.json"
portrait-eval --data ../shared/datasets/pfcn:test --model exported/portrait-s-256_int8.tflite --refine \
    --no-progress --out "$R/pfcn_test_refine.json"
portrait-bench --model exported/portrait-s-256_int8.tflite --profile all --reference mediapipe --runs 300 \
    --budget benchmarks/budgets/default.json --json "$R/bench.json" --plot docs/benchmarks/bench-portrait-s-256.png \
    --out runs/bench/readme
python docs/results/render_readme.py
