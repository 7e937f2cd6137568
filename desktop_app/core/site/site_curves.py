"""A site's threshold curves: what each finding's threshold would give on the site's films.

Site calibration chooses each finding's threshold from targets typed in as numbers; a
clinician would rather see the trade-off and choose the point (the calibration dialog, and
``calibrate --threshold``). The curves are the site's *cross-validated* figures as the
threshold moves: every film answered by the gate chosen without its patient's fold and by its
fold's decision with the finding's threshold moved (for every age group), so a point on the
curve is exactly what the "after" column says once that threshold is set by hand. Films the
gate refuses count as not found and never as wrongly called, as in the before/after table.
Intervals are Wilson's, as the table's.

The section (``site_calibration.threshold_curves`` in the calibrated card) has the shape of
every other curves section (:func:`desktop_app.core.metrics.threshold_curves.curves_section`,
one population, ``all``) plus, per finding, the targets drawn as lines and the chosen point
(the after column's figures, whichever way the threshold was set).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from desktop_app.core.metrics.threshold_curves import CurvePopulation, curves_section, findings_of
from desktop_app.core.site.site_thresholds import ThresholdSettings

__all__ = ["FINDING_FIGURES", "site_curves_section"]

#: Per finding, the before/after table's figures a curve's point equals: (found, wrongly called).
FINDING_FIGURES = {"COVID-19": ("covid_found", "non_covid_as_covid"),
                   "Pneumonia": ("pneumonia_found", "normal_as_pneumonia")}


def site_curves_section(
    probabilities: np.ndarray,
    truths: Sequence[str | None],
    age_groups: Sequence[str],
    answered: np.ndarray,
    decisions: Sequence[Mapping[str, Any]],
    decision: Mapping[str, Any],
    classes: Sequence[str],
    settings: ThresholdSettings,
    after: Mapping[str, Any],
    *,
    cross_validated: bool,
) -> dict[str, Any]:
    """The site's curves, targets and chosen points (see module docs).

    Args:
        probabilities: ``(n, classes)`` of the readable films.
        truths: Each film's label (``None``: unlabelled, counted nowhere).
        age_groups: Each film's age group, as the app decides it.
        answered: False for films the gate chosen without their fold refuses.
        decisions: Each film's decision after calibration (its fold's).
        decision: The calibrated bundle's decision (the chosen thresholds).
        classes: The model's classes.
        settings: The targets (drawn as lines) and the thresholds set by hand.
        after: The after figures (:func:`~desktop_app.core.site.site_figures.site_figures`).
        cross_validated: The decisions are the folds' (else the films' own).
    """
    index = {name: i for i, name in enumerate(classes)}
    labels = [index.get(truth, -1) if truth is not None else -1 for truth in truths]
    measured_on = ("the site's films, cross-validated by patient: each film answered by the "
                   "gate and thresholds chosen without its patient, the finding's threshold "
                   "set for every age group" if cross_validated else
                   "the site's films themselves (too few patients to cross-validate)")
    population = CurvePopulation("all", "the site's films", np.ones(len(labels), dtype=bool),
                                 list(age_groups))
    maxima = {"COVID-19": settings.max_false_covid, "Pneumonia": settings.max_false_pneumonia}
    findings = findings_of(decision, classes)
    scope = after.get("all", {})
    chosen = {}
    for finding in findings:
        found, called = FINDING_FIGURES.get(finding, (None, None))
        chosen[finding] = {
            "threshold": float(decision["thresholds"][finding]),
            "by_age_group": {group: float(entry["thresholds"][finding])
                             for group, entry in (decision.get("by_age_group") or {}).items()
                             if finding in entry["thresholds"]},
            "set_by": "hand" if finding in settings.fixed else "targets",
            "sensitivity": scope.get(found) if found else None,
            "false_rate": scope.get(called) if called else None,
        }
    extra = {"targets": {finding: {"sensitivity": settings.target_sensitivity,
                                   "max_false_rate": maxima.get(finding)}
                         for finding in findings},
             "chosen": chosen}
    if not any(label >= 0 for label in labels):
        return {**curves_section(probabilities, labels, classes, decision, [],
                                 measured_on=measured_on), **extra}
    return curves_section(probabilities, labels, classes, decisions, [population],
                          measured_on=measured_on, answered=answered, extra=extra)
