#!/usr/bin/env bash
# Train and export the view model shipped in resources/view_model (see docs/view_check.md).
#
# Usage: scripts/train_view_model.sh [DATA_DIR] [LATERALS_DIR] [OUT_DIR]
# Defaults: ../shared/datasets/cxr, ../shared/datasets/views/lateral, resources/view_model.
# Runs at low priority (a few minutes on two busy cores); the same seed gives the same
# material and the same training order.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-../shared/datasets/cxr}"
LATERALS="${2:-../shared/datasets/views/lateral}"
OUT="${3:-resources/view_model}"
PYTHON="${PYTHON:-.venv/bin/python}"
nice -n 15 "$PYTHON" -m model_training view-model --data "$DATA" --laterals "$LATERALS" \
    --out "$OUT"
# What the shipped gate does with it (held-out laterals, TEST frontals per source, timing):
echo "Measure with: nice -n 15 $PYTHON benchmarks/view_check.py"
