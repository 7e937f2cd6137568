"""Temperature scaling and the decision operating point, both fitted on validation.

A network trained with cross-entropy is usually over-confident; one scalar temperature ``T``
(``softmax(logits / T)``, Guo et al., ICML 2017) fixes most of it without changing any
prediction's rank, so accuracy and AUROC are untouched. It is fitted on the validation split,
never on test, and stored in the card; the app applies it.

The operating point (:mod:`desktop_app.core.decision`) is chosen on the same validation
predictions: a finding's threshold is the one that reaches the target sensitivity with the
best specificity, so the app errs towards flagging disease.

:func:`decision_predictions` lives in :mod:`desktop_app.core.metrics.decisions` (local
validation needs it without TensorFlow) and is re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from desktop_app.core.metrics.decisions import decision_predictions
from model_training.metrics import (
    confusion_matrix,
    negative_log_likelihood,
    sensitivity_specificity,
    softmax,
)

__all__ = [
    "choose_decision",
    "decision_predictions",
    "fit_temperature",
    "threshold_for_sensitivity",
]

MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 20.0


def fit_temperature(logits: np.ndarray, labels: np.ndarray, *, tolerance: float = 1e-5) -> float:
    """Temperature minimising the validation negative log-likelihood.

    The NLL is convex in ``1/T``, so a golden-section search over ``log T`` in
    [0.05, 20] (the card's accepted range) finds the optimum without scipy.

    Args:
        logits: ``(n, classes)`` validation logits.
        labels: ``(n,)`` class indices.
        tolerance: Stop when the bracket in ``log T`` is narrower than this.

    Returns:
        The temperature.

    Raises:
        ValueError: If there are no rows, or shapes disagree, quoting them.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if logits.ndim != 2 or len(logits) == 0 or len(logits) != len(labels):
        raise ValueError(
            f"need matching non-empty logits (n, classes) and labels (n,). Received: logits "
            f"{logits.shape}, labels {labels.shape}"
        )

    def loss(log_t: float) -> float:
        return negative_log_likelihood(softmax(logits, math.exp(log_t)), labels)

    low, high = math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE)
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = loss(a), loss(b)
    while high - low > tolerance:
        if fa < fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = loss(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = loss(b)
    return float(math.exp((low + high) / 2.0))


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
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    if positive.sum() == 0:
        raise ValueError(f"cannot choose a threshold without positives (got {positive.sum()})")
    candidates = np.unique(np.clip(scores, 1e-6, 1.0))
    sens = np.array([(scores[positive] >= t).mean() for t in candidates])
    negatives = ~positive
    spec = np.array([(scores[negatives] < t).mean() if negatives.any() else 1.0
                     for t in candidates])
    feasible = sens >= target - 1e-12
    best_spec = spec[feasible].max()
    tied = np.flatnonzero(feasible & (spec >= best_spec - 1e-12))
    best_sens = sens[tied].max()
    tied = tied[sens[tied] >= best_sens - 1e-12]
    low, high = candidates[tied.min()], candidates[tied.max()]
    # The interval of equivalent thresholds extends down to just above the next lower score.
    below = candidates[candidates < low]
    floor = below.max() if len(below) else 0.0
    threshold = float(np.clip((floor + high) / 2.0 if high == low else (low + high) / 2.0,
                              1e-6, 1.0))
    return threshold, float(sens[tied[0]]), float(spec[tied[0]])


def choose_decision(
    probabilities: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    *,
    target_sensitivity: float = 0.95,
    min_confidence: float = 0.55,
) -> dict[str, Any]:
    """The card's ``decision`` section, chosen on calibrated validation probabilities.

    Every class other than ``Normal`` gets a threshold reaching ``target_sensitivity`` with the
    best specificity; COVID-19 is checked first. The measured operating point (on the given
    data, i.e. validation) is stored for display.
    """
    labels = np.asarray(labels, dtype=np.int64)
    priority = [c for c in ("COVID-19", "Pneumonia") if c in classes]
    priority += [c for c in classes if c not in priority and c != "Normal"]
    thresholds: dict[str, float] = {}
    for name in priority:
        index = list(classes).index(name)
        threshold, _, _ = threshold_for_sensitivity(probabilities[:, index], labels == index,
                                                    target_sensitivity)
        thresholds[name] = round(threshold, 6)
    decision: dict[str, Any] = {
        "priority": priority,
        "thresholds": thresholds,
        "min_confidence": float(min_confidence),
    }
    predicted, uncertain = decision_predictions(probabilities, classes, decision)
    matrix = confusion_matrix(labels, predicted, len(classes))
    decision["operating_point"] = {
        "measured_on": "validation",
        "n": len(labels),
        "target_sensitivity": target_sensitivity,
        "accuracy": float((predicted == labels).mean()),
        "uncertain_fraction": float(uncertain.mean()),
        "per_class": {
            name: dict(zip(("sensitivity", "specificity"),
                           sensitivity_specificity(matrix, i), strict=True))
            for i, name in enumerate(classes)
        },
    }
    return decision
