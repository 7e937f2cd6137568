#!/usr/bin/env bash
# Reproduces the bundled model in resources/model/ and its report in docs/model_report/.
#
# Usage (from the repository root):  scripts/train_bundled_model.sh [DATA_DIR]
# DATA_DIR defaults to $LUNGLENS_CXR_DATA, then ../shared/datasets/cxr.
# Takes about 20-30 minutes on 2 CPU cores. The trained Keras model and split are also saved
# to $RUN_DIR (outside the repository) so the export step can be redone without retraining:
#   .venv/bin/python -m model_training export --run "$RUN_DIR" --out resources/model \
#       --report-dir docs/model_report
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-${LUNGLENS_CXR_DATA:-../shared/datasets/cxr}}"
RUN_DIR="${RUN_DIR:-/tmp/lunglens_run_compact}"
PYTHON="${PYTHON:-.venv/bin/python}"

"$PYTHON" -m model_training check --data "$DATA"
"$PYTHON" -m model_training train \
    --data "$DATA" \
    --out resources/model \
    --report-dir docs/model_report \
    --run-dir "$RUN_DIR" \
    --arch compact --width 1.0 --input-size 192 \
    --epochs 18 --batch-size 32 --augment robust \
    --optimizer adamw --learning-rate 2e-3 --schedule cosine --label-smoothing 0.05 \
    --class-weighting class-group --patience 8 --task 3class --seed 2026 \
    --quantization none
