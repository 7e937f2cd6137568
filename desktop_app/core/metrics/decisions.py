"""The app's decision applied to many rows: what every reported figure is measured at."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from desktop_app.core.decision import decide

__all__ = ["decision_predictions"]


def decision_predictions(probabilities: np.ndarray, classes: Sequence[str],
                         decision: dict[str, Any],
                         age_groups: Sequence[str | None] | None = None,
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Labels and uncertain flags from the app's own rule, one row at a time.

    Calls :func:`desktop_app.core.decision.decide` rather than a vectorised copy of it, so the
    metrics in the card (and of a local validation) are those of the decision the app
    actually shows.

    Args:
        probabilities: ``(n, classes)`` calibrated probabilities.
        classes: Class names.
        decision: The card's ``decision`` section.
        age_groups: Each row's age group (``child``/``adult``/``unknown``), so a card with
            thresholds per age group is measured at the thresholds the app applies to that
            patient; None: every age unknown (the top-level thresholds).

    Returns:
        ``(class index per row, uncertain flag per row)``.
    """
    index = {name: position for position, name in enumerate(classes)}
    rows = np.asarray(probabilities)
    groups = [None] * len(rows) if age_groups is None else list(age_groups)
    if len(groups) != len(rows):
        raise ValueError(f"age_groups must have one entry per row ({len(rows)}). "
                         f"Received: {len(groups)}")
    decisions = [decide(row, classes, decision, age_group=group)
                 for row, group in zip(rows, groups, strict=True)]
    chosen = np.array([index[d.label] for d in decisions], dtype=np.int64)
    return chosen, np.array([d.uncertain for d in decisions], dtype=bool)
