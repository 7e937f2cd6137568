"""PyInstaller run-time hook: make the frozen LungLens strictly offline and quiet.

Runs before any application import. Every value is a default (``setdefault``), so an
administrator can still override it in the environment.
"""

from __future__ import annotations

import os

# Keras 3 picks its backend from $KERAS_BACKEND or ~/.keras/keras.json; pin TensorFlow, the
# only backend in the bundle, so a user's keras.json naming jax or torch cannot break training.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TensorFlow's C++ INFO lines would go to the clinic's terminal or log for no benefit.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# No interactive plotting backend: matplotlib (if a report uses it) renders to files only.
os.environ.setdefault("MPLBACKEND", "Agg")
# Hugging Face / Keras Hub style downloads must never be attempted on a clinic workstation.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
