"""The app's decision applied to many rows: what every reported figure is measured at."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from desktop_app.core.decision import decide

__all__ = ["decision_predictions"]


def decision_predictions(probabilities: np.ndarray, classes: Sequence[str],
                         decision: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Labels and uncertain flags from the app's own rule, one row at a time.

    Calls :func:`desktop_app.core.decision.decide` rather than a vectorised copy of it, so the
    metrics in the card (and of a local validation) are those of the decision the app
    actually shows.

    Returns:
        ``(class index per row, uncertain flag per row)``.
    """
    index = {name: position for position, name in enumerate(classes)}
    decisions = [decide(row, classes, decision) for row in np.asarray(probabilities)]
    chosen = np.array([index[d.label] for d in decisions], dtype=np.int64)
    return chosen, np.array([d.uncertain for d in decisions], dtype=bool)
