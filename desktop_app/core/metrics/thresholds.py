"""Threshold rules shared by training's operating point and a site's calibration.

Training chooses its operating point on validation films (:mod:`model_training.calibration`);
a clinic re-chooses it on its own films (:mod:`desktop_app.core.site.site_thresholds`) in the
classify-only build, which has no TensorFlow. Both must pick a threshold the same way, so the
two rules live here, in plain numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "CURVE_THRESHOLDS",
    "middle_of_tied",
    "sensitivity_curves",
    "threshold_for_balance",
    "threshold_for_false_positive_rate",
    "threshold_for_sensitivity",
]


def threshold_for_sensitivity(
    scores: np.ndarray, positive: np.ndarray, target: float = 0.95
) -> tuple[float, float, float]:
    """Threshold reaching ``target`` sensitivity with the best specificity.

    Among thresholds with equal (best) specificity the one in the middle of the tied range is
    taken, which keeps a margin on both sides for unseen data.

    Returns:
        ``(threshold, sensitivity, specificity)`` on the given data.

    Raises:
        ValueError: If there are no positives, naming the count.
    """
    # Clipped like the candidates, so a score of exactly 0 still reaches the lowest one.
    scores = np.clip(np.asarray(scores, dtype=np.float64), 1e-6, 1.0)
    positive = np.asarray(positive, dtype=bool)
    if positive.sum() == 0:
        raise ValueError(f"cannot choose a threshold without positives (got {positive.sum()})")
    candidates = np.unique(scores)
    sens = np.array([(scores[positive] >= t).mean() for t in candidates])
    negatives = ~positive
    spec = np.array([(scores[negatives] < t).mean() if negatives.any() else 1.0
                     for t in candidates])
    feasible = sens >= target - 1e-12
    best_spec = spec[feasible].max()
    tied = np.flatnonzero(feasible & (spec >= best_spec - 1e-12))
    best_sens = sens[tied].max()
    tied = tied[sens[tied] >= best_sens - 1e-12]
    threshold = middle_of_tied(candidates, tied)
    return threshold, float(sens[tied[0]]), float(spec[tied[0]])


def middle_of_tied(candidates: np.ndarray, tied: np.ndarray) -> float:
    """The middle of the range of equally good thresholds, in (0, 1].

    Every rule here that picks a threshold among ``candidates`` (sorted unique scores) takes
    the middle of the best ones (``tied``: their indices), so a margin is kept on both sides
    for unseen films. One best candidate alone stands for the interval down to just above
    the next lower score.
    """
    low, high = candidates[tied.min()], candidates[tied.max()]
    below = candidates[candidates < low]
    floor = below.max() if len(below) else 0.0
    return float(np.clip((floor + high) / 2.0 if high == low else (low + high) / 2.0,
                         1e-6, 1.0))


def threshold_for_false_positive_rate(scores: np.ndarray, negatives: np.ndarray,
                                     max_rate: float) -> float:
    """The lowest threshold calling at most ``max_rate`` of ``negatives`` positive.

    Placed half-way between the highest negative score it lets through and the next higher
    one, so a score tied with a negative never flips. Without negatives there is nothing to
    anchor on and the lowest possible threshold is returned (the caller keeps its own).
    """
    values = np.sort(np.asarray(scores, dtype=np.float64)[np.asarray(negatives, dtype=bool)])
    if len(values) == 0:
        return 1e-6
    allowed = math.floor(max_rate * len(values) + 1e-9)  # negatives that may reach it
    if allowed >= len(values):
        return 1e-6
    kept = values[len(values) - allowed - 1]  # the highest negative that must stay below
    higher = values[values > kept]  # ties with it stay below too
    upper = float(higher.min()) if len(higher) else 1.0
    return float(np.clip((kept + upper) / 2.0, 1e-6, 1.0))


def threshold_for_balance(scores: np.ndarray, positive: np.ndarray,
                          negatives: np.ndarray) -> float:
    """The threshold at which sensitivity on ``positive`` equals specificity on ``negatives``.

    Neither finding the disease nor sparing the healthy counts for more: where a missed
    pneumonia harms a patient as much as a healthy film called ill, the point of the curve
    where both rates are equal (the equal-error point) is the one that weighs them alike.
    Among thresholds that come equally close the one with the highest sum of the two is
    taken, then the middle of that tied range (a margin on both sides for unseen films).

    Raises:
        ValueError: Without positives or negatives, naming the counts.
    """
    scores = np.clip(np.asarray(scores, dtype=np.float64), 1e-6, 1.0)
    positive = np.asarray(positive, dtype=bool)
    negatives = np.asarray(negatives, dtype=bool) & ~positive
    if not positive.any() or not negatives.any():
        raise ValueError(f"a balanced threshold needs positives and negatives (got "
                         f"{int(positive.sum())} and {int(negatives.sum())})")
    candidates = np.unique(scores[positive | negatives])
    sens = np.array([(scores[positive] >= t).mean() for t in candidates])
    spec = np.array([(scores[negatives] < t).mean() for t in candidates])
    gap = np.abs(sens - spec)
    tied = np.flatnonzero(gap <= gap.min() + 1e-12)
    total = sens[tied] + spec[tied]
    tied = tied[total >= total.max() - 1e-12]
    return middle_of_tied(candidates, tied)


#: Thresholds a sensitivity curve is recorded at (0, 0.01, ..., 1).
CURVE_THRESHOLDS = tuple(round(step / 100, 2) for step in range(101))


def sensitivity_curves(probabilities: np.ndarray, labels: np.ndarray,
                       classes: Sequence[str], age_groups: Sequence[str] | None = None
                       ) -> dict[str, dict[str, Any]]:
    """Each finding's sensitivity at :data:`CURVE_THRESHOLDS`, for the card.

    A site that calibrates with normal films only sets its COVID-19 threshold from them; how
    many COVID-19 films that threshold finds can then only come from the model's own test
    films (:mod:`desktop_app.core.site.site_calibration` reads these curves and says so). Adults
    are the population when the data names at least 20 adult films with the finding (a clinic
    reading adult films should not be told children's figures); else every film.

    Args:
        probabilities: ``(n, classes)`` calibrated probabilities.
        labels: True class index per row.
        classes: Class names (``Normal`` is no finding and gets no curve).
        age_groups: Per row ``child``/``adult``/``unknown``, when known.

    Returns:
        ``{finding: {"thresholds", "sensitivity", "n", "population"}}`` for each finding with
        films.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    groups = (np.asarray([str(g) for g in age_groups]) if age_groups is not None
              else np.full(len(labels), "unknown"))
    grid = np.asarray(CURVE_THRESHOLDS)
    curves: dict[str, dict[str, Any]] = {}
    for index, name in enumerate(classes):
        positive = labels == index
        if name == "Normal" or not positive.any():
            continue
        adults = positive & (groups == "adult")
        rows, population = ((adults, "adult test films") if adults.sum() >= 20
                            else (positive, "all test films"))
        scores = probabilities[rows, index]
        curves[name] = {
            "thresholds": list(CURVE_THRESHOLDS),
            "sensitivity": [round(float((scores >= t).mean()), 4) for t in grid],
            "n": int(rows.sum()),
            "population": population,
        }
    return curves
