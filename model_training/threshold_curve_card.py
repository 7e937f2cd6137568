"""The model's threshold curves on its TEST split, for the card (``metrics.test.threshold_curves``).

A card states the operating point's figures; a clinic choosing its own point (site
calibration, ``calibrate --threshold``) wants the whole trade-off: for each finding, how many
of its TEST films each threshold finds and how many films without it it calls, per population
(adults and children at their own age group's thresholds; every film as if its age were
unknown, the thresholds a PNG without an age gets), with the card's operating point on every
curve. The curves come from the core's one function
(:func:`desktop_app.core.metrics.threshold_curves.curves_section`) on the calibrated TEST
probabilities, with the patient-bootstrap draws the card's population figures use, so a
curve's operating point carries the very figure and interval of ``metrics.test.populations``.

Written where the card's TEST evaluation is written: at export
(:func:`model_training.finalize.evaluate_test`) and when ``python -m model_training decide``
re-decides a bundle (:mod:`model_training.redecide`), so a re-decided card's curves show its
new operating point.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["SECTION_KEY", "record_threshold_curves", "threshold_curves_section"]

#: Where the section lives in ``metrics.test``.
SECTION_KEY = "threshold_curves"


def threshold_curves_section(probabilities: np.ndarray, labels: np.ndarray,
                             classes: Sequence[str], decision: dict[str, Any], *,
                             age_groups: Sequence[str] | None, patients: Sequence[str] | None,
                             bootstrap_rounds: int, seed: int) -> dict[str, Any]:
    """Each finding's curve per population (see module docs).

    Args:
        probabilities: ``(n, classes)`` calibrated TEST probabilities.
        labels: True class index per film.
        classes: Class names.
        decision: The card's ``decision`` section.
        age_groups: ``adult``/``child``/``unknown`` per film (None: not known).
        patients: Patient id per film, for the bootstrap (None: by film).
        bootstrap_rounds: Resamples for the 95 % intervals (as the card's populations).
        seed: Bootstrap seed (as the card's populations: the same draws).

    Returns:
        The JSON section.
    """
    from desktop_app.core.metrics.populations import Resampler
    from desktop_app.core.metrics.threshold_curves import (
        POPULATION_WORDS,
        CurvePopulation,
        age_group_populations,
        curves_section,
    )

    labels = np.asarray(labels, dtype=np.int64)
    resampler = Resampler(len(labels), rounds=bootstrap_rounds, seed=seed, patients=patients)
    if age_groups is None:  # ages not known: every film at the thresholds for all ages
        populations = [CurvePopulation("all", POPULATION_WORDS["all"],
                                       np.ones(len(labels), dtype=bool), None)]
    else:
        populations = age_group_populations(age_groups, with_all=True)
    return curves_section(probabilities, labels, classes, decision, populations,
                          measured_on="the TEST split (calibrated probabilities)",
                          resampler=resampler)


def record_threshold_curves(test_metrics: dict[str, Any], evaluation: Any, rows: Any,
                            classes: Sequence[str], temperature: float,
                            decision: dict[str, Any], *, bootstrap_rounds: int,
                            seed: int) -> dict[str, Any]:
    """Put the TEST split's curves into ``test_metrics`` (the card's ``metrics.test``).

    Args:
        test_metrics: The card's ``metrics.test`` (gains :data:`SECTION_KEY`).
        evaluation: The TEST :class:`~model_training.evaluation.EvaluationResult` (its logits
            and labels).
        rows: The TEST rows of the dataset table, in the evaluation's order.
        classes: Class names.
        temperature: The card's temperature (calibrated probabilities).
        decision: The card's ``decision`` section.
        bootstrap_rounds: Resamples, as the TEST evaluation's.
        seed: Bootstrap seed, as the TEST evaluation's.

    Returns:
        The section written.
    """
    from model_training.evaluation import population_columns
    from model_training.metrics import softmax

    columns = population_columns(rows)
    section = threshold_curves_section(
        softmax(evaluation.logits, temperature), evaluation.labels, classes, decision,
        age_groups=columns.get("age_groups"), patients=columns.get("patients"),
        bootstrap_rounds=bootstrap_rounds, seed=seed)
    test_metrics[SECTION_KEY] = section
    return section
