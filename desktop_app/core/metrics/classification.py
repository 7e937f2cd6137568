"""Classification metrics in plain numpy (no scikit-learn in the app's dependencies).

Every function takes class indices and probability or score arrays, so the same code scores
a Keras model during training, an exported LiteRT bundle in the wizard and the installed
model on a clinic's own films (local validation in the classify-only build, which ships
neither TensorFlow nor ``model_training``; hence this lives in the core).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

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


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Stable softmax over the last axis of ``logits / temperature``."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled = scaled - scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=-1, keepdims=True)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """``matrix[true, predicted]`` counts."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)),
              1)
    return matrix


def sensitivity_specificity(matrix: np.ndarray, index: int) -> tuple[float, float]:
    """One-vs-rest sensitivity and specificity of class ``index`` (NaN when undefined)."""
    matrix = np.asarray(matrix)
    tp = matrix[index, index]
    fn = matrix[index].sum() - tp
    fp = matrix[:, index].sum() - tp
    tn = matrix.sum() - tp - fn - fp
    sensitivity = tp / (tp + fn) if tp + fn else float("nan")
    specificity = tn / (tn + fp) if tn + fp else float("nan")
    return float(sensitivity), float(specificity)


def _binary(
    positive: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """``(positive as bool, scores as float64, #positives, #negatives)`` for ROC figures."""
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    return positive, np.asarray(scores, dtype=np.float64), n_pos, len(positive) - n_pos


def auroc(positive: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tie correction); NaN with one class."""
    positive, scores, n_pos, n_neg = _binary(positive, scores)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # Average ranks of ties, vectorised: bootstrap intervals call this thousands of times.
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(scores)]])
    group = np.repeat(np.arange(len(starts)), ends - starts)
    ranks[order] = ((starts + ends + 1) / 2.0)[group]
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_curve(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct threshold (for plotting).

    One point per distinct score (tied films move together), starting at (0, 0): the
    points of ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``, and the trapezoid
    under them is :func:`auroc`. With one class present the absent class's rate is 0 (not
    NaN) so that the plot still draws.
    """
    positive = np.asarray(positive, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")
    # A threshold sits after the last film of each group of tied scores; a point inside a
    # tie would depend on the order the sort left the tied films in.
    last_of_ties = np.append(np.flatnonzero(np.diff(scores[order])), len(scores) - 1)
    if len(scores) == 0:
        last_of_ties = last_of_ties[:0]
    tps = np.concatenate([[0], np.cumsum(positive[order])[last_of_ties]])
    fps = np.concatenate([[0], np.cumsum(~positive[order])[last_of_ties]])
    return fps / max(1, fps[-1]), tps / max(1, tps[-1])


def specificity_at_sensitivity(
    positive: np.ndarray, scores: np.ndarray, target: float = 0.95
) -> float:
    """Best specificity of the rule ``score >= t`` over thresholds reaching ``target`` sensitivity.

    The issue's COVID-19 target ("sensitivity >= 95 % at specificity >= 98 %") is a property
    of the ROC curve, independent of the operating point the app uses; only thresholds that
    exist in the data count (ties move together). NaN with one class.
    """
    positive, scores, n_pos, n_neg = _binary(positive, scores)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    thresholds = np.unique(scores)  # ascending
    # For each threshold: positives / negatives scoring at least it.
    pos_at_least = n_pos - np.searchsorted(np.sort(scores[positive]), thresholds, side="left")
    neg_at_least = n_neg - np.searchsorted(np.sort(scores[~positive]), thresholds, side="left")
    sensitivity = pos_at_least / n_pos
    specificity = 1.0 - neg_at_least / n_neg
    reaching = sensitivity >= target - 1e-12
    return float(specificity[reaching].max())


def bootstrap_auroc_ci(
    positive: np.ndarray,
    scores: np.ndarray,
    *,
    rounds: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the AUROC (resampling images, seeded)."""
    positive = np.asarray(positive, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        index = rng.integers(0, len(scores), len(scores))
        value = auroc(positive[index], scores[index])
        if np.isfinite(value):
            values.append(value)
    if not values:
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


def reliability_bins(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = 15
) -> dict[str, list[float]]:
    """Top-label confidence vs accuracy per equal-width bin (reliability diagram data)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    # bincount instead of a loop over bins: bootstrap intervals call this thousands of times.
    count = np.bincount(index, minlength=bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(index, weights=confidence, minlength=bins) / count
        mean_accuracy = np.bincount(index, weights=correct.astype(np.float64),
                                    minlength=bins) / count
    return {
        "confidence": [float(v) for v in mean_confidence],
        "accuracy": [float(v) for v in mean_accuracy],
        "count": [float(v) for v in count],
        "centre": [float((edges[b] + edges[b + 1]) / 2) for b in range(bins)],
    }


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = 15
) -> float:
    """Top-label ECE with equal-width bins (Guo et al., 2017)."""
    data = reliability_bins(probabilities, labels, bins)
    total = sum(data["count"])
    if total == 0:
        return float("nan")
    error = 0.0
    for count, conf, acc in zip(data["count"], data["confidence"], data["accuracy"], strict=True):
        if count:
            error += count / total * abs(conf - acc)
    return float(error)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    picked = probabilities[np.arange(len(labels)), np.asarray(labels, dtype=np.int64)]
    return float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0))))


def summary(
    logits: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    *,
    temperature: float = 1.0,
    bootstrap_rounds: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Accuracy, per-class sensitivity/specificity/AUROC (+95 % CI), confusion matrix, ECE.

    Args:
        logits: ``(n, classes)`` raw logits.
        labels: ``(n,)`` true class indices.
        classes: Class names.
        temperature: Temperature applied before the softmax (1 = uncalibrated).
        bootstrap_rounds: Bootstrap resamples for the AUROC CIs (0: no CIs).
        seed: Bootstrap seed.

    Returns:
        JSON-ready metrics; AUROC entries are ``None`` where a class is absent.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = softmax(logits, temperature)
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted, len(classes))
    per_class: dict[str, dict[str, Any]] = {}
    aurocs = []
    for index, name in enumerate(classes):
        sens, spec = sensitivity_specificity(matrix, index)
        positive = labels == index
        value = auroc(positive, probabilities[:, index])
        entry: dict[str, Any] = {
            "n": int(positive.sum()),
            "sensitivity": _nan_to_none(sens),
            "specificity": _nan_to_none(spec),
            "auroc": _nan_to_none(value),
            "specificity_at_95_sensitivity": _nan_to_none(
                specificity_at_sensitivity(positive, probabilities[:, index], 0.95)),
        }
        if bootstrap_rounds and np.isfinite(value):
            low, high = bootstrap_auroc_ci(positive, probabilities[:, index],
                                           rounds=bootstrap_rounds, seed=seed + index)
            entry["auroc_ci95"] = [low, high]
        if np.isfinite(value):
            aurocs.append(value)
        per_class[name] = entry
    return {
        "n": len(labels),
        "accuracy": float((predicted == labels).mean()) if len(labels) else None,
        "macro_auroc": float(np.mean(aurocs)) if aurocs else None,
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
        "ece": expected_calibration_error(probabilities, labels),
        "nll": negative_log_likelihood(probabilities, labels),
        "temperature": float(temperature),
    }


def _nan_to_none(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)
