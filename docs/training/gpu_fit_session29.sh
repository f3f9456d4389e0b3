#!/usr/bin/env bash
# Session 29's device runs (docs/experiments.md), kept as run: on the lent GPU machine, from the repository
# root with .traincache/parts/train256.part{1,2,3}of3.npz carried there in three calls
# (data.cache.split_cache), join the parts, then a light fine-tune from sd_i with the anchored exits.
#   gpu_k: BUDGET=7.5 bash gpu_fit_session29.sh
#   gpu_l: BUDGET= OUTDIR=$OUT/gpu_l EXTRA="--epochs 300 --val-every 6 --seed 31" bash gpu_fit_session29.sh
set -euo pipefail
DEVICE=${DEVICE:-cuda} BUDGET=${BUDGET-6} OUTDIR=${OUTDIR:-$OUT/gpu_k} EXTRA=${EXTRA:-}
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD:${PYTHONPATH:-}
CACHE=${CACHE:-.traincache/joined.npz}
python3 -c "import glob; from portrait_mobile.data.cache import join_caches; print(join_caches(sorted(glob.glob('.traincache/parts/train256.part*of3.npz')), '$CACHE'))"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.is_available())"
python3 -m portrait_mobile.train.cli fit --cache "$CACHE" --model portrait-sd-256 --device "$DEVICE" \
  --init docs/training/candidates/portrait-sd-256-sd_i.pt --augment light --lovasz-weight 0.3 --edge-weight 1.0 \
  --mix campaign --seed 29 --batch-size 256 --lr 1e-4 --lr-scale sqrt --val-every 4 --epochs 2000 \
  ${BUDGET:+--time-budget "$BUDGET"} --no-progress --out "$OUTDIR" $EXTRA
