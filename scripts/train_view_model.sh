#!/usr/bin/env bash
# Train and export the view model shipped in resources/view_model (see docs/view_check.md),
# with the two held-out-category models (no CT, no ultrasound) that set its vouching margin.
#
# Usage: scripts/train_view_model.sh [DATA_DIR] [VIEWS_DIR] [OUT_DIR] [LOCO_DIR]
# Defaults: ../shared/datasets/cxr, ../shared/datasets/views, resources/view_model,
# /tmp/view_loco. About 25 minutes on two busy cores; the same seed gives the same material
# and the same training order.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-../shared/datasets/cxr}"
VIEWS="${2:-../shared/datasets/views}"
OUT="${3:-resources/view_model}"
LOCO="${4:-/tmp/view_loco}"
PYTHON="${PYTHON:-.venv/bin/python}"
nice -n 15 "$PYTHON" -m model_training view-model --data "$DATA" \
    --laterals "$VIEWS/lateral" --non-chest "$VIEWS/non_chest" --out "$OUT" \
    --held-out-category-runs "$LOCO"
# What the gate does with it, per category, with the held-out-category models; the result goes
# into the view card and the model card (and docs/ood_evaluation.md: see that page).
echo "Measure with: nice -n 15 $PYTHON benchmarks/gate_categories.py \\"
echo "    --held-out-category-runs $LOCO --card $OUT/view_card.json \\"
echo "    --model-card resources/model/model_card.json"
