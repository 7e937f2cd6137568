"""Per-population figures, re-exported from the core.

The figures come from :mod:`desktop_app.core.metrics.populations`, the key figures' names
from :mod:`desktop_app.core.metrics.figures`.

The code moved to the core (2026-12-01) so that local validation in the classify-only build
(no TensorFlow, no ``model_training``) reports the same figures as training and the wizard.
"""

from __future__ import annotations

from desktop_app.core.metrics.figures import KEY_FIGURES
from desktop_app.core.metrics.populations import (
    Resampler,
    estimate,
    format_populations,
    population_metrics,
)

__all__ = ["KEY_FIGURES", "Resampler", "estimate", "format_populations", "population_metrics"]
