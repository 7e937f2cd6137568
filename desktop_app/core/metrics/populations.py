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

from desktop_app.core.metrics.classification import auroc, expected_calibration_error
from desktop_app.core.metrics.decisions import decision_predictions

__all__ = ["KEY_FIGURES", "Resampler", "estimate", "format_populations", "population_metrics"]

KEY_FIGURES: dict[str, str] = {
    "adult_false_covid_rate": "adult Normal / non-COVID Pneumonia films labelled COVID-19",
    "adult_covid_sensitivity": "adult COVID-19 films labelled COVID-19",
    "nih_adult_normal_vs_pneumonia_auroc": "NIH adult Normal vs Pneumonia AUROC (1 - P(Normal))",
    "child_accuracy": "child films, 3-class accuracy at the app's decision",
    "child_normal_vs_pneumonia_accuracy": "child Normal / Pneumonia films labelled correctly",
    "ece": "expected calibration error (all images)",
}

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
            clusters = [np.array([i]) for i in range(n)]
        else:
            keys = np.asarray([str(p) for p in patients])
            _, inverse = np.unique(keys, return_inverse=True)
            order = np.argsort(inverse, kind="stable")
            bounds = np.flatnonzero(np.diff(inverse[order])) + 1
            clusters = np.split(order, bounds)
        for _ in range(rounds):
            picked = rng.integers(0, len(clusters), len(clusters))
            self.draws.append(np.concatenate([clusters[i] for i in picked]))


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
    entry: dict[str, Any] = {"value": float(value), "ci95": None, "n": len(index)}
    if samples:
        alpha = (1.0 - level) / 2.0
        low, high = np.quantile(samples, [alpha, 1.0 - alpha])
        if debias:
            bias = float(np.mean(samples)) - value
            low, high = max(0.0, low - bias), max(0.0, high - bias)
        entry["ci95"] = [float(low), float(high)]
    return entry


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

    Returns:
        JSON-ready ``{"overall", "per_class", "per_source", "per_age_group", "key_figures",
        "bootstrap"}``.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    chosen, _uncertain = decision_predictions(probabilities, classes, decision) if n else (
        np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool))
    correct = chosen == labels
    sources_arr = np.asarray([str(s) for s in sources])
    groups_arr = np.asarray([str(g) for g in age_groups] if age_groups is not None
                            else ["unknown"] * n)
    resampler = Resampler(n, rounds=bootstrap_rounds, seed=seed, patients=patients)
    everyone = np.ones(n, dtype=bool)
    index_of = {name: i for i, name in enumerate(classes)}

    def accuracy(index: np.ndarray) -> float:
        return float(correct[index].mean())

    def ece(index: np.ndarray) -> float:
        return expected_calibration_error(probabilities[index], labels[index])

    def called(target: int) -> Statistic:
        return lambda index: float((chosen[index] == target).mean())

    def one_vs_rest_auroc(target: int) -> Statistic:
        return lambda index: auroc(labels[index] == target, probabilities[index, target])

    def per_class(rows: np.ndarray, *, with_specificity: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, target in index_of.items():
            entry: dict[str, Any] = {
                "n": int((rows & (labels == target)).sum()),
                "sensitivity": estimate(called(target), rows & (labels == target), resampler),
            }
            if with_specificity:
                entry["specificity"] = estimate(
                    lambda index, t=target: float((chosen[index] != t).mean()),
                    rows & (labels != target), resampler)
                entry["auroc"] = estimate(one_vs_rest_auroc(target), rows, resampler)
            out[name] = entry
        return out

    def group_figures(rows: np.ndarray) -> dict[str, Any]:
        figures: dict[str, Any] = {
            "n": int(rows.sum()),
            "accuracy": estimate(accuracy, rows, resampler),
            "ece": estimate(ece, rows, resampler, debias=True),
            "per_class": per_class(rows, with_specificity=False),
        }
        if "COVID-19" in index_of:
            covid = index_of["COVID-19"]
            figures["labelled_covid_non_covid"] = estimate(
                called(covid), rows & (labels != covid), resampler)
        return figures

    result: dict[str, Any] = {
        "decision_rule": "the app's decide() at the card's operating point",
        "overall": {
            "n": n,
            "accuracy": estimate(accuracy, everyone, resampler),
            "ece": estimate(ece, everyone, resampler, debias=True),
        },
        "per_class": per_class(everyone, with_specificity=True),
        "per_source": {source: group_figures(sources_arr == source)
                       for source in sorted(set(sources_arr.tolist()))},
        "per_age_group": {group: group_figures(groups_arr == group)
                          for group in sorted(set(groups_arr.tolist()))},
        "key_figures": _key_figures(probabilities, labels, chosen, correct, index_of,
                                    sources_arr, groups_arr, resampler),
        "bootstrap": {
            "rounds": bootstrap_rounds,
            "unit": "patient" if patients is not None else "image",
            "seed": seed,
            "interval": "percentile, 95 % (ECE: shifted by the bootstrap bias, clipped at 0)",
        },
    }
    result["key_figures"]["ece"] = result["overall"]["ece"]
    return result


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
    figures: dict[str, Any] = dict.fromkeys(KEY_FIGURES)
    adult = groups == "adult"
    child = groups == "child"
    figures["child_accuracy"] = estimate(lambda index: float(correct[index].mean()), child,
                                         resampler)
    if "COVID-19" in index_of:
        covid = index_of["COVID-19"]

        def covid_called(index: np.ndarray) -> float:
            return float((chosen[index] == covid).mean())

        figures["adult_false_covid_rate"] = estimate(covid_called, adult & (labels != covid),
                                                     resampler)
        figures["adult_covid_sensitivity"] = estimate(covid_called, adult & (labels == covid),
                                                      resampler)
    if "Normal" in index_of and "Pneumonia" in index_of:
        normal, pneumonia = index_of["Normal"], index_of["Pneumonia"]
        normal_or_pneumonia = np.isin(labels, [normal, pneumonia])
        figures["child_normal_vs_pneumonia_accuracy"] = estimate(
            lambda index: float(correct[index].mean()), child & normal_or_pneumonia, resampler)
        figures["nih_adult_normal_vs_pneumonia_auroc"] = estimate(
            lambda index: auroc(labels[index] == pneumonia, 1.0 - probabilities[index, normal]),
            (sources == "nih") & adult & normal_or_pneumonia, resampler)
    return figures


def _percent(entry: dict[str, Any] | None, *, as_percent: bool = True) -> str:
    if entry is None:
        return "n/a"
    value, ci = entry["value"], entry.get("ci95")
    if as_percent:
        text = f"{100 * value:.1f} %"
        if ci:
            text += f" ({100 * ci[0]:.1f}-{100 * ci[1]:.1f})"
    else:
        text = f"{value:.3f}"
        if ci:
            text += f" ({ci[0]:.3f}-{ci[1]:.3f})"
    return f"{text}, n={entry['n']}"


def format_populations(populations: dict[str, Any]) -> list[str]:
    """Plain-text lines of the key figures and the per-source / per-age-group table.

    Used by ``python -m model_training evaluate`` and ``train``; percentages with the 95 %
    interval in brackets and the number of images each rests on.
    """
    lines = ["Key figures (app's decision; 95 % CI; n images):"]
    for name, label in KEY_FIGURES.items():
        entry = populations["key_figures"].get(name)
        rate = "auroc" not in name and name != "ece"
        lines.append(f"  {label}: {_percent(entry, as_percent=rate)}")
    for title, key in (("source", "per_source"), ("age group", "per_age_group")):
        lines.append(f"Per {title}:")
        for group, figures in populations[key].items():
            parts = [f"accuracy {_percent(figures['accuracy'])}"]
            false_covid = figures.get("labelled_covid_non_covid")
            if false_covid is not None:
                parts.append(f"non-COVID labelled COVID-19 {_percent(false_covid)}")
            if figures.get("ece") is not None:
                parts.append(f"ECE {figures['ece']['value']:.3f}")
            lines.append(f"  {group} ({figures['n']} images): " + "; ".join(parts))
    return lines
