"""Classification metrics: re-exported from :mod:`desktop_app.core.metrics.classification`.

The code moved to the core (2026-12-01) so that local validation in the classify-only build
(no TensorFlow, no ``model_training``) scores with it too; training modules keep importing
these names from here.
"""

from __future__ import annotations

from desktop_app.core.metrics.classification import (
    auroc,
    bootstrap_auroc_ci,
    confusion_matrix,
    expected_calibration_error,
    negative_log_likelihood,
    reliability_bins,
    roc_curve,
    sensitivity_specificity,
    softmax,
    specificity_at_sensitivity,
    summary,
)

__all__ = [
    "auroc",
    "bootstrap_auroc_ci",
    "confusion_matrix",
    "expected_calibration_error",
    "negative_log_likelihood",
    "reliability_bins",
    "roc_curve",
    "sensitivity_specificity",
    "softmax",
    "specificity_at_sensitivity",
    "summary",
]
