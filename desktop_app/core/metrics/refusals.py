"""Sensitivity both ways: over the films the app labelled, and counting refused films as missed.

The figures of an evaluation are measured on the films the app labels; the gate refuses the
rest. At a site whose films the gate finds unusual that hides what the clinic experiences:
"99 % of COVID-19 found" while 18 % of its COVID-19 films got no answer at all. Each class
therefore gets both figures: **over the labelled films** (the classifier's own sensitivity)
and **over all its films, a refused film counting as not found** (the sensitivity of the app
as a whole), each with a patient-level bootstrap 95 % interval, plus how many of the class's
films were refused and how many were labelled with a caution.

One definition for the local validation (:mod:`desktop_app.core.validation.validation`)
and the model card's test figures (``model_training.evaluation``); numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from desktop_app.core.metrics.populations import Resampler, estimate_weighted, rate

__all__ = ["cautioned_text", "refusal_figures", "refusal_lines", "sensitivity_both_ways_text"]


def refusal_figures(
    labels: Sequence[int] | np.ndarray,
    chosen: Sequence[int] | np.ndarray,
    refused: Sequence[bool] | np.ndarray,
    classes: Sequence[str],
    *,
    cautioned: Sequence[bool] | np.ndarray | None = None,
    patients: Sequence[str] | None = None,
    labelled_sensitivity: Mapping[str, Any] | None = None,
    bootstrap_rounds: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Refused and cautioned counts and each class's sensitivity both ways.

    Args:
        labels: True class index of every film the app read (labelled or refused).
        chosen: The app's class index per film (ignored where refused).
        refused: The gate refused the film (no label).
        classes: Class names.
        cautioned: The film was labelled with a caution (None: no caution known).
        patients: Patient id per film, for the bootstrap (None: by film).
        labelled_sensitivity: Sensitivity over the labelled films per class, already
            measured by the caller (``{"value", "ci95", "n"}``); used as given so that one
            report shows one interval for one figure. Computed here when None.
        bootstrap_rounds: Resamples for the intervals (0: none).
        seed: Bootstrap seed.

    Returns:
        JSON-ready ``{"films", "refused", "cautioned", "per_class": {name: {"films",
        "refused", "cautioned", "sensitivity_labelled", "sensitivity_counting_refused"}}}``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    chosen = np.asarray(chosen, dtype=np.int64)
    refused = np.asarray(refused, dtype=bool)
    n = len(labels)
    cautioned = (np.zeros(n, dtype=bool) if cautioned is None
                 else np.asarray(cautioned, dtype=bool) & ~refused)
    found = ~refused & (chosen == labels)
    resampler = Resampler(n, rounds=bootstrap_rounds, seed=seed, patients=patients)
    per_class: dict[str, Any] = {}
    for index, name in enumerate(classes):
        of_class = labels == index
        labelled = (labelled_sensitivity.get(name) if labelled_sensitivity is not None
                    else estimate_weighted(rate(found), of_class & ~refused, resampler))
        per_class[name] = {
            "films": int(of_class.sum()),
            "refused": int((of_class & refused).sum()),
            "cautioned": int((of_class & cautioned).sum()),
            "sensitivity_labelled": labelled,
            "sensitivity_counting_refused": estimate_weighted(rate(found), of_class,
                                                              resampler),
        }
    return {"films": n, "refused": int(refused.sum()), "cautioned": int(cautioned.sum()),
            "per_class": per_class}


def _percent(entry: Mapping[str, Any]) -> str:
    text = f"{100 * entry['value']:.0f} %"
    ci = entry.get("ci95")
    if ci:
        text += f" (95 % CI {100 * ci[0]:.0f}-{100 * ci[1]:.0f})"
    return text


def sensitivity_both_ways_text(name: str, figures: Mapping[str, Any]) -> str:
    """One plain sentence about a class's sensitivity both ways, with the 95 % intervals.

    E.g. ``"COVID-19 found: 99 % of labelled films; 81 % of all 241 COVID-19 films, counting
    44 refused as not found"``.

    Args:
        name: The class.
        figures: Its ``refusal_figures(...)["per_class"][name]`` entry.
    """
    labelled = figures.get("sensitivity_labelled")
    everything = figures.get("sensitivity_counting_refused")
    if everything is None:
        return f"{name} found: no {name} films"
    first = (f"{_percent(labelled)} of labelled films" if labelled is not None
             else "no labelled films")
    text = (f"{name} found: {first}; {_percent(everything)} of all {figures['films']} "
            f"{name} films, counting {figures['refused']} refused as not found")
    if figures.get("cautioned"):
        text += f" ({figures['cautioned']} labelled with a caution)"
    return text


def refusal_lines(refusals: Mapping[str, Any] | None) -> list[str]:
    """A heading and one :func:`sensitivity_both_ways_text` per class, for text and PDF.

    Empty when ``refusals`` is None (records stored before these figures existed).
    """
    if not refusals:
        return []
    return ["Found per class: over the films the app labelled, and over all films of the "
            "class counting a refused film as not found (what a clinic experiences)",
            *(sensitivity_both_ways_text(name, figures)
              for name, figures in refusals["per_class"].items())]


def cautioned_text(counts: Mapping[str, Any]) -> str:
    """How many labelled films carried a caution, by true label (a validation's counts)."""
    by_class = counts.get("cautioned_by_class") or {}
    detail = (": " + ", ".join(f"{name} {count}" for name, count in sorted(by_class.items()))
              if by_class else "")
    return (f"{counts.get('cautioned', 0)} of the measured films were labelled with a caution "
            f"(unusual film: read with care){detail}.")
