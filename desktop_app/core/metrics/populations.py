"""Figures per population, at the app's decision, with bootstrap 95 % confidence intervals.

An overall score on this data mostly measures children (Kermany is two thirds of the images)
and, for COVID-19, "recognised the hospital". A clinic's patients are mostly adults, so every
evaluation also reports who the model is right for:

* per class, per source and per ``age_group`` (child / adult / unknown);
* the **adult false-COVID rate**: adult Normal and non-COVID Pneumonia films that the app's
  decision labels COVID-19 (the failure that made an earlier model useless on adults);
* **adult COVID-19 sensitivity**;
* **NIH adult Normal vs Pneumonia AUROC** (score ``1 - P(Normal)``): the only contrast between
  two classes inside one adult source, so it cannot be won by recognising the source;
* **child accuracy** (three classes, the app's decision) and child Normal-vs-Pneumonia accuracy;
* **ECE** overall and per age group.

Every figure is ``{"value", "ci95": [low, high], "n"}``. Intervals are percentile bootstrap
intervals that resample *patients* (all images of a patient together) when patient ids are
given, because several films of one patient are not independent evidence. A figure that rests
on no image is ``None``. Decisions come from :func:`desktop_app.core.decision.decide` (through
:func:`desktop_app.core.metrics.decisions.decision_predictions`), i.e. what the app shows.

Numpy only, in the core: training, the wizard and local validation in the classify-only
build compute the same figures with the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from desktop_app.core.metrics.decisions import decision_predictions
from desktop_app.core.metrics.figures import KEY_FIGURES, figure_text

__all__ = [
    "Resampler",
    "calibration_error",
    "estimate",
    "estimate_weighted",
    "format_populations",
    "population_metrics",
    "rate",
    "weighted_auroc",
]

Statistic = Callable[[np.ndarray], float]


class Resampler:
    """Draws bootstrap resamples of row indices, by patient when patient ids are known.

    One set of draws is made up front and reused for every figure, so all intervals of one
    evaluation come from the same resamples (and the run is reproducible from the seed).
    """

    def __init__(self, n: int, *, rounds: int, seed: int,
                 patients: Sequence[str] | None = None) -> None:
        self.n = n
        self.rounds = rounds
        rng = np.random.default_rng(seed)
        self.draws: list[np.ndarray] = []
        if rounds <= 0 or n == 0:
            return
        if patients is None:
            order = np.arange(n)
            starts = np.arange(n)
        else:
            keys = np.asarray([str(p) for p in patients])
            _, inverse = np.unique(keys, return_inverse=True)
            order = np.argsort(inverse, kind="stable")
            starts = np.concatenate([[0], np.flatnonzero(np.diff(inverse[order])) + 1])
        lengths = np.diff(np.append(starts, n))
        for _ in range(rounds):
            # The picked patients' rows, in the order picked (cluster after cluster).
            picked = rng.integers(0, len(starts), len(starts))
            sizes = lengths[picked]
            offsets = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
            self.draws.append(order[np.repeat(starts[picked], sizes) + offsets])
        self._counts: np.ndarray | None = None

    @property
    def counts(self) -> np.ndarray:
        """``(rounds, n)``: how often each row occurs in each resample (computed once).

        A statistic that is a weighted sum over rows (a rate, the binned ECE) is then one
        matrix product for all resamples instead of a Python call per resample.
        """
        if getattr(self, "_counts", None) is None:
            self._counts = np.stack([np.bincount(draw, minlength=self.n) for draw in self.draws]
                                    ).astype(np.float64) if self.draws else np.zeros((0, self.n))
        return self._counts


def estimate(statistic: Statistic, rows: np.ndarray, resampler: Resampler,
             *, level: float = 0.95, debias: bool = False) -> dict[str, Any] | None:
    """``statistic`` on ``rows`` (a boolean mask) with its bootstrap interval.

    Each resample keeps the drawn rows that fall in ``rows``, so a subgroup's interval also
    reflects how many of its patients a resample happens to hold.

    ``debias=True`` shifts the percentile interval by the bootstrap's own bias (mean of the
    resamples minus the measured value) and clips it at 0: resampling inflates the binned ECE
    (a resample repeats images, so its bins are sparser and its ECE larger), and the plain
    percentile interval of a well-calibrated model can lie entirely above the measured value.

    Returns:
        ``{"value", "ci95", "n"}``, or None when ``rows`` is empty or the statistic undefined.
    """
    index = np.flatnonzero(rows)
    if len(index) == 0:
        return None
    value = statistic(index)
    if not np.isfinite(value):
        return None
    samples = []
    for draw in resampler.draws:
        chosen = draw[rows[draw]]
        if len(chosen):
            sample = statistic(chosen)
            if np.isfinite(sample):
                samples.append(sample)
    return _entry(float(value), samples, len(index), level=level, debias=debias)


def _entry(value: float, samples: Sequence[float] | np.ndarray, n: int, *, level: float,
           debias: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"value": value, "ci95": None, "n": n}
    if len(samples):
        alpha = (1.0 - level) / 2.0
        low, high = np.quantile(samples, [alpha, 1.0 - alpha])
        if debias:
            bias = float(np.mean(samples)) - value
            low, high = max(0.0, low - bias), max(0.0, high - bias)
        entry["ci95"] = [float(low), float(high)]
    return entry


WeightedStatistic = Callable[[np.ndarray, np.ndarray], np.ndarray]


def estimate_weighted(statistic: WeightedStatistic, rows: np.ndarray, resampler: Resampler,
                      *, level: float = 0.95, debias: bool = False) -> dict[str, Any] | None:
    """:func:`estimate` for a statistic of row weights, all resamples in one call.

    ``statistic(index, weights)`` gets the rows' indices and a ``(k, len(index))`` matrix of
    how often each row counts (a row of ones for the measured value, the resample counts for
    the interval) and returns ``k`` values. A resample repeating a row is exactly a weight,
    so the figures equal :func:`estimate`'s; only the Python loop is gone (an evaluation
    computes dozens of figures times a thousand resamples).
    """
    index = np.flatnonzero(rows)
    if len(index) == 0:
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        value = float(statistic(index, np.ones((1, len(index))))[0])
        if not np.isfinite(value):
            return None
        weights = resampler.counts[:, index]
        samples = statistic(index, weights) if len(weights) else np.zeros(0)
    samples = samples[(weights.sum(axis=1) > 0) & np.isfinite(samples)] if len(weights) else []
    return _entry(value, samples, len(index), level=level, debias=debias)


def rate(values: np.ndarray) -> WeightedStatistic:
    """The weighted share of ``values`` (booleans, e.g. "labelled correctly") over the rows."""
    values = np.asarray(values, dtype=np.float64)

    def statistic(index: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return (weights @ values[index]) / weights.sum(axis=1)

    return statistic


def weighted_auroc(positive: np.ndarray, scores: np.ndarray) -> WeightedStatistic:
    """Weighted :func:`~desktop_app.core.metrics.classification.auroc` (Mann-Whitney, ties 1/2).

    Sorting once and summing weights per tied score gives every resample's AUROC from
    ``(k, groups)`` sums: a positive beats the negatives below its score and half of those
    tied with it. NaN where a resample holds only one class.
    """
    positive = np.asarray(positive, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)

    def statistic(index: np.ndarray, weights: np.ndarray) -> np.ndarray:
        order = np.argsort(scores[index], kind="mergesort")
        ordered = scores[index][order]
        starts = np.concatenate([[0], np.flatnonzero(np.diff(ordered)) + 1])
        is_positive = positive[index][order]
        w = weights[:, order]
        if len(starts) == len(ordered):
            # No tied scores (the usual case with probabilities): a positive beats the
            # negative weight accumulated before it; half as many passes as the grouping.
            negative = np.where(is_positive, 0.0, w)
            below = np.cumsum(negative, axis=1)[:, is_positive]
            wins = (w[:, is_positive] * below).sum(axis=1)
            return wins / (w[:, is_positive].sum(axis=1) * negative.sum(axis=1))
        pos = np.add.reduceat(w * is_positive, starts, axis=1)
        neg = np.add.reduceat(w * ~is_positive, starts, axis=1)
        below = np.cumsum(neg, axis=1) - neg
        return (pos * (below + 0.5 * neg)).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))

    return statistic


def calibration_error(probabilities: np.ndarray, labels: np.ndarray,
                      bins: int = 15) -> WeightedStatistic:
    """Weighted :func:`~desktop_app.core.metrics.classification.expected_calibration_error`.

    Each row's bin, confidence and correctness are fixed, so per-bin sums are weight matrix
    products: ``ECE = sum over bins |sum(confidence) - sum(correct)| / sum(weights)``.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == np.asarray(labels)).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)

    def statistic(index: np.ndarray, weights: np.ndarray) -> np.ndarray:
        one_hot = np.zeros((len(index), bins))
        one_hot[np.arange(len(index)), which[index]] = 1.0
        gap = (confidence[index] - correct[index])[:, None] * one_hot
        return np.abs(weights @ gap).sum(axis=1) / weights.sum(axis=1)

    return statistic


def population_metrics(
    probabilities: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    decision: dict[str, Any],
    *,
    sources: Sequence[str],
    age_groups: Sequence[str] | None = None,
    patients: Sequence[str] | None = None,
    bootstrap_rounds: int = 1000,
    seed: int = 0,
    resampler: Resampler | None = None,
) -> dict[str, Any]:
    """Per-population figures at the app's decision (see module docs).

    Args:
        probabilities: ``(n, classes)`` calibrated probabilities.
        labels: ``(n,)`` true class indices.
        classes: Class names.
        decision: The card's ``decision`` section (the app's operating point).
        sources: Source per image.
        age_groups: ``child`` / ``adult`` / ``unknown`` per image (None: all unknown).
        patients: Patient id per image, for the patient-level bootstrap (None: by image).
        bootstrap_rounds: Resamples (0: no intervals).
        seed: Bootstrap seed.
        resampler: Draws to reuse (built from ``bootstrap_rounds``, ``seed`` and ``patients``
            when None), so a caller's extra figures share this evaluation's resamples.

    Returns:
        JSON-ready ``{"overall", "per_class", "per_source", "per_age_group", "key_figures",
        "bootstrap"}``.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    sources_arr = np.asarray([str(s) for s in sources])
    groups_arr = np.asarray([str(g) for g in age_groups] if age_groups is not None
                            else ["unknown"] * n)
    chosen = _chosen(probabilities, classes, decision, groups_arr)
    correct = chosen == labels
    if resampler is None:
        resampler = Resampler(n, rounds=bootstrap_rounds, seed=seed, patients=patients)
    everyone = np.ones(n, dtype=bool)
    index_of = {name: i for i, name in enumerate(classes)}
    figures = _Figures(probabilities, labels, chosen, index_of, resampler)
    result: dict[str, Any] = {
        "decision_rule": "the app's decide() at the card's operating point",
        "overall": figures.overall(everyone),
        "per_class": figures.per_class(everyone, with_specificity=True),
        "per_source": {source: figures.group(sources_arr == source)
                       for source in sorted(set(sources_arr.tolist()))},
        "per_age_group": {group: figures.group(groups_arr == group)
                          for group in sorted(set(groups_arr.tolist()))},
        "key_figures": _key_figures(probabilities, labels, chosen, correct, index_of,
                                    sources_arr, groups_arr, resampler),
        "bootstrap": _bootstrap_record(resampler, by_patient=patients is not None, seed=seed),
    }
    result["key_figures"]["ece"] = result["overall"]["ece"]
    return result


def _bootstrap_record(resampler: Resampler, *, by_patient: bool, seed: int) -> dict[str, Any]:
    """How the intervals were made: rounds, resampling unit, seed, kind of interval."""
    return {
        "rounds": resampler.rounds,
        "unit": "patient" if by_patient else "image",
        "seed": seed,
        "interval": "percentile, 95 % (ECE: shifted by the bootstrap bias, clipped at 0)",
    }


def _chosen(probabilities: np.ndarray, classes: Sequence[str], decision: dict[str, Any],
            groups: np.ndarray) -> np.ndarray:
    """Each image's answer at the thresholds the app applies to its age group.

    The card may have thresholds per age group.
    """
    if not len(groups):
        return np.zeros(0, dtype=np.int64)
    chosen, _uncertain = decision_predictions(probabilities, classes, decision,
                                              groups.tolist())
    return chosen


class _Figures:
    """The per-class and per-group figures of one evaluation, on its shared resamples."""

    def __init__(self, probabilities: np.ndarray, labels: np.ndarray, chosen: np.ndarray,
                 index_of: dict[str, int], resampler: Resampler) -> None:
        self.probabilities = probabilities
        self.labels = labels
        self.chosen = chosen
        self.index_of = index_of
        self.resampler = resampler
        self.accuracy = rate(chosen == labels)
        self.ece = calibration_error(probabilities, labels)

    def overall(self, everyone: np.ndarray) -> dict[str, Any]:
        """Every image's count, accuracy and ECE."""
        return {
            "n": len(self.labels),
            "accuracy": estimate_weighted(self.accuracy, everyone, self.resampler),
            "ece": estimate_weighted(self.ece, everyone, self.resampler, debias=True),
        }

    def called(self, target: int) -> WeightedStatistic:
        return rate(self.chosen == target)

    def per_class(self, rows: np.ndarray, *, with_specificity: bool) -> dict[str, Any]:
        """Per class: its films' count and sensitivity (with specificity and AUROC)."""
        labels, resampler = self.labels, self.resampler
        out: dict[str, Any] = {}
        for name, target in self.index_of.items():
            entry: dict[str, Any] = {
                "n": int((rows & (labels == target)).sum()),
                "sensitivity": estimate_weighted(self.called(target), rows & (labels == target),
                                                 resampler),
            }
            if with_specificity:
                entry["specificity"] = estimate_weighted(
                    rate(self.chosen != target), rows & (labels != target), resampler)
                entry["auroc"] = estimate_weighted(
                    weighted_auroc(labels == target, self.probabilities[:, target]), rows,
                    resampler)
            out[name] = entry
        return out

    def group(self, rows: np.ndarray) -> dict[str, Any]:
        """A population's count, accuracy, ECE, per-class sensitivity, false COVID-19."""
        figures: dict[str, Any] = {
            "n": int(rows.sum()),
            "accuracy": estimate_weighted(self.accuracy, rows, self.resampler),
            "ece": estimate_weighted(self.ece, rows, self.resampler, debias=True),
            "per_class": self.per_class(rows, with_specificity=False),
        }
        if "COVID-19" in self.index_of:
            covid = self.index_of["COVID-19"]
            figures["labelled_covid_non_covid"] = estimate_weighted(
                self.called(covid), rows & (self.labels != covid), self.resampler)
        return figures


def _key_figures(
    probabilities: np.ndarray,
    labels: np.ndarray,
    chosen: np.ndarray,
    correct: np.ndarray,
    index_of: dict[str, int],
    sources: np.ndarray,
    groups: np.ndarray,
    resampler: Resampler,
) -> dict[str, Any]:
    """The figures the training issue's targets are stated in (see :data:`KEY_FIGURES`)."""
    figures: dict[str, Any] = dict.fromkeys(figure.key for figure in KEY_FIGURES)
    adult = groups == "adult"
    child = groups == "child"
    figures["child_accuracy"] = estimate_weighted(rate(correct), child, resampler)
    if "COVID-19" in index_of:
        covid = index_of["COVID-19"]
        covid_called = rate(chosen == covid)
        figures["adult_false_covid_rate"] = estimate_weighted(
            covid_called, adult & (labels != covid), resampler)
        figures["adult_covid_sensitivity"] = estimate_weighted(
            covid_called, adult & (labels == covid), resampler)
    if "Normal" in index_of and "Pneumonia" in index_of:
        normal, pneumonia = index_of["Normal"], index_of["Pneumonia"]
        normal_or_pneumonia = np.isin(labels, [normal, pneumonia])
        figures["child_normal_vs_pneumonia_accuracy"] = estimate_weighted(
            rate(correct), child & normal_or_pneumonia, resampler)
        figures["nih_adult_normal_vs_pneumonia_auroc"] = estimate_weighted(
            weighted_auroc(labels == pneumonia, 1.0 - probabilities[:, normal]),
            (sources == "nih") & adult & normal_or_pneumonia, resampler)
    return figures


def format_populations(populations: dict[str, Any]) -> list[str]:
    """Plain-text lines of the key figures and the per-source / per-age-group table.

    Used by ``python -m model_training evaluate`` and ``train``; percentages with the 95 %
    interval in brackets and the number of images each rests on.
    """
    lines = ["Key figures (app's decision; 95 % CI; n images):"]
    for figure in KEY_FIGURES:
        entry = populations["key_figures"].get(figure.key)
        lines.append(f"  {figure.label}: {figure_text(entry, percent=figure.percent)}")
    for title, key in (("source", "per_source"), ("age group", "per_age_group")):
        lines.append(f"Per {title}:")
        for group, figures in populations[key].items():
            parts = [f"accuracy {figure_text(figures['accuracy'])}"]
            false_covid = figures.get("labelled_covid_non_covid")
            if false_covid is not None:
                parts.append(f"non-COVID labelled COVID-19 {figure_text(false_covid)}")
            if figures.get("ece") is not None:
                parts.append(f"ECE {figures['ece']['value']:.3f}")
            lines.append(f"  {group} ({figures['n']} images): " + "; ".join(parts))
    return lines
