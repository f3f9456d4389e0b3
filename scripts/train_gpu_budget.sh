#!/usr/bin/env bash
# The whole training schedule inside a fixed wall-clock budget on a bare GPU machine:
# the robust preset (full augmentation), then the light fine-tune, as docs/experiments.md found.
#
#   bash scripts/train_gpu_budget.sh [--budget-min 9] [--cache .traincache/train256.npz] [--out DIR]
#                                    [--init CKPT] [--model portrait-sd-256] [--batch-size 512] [--dry-run]
#                                    [--parts DIR] [--light-only] [-- FIT_ARGS...]
#
# Relative --cache, --out, --init and --parts are the caller's; the defaults are the repository's.
# A stage whose folder under --out already holds a run is refused by `fit` (a finished run is never
#   lost): rerun with a new --out.
# --parts DIR: join every DIR/*.part*of*.npz (data.cache.split_cache's parts of one cache, carried in
#   several calls) into --cache first, unless --cache already exists.
# --light-only: only the light fine-tune, from --init (a campaign continued on a lent GPU).
# -- FIT_ARGS: passed to the light stage's `fit` last, so they override its defaults (--lr, --mix,
#   --teacher-in-loop, ...); e.g. the CPU campaign's recipe with MediaPipe in the loop, its .tflite
#   carried in $PORTRAIT_ANCHORS_DIR:
#   -- --mix campaign --lovasz-weight 0.3 --edge-weight 1.0 --lr 1e-4 --teacher-in-loop mediapipe --teacher-mix 0.25
#
# Needs only python3 with torch, numpy, opencv-python-headless and tqdm (matplotlib for the curves);
# runs from a copy of the repository without installing it. Wheels for anything missing can travel
# in .whl/ (installed with --no-index into a private folder). --dry-run runs the same two stages on
# the CPU for one step each: the tests run it, so GPU minutes are never spent on a typo.
set -euo pipefail

usage_error() { echo "train_gpu_budget.sh: error: $1" >&2; exit 2; }
# An option's value: refused when absent (or another option), not left to `set -u`'s "unbound variable".
value() { [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || usage_error "$1 needs a value (see --help)"; printf '%s' "$2"; }
# Paths given on the command line are the caller's: made absolute here, before the cd into the repo.
path_value() { local v; v=$(value "$@") || exit 2; [[ "$v" == /* ]] && printf '%s' "$v" || printf '%s' "$PWD/$v"; }

BUDGET_MIN=9 CACHE=.traincache/train256.npz OUT=${OUT:-runs/gpu_budget} INIT="" BATCH=512 DRY=0 MODEL=portrait-sd-256
PARTS="" LIGHT_ONLY=0 FIT_ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --budget-min) BUDGET_MIN=$(value "$@"); shift 2 ;;
    --cache) CACHE=$(path_value "$@"); shift 2 ;;
    --out) OUT=$(path_value "$@"); shift 2 ;;
    --init) INIT=$(path_value "$@"); shift 2 ;;
    --model) MODEL=$(value "$@"); shift 2 ;;
    --batch-size) BATCH=$(value "$@"); shift 2 ;;
    --dry-run) DRY=1; shift ;;
    --parts) PARTS=$(path_value "$@"); shift 2 ;;
    --light-only) LIGHT_ONLY=1; shift ;;
    --) shift; FIT_ARGS=("$@"); break ;;
    -h|--help) sed -n "2,/^set -e/{/^#/p}" "$0"; exit 0 ;;
    *) usage_error "unknown argument $1 (see --help)" ;;
  esac
done
cd "$(dirname "$0")/.."  # the defaults (.traincache/, runs/, .whl/) are the repo's
[[ $LIGHT_ONLY == 0 || -n "$INIT" ]] || { echo "train_gpu_budget.sh: error: --light-only needs --init CKPT (the weights it fine-tunes)" >&2; exit 2; }
[[ -z "$INIT" || -f "$INIT" ]] || { echo "train_gpu_budget.sh: error: --init checkpoint not found: $INIT" >&2; exit 2; }
if [[ -n "$PARTS" && ! -f "$CACHE" ]]; then
  compgen -G "$PARTS/*.part*of*.npz" >/dev/null || { echo "train_gpu_budget.sh: error: no cache parts (*.part*of*.npz) in $PARTS" >&2; exit 2; }
  JOIN_PARTS=1
fi
[[ -f "$CACHE" || -n "${JOIN_PARTS:-}" ]] || { echo "train_gpu_budget.sh: error: training cache not found: $CACHE (carry .traincache)" >&2; exit 2; }
[[ "$BUDGET_MIN" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "train_gpu_budget.sh: error: --budget-min must be a number of minutes" >&2; exit 2; }

PY=${PYTHON:-python3}
if [[ -d .whl ]] && ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/portrait-site .whl/*.whl
  export PYTHONPATH="/tmp/portrait-site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}"
"$PY" -c "import torch, numpy, cv2, tqdm" || { echo "train_gpu_budget.sh: error: missing a Python package (carry its wheel in .whl/)" >&2; exit 2; }

if [[ $DRY == 1 ]]; then
  DEVICE=cpu COMMON=(--max-steps-per-epoch 1 --epochs 1 --batch-size 4 --no-progress)
  STAGE1_MIN=0 STAGE2_MIN=0
else
  DEVICE=cuda COMMON=(--batch-size "$BATCH" --lr-scale sqrt --val-every 10 --no-progress --epochs 2000)
  # 70% robust, 30% fine-tune; each stage re-plans its epochs to its share after its first epochs.
  STAGE1_MIN=$("$PY" -c "print(round($BUDGET_MIN * 0.7, 2))")
  STAGE2_MIN=$("$PY" -c "print(round($BUDGET_MIN * 0.3, 2))")
fi
if [[ $LIGHT_ONLY == 1 ]]; then  # the whole budget is the fine-tune's
  STAGE1_MIN=skipped STAGE2_MIN=$([[ $DRY == 1 ]] && echo 0 || echo "$BUDGET_MIN")
fi
budget() { [[ "$1" == 0 ]] || echo "--time-budget $1"; }
mkdir -p "$OUT"
started=$(date +%s)
if [[ -n "${JOIN_PARTS:-}" ]]; then
  # Through run_cli: a bad part is one `train_gpu_budget.sh: error: ...` line and exit 2, not a traceback.
  "$PY" -c "import sys; from portrait_mobile.cli_support import run_cli; from portrait_mobile.data.cache import join_cache_parts as j
sys.exit(run_cli('train_gpu_budget.sh', lambda: print('joined', j(*sys.argv[1:]))))" "$PARTS" "$CACHE"
fi
echo "train_gpu_budget: $DEVICE, budget ${BUDGET_MIN} min (stage 1 ${STAGE1_MIN}, stage 2 ${STAGE2_MIN}), cache $CACHE -> $OUT"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
if [[ $DRY == 0 ]]; then
  "$PY" -m portrait_mobile.train.cli throughput --cache "$CACHE" --model "$MODEL" --device cuda --batch-size "$BATCH" \
    --steps 30 --json "$OUT/throughput.json"
fi
if [[ $LIGHT_ONLY == 0 ]]; then
  "$PY" -m portrait_mobile.train.cli fit --cache "$CACHE" --model "$MODEL" --device "$DEVICE" --augment full --lr 2e-3 \
    ${INIT:+--init "$INIT"} $(budget "$STAGE1_MIN") "${COMMON[@]}" --out "$OUT/stage1"
  LIGHT_INIT="$OUT/stage1/best.pt"
else
  LIGHT_INIT="$INIT"
fi
"$PY" -m portrait_mobile.train.cli fit --cache "$CACHE" --model "$MODEL" --device "$DEVICE" --augment light --lr 5e-4 \
  --init "$LIGHT_INIT" $(budget "$STAGE2_MIN") "${COMMON[@]}" --out "$OUT/stage2" ${FIT_ARGS[@]+"${FIT_ARGS[@]}"}
echo "train_gpu_budget: done in $(( $(date +%s) - started )) s; checkpoint $OUT/stage2/best.pt"
