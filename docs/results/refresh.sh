#!/usr/bin/env bash
# Re-measure every figure in the README's results and latency tables, rewrite the tables, package the
# int8 model beside the shipped weights and redraw the effect pictures.
# Run from the repository root after `pip install -e ".[all]"`; needs ../shared (datasets, anchors).
# Takes ~15 minutes on the 2-core machine (export ~2 min, evaluations ~5 min, benchmark ~8 min).
set -euo pipefail
cd "$(dirname "$0")/../.."
R=docs/results
# The shipped model's name (portrait_mobile.config.DEFAULT_CONFIG): every file below is named after it.
M=$(python -c 'from portrait_mobile.config import DEFAULT_CONFIG; print(DEFAULT_CONFIG)')
# The shipped refiner's (portrait_mobile.refine.config.DEFAULT_REFINER), packaged as ${RF}_int8.tflite.
RF=$(python -c 'from portrait_mobile.refine.config import DEFAULT_REFINER; print(DEFAULT_REFINER)')
portrait-export --target all --out exported
# fp32 TFLite too: the benchmark times both precisions and the budgets cover both.
portrait-export --target tflite --precision fp32 --out exported
# The int8 file Segmenter.default() serves with only the runtime extra installed.
cp exported/${M}_int8.tflite exported/${M}_int8.tflite.json portrait_mobile/weights/
portrait-eval --data ../shared/datasets/pfcn:test --weights portrait_mobile/weights/${M}.pt \
    --model exported/${M}_int8.tflite --model exported/${M}.onnx \
    --reference mediapipe --no-progress --out "$R/pfcn_test.json"
# The runtime cleans specks and pinholes by default; the model's own mask, for comparison.
portrait-eval --data ../shared/datasets/pfcn:test --model exported/${M}_int8.tflite --no-cleanup \
    --no-progress --out "$R/pfcn_test_raw.json"
portrait-eval --data ../shared/datasets/pfcn:test --model exported/${M}_int8.tflite --refine \
    --no-progress --out "$R/pfcn_test_refine.json"
# The accurate level: the packaged int8 refiner, and the
# three levels side by side with their 1080p one-thread times; a whole photo's ARM count.
portrait-eval --data ../shared/datasets/pfcn:test --model exported/${M}_int8.tflite --quality accurate \
    --no-progress --out "$R/pfcn_test_accurate.json"
python -m portrait_mobile.refine.train levels --data pfcn:test --refiner portrait_mobile/weights/${RF}_int8.tflite \
    --json "$R/levels_pfcn_test.json"
portrait-bench --setup-arm -q
portrait-bench --model exported/${M}_int8.tflite --profile all,arm --arm-cycles --reference mediapipe --runs 300 \
    --budget benchmarks/budgets/default.json --json "$R/bench.json" --plot docs/benchmarks/bench-${M}.png \
    --out runs/bench/readme
portrait-bench --model exported/${M}_int8.tflite --model portrait_mobile/weights/${RF}_int8.tflite \
    --no-siblings --profile arm-a76 --reference mediapipe --json "$R/refine_arm_a76.json" --out runs/bench/refine --no-plot
python docs/results/render_readme.py
# The model card: framings and per-source carves, its failure pictures (drawn by the CLI), then the card.
python docs/results/eval_card.py
python docs/results/card_pictures.py
python docs/results/render_model_card.py
# The README's effect pictures, written by the CLI with the packaged model.
for effect in mask cutout blur; do
    portrait-segment docs/effects/pfcn-00887.png --effect "$effect" --refine --out docs/effects
done
portrait-segment docs/effects/pfcn-00887.png --effect replace --refine --background "#3A7BD5" --out docs/effects
portrait-segment docs/effects/pfcn-00766.png --effect blur --refine --out docs/effects
