"""Threshold curves: each point is the app's own decision at that threshold, measured as the
metrics module measures it; the section survives JSON."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from desktop_app.core.metrics.decisions import decision_predictions
from desktop_app.core.metrics.intervals import wilson_interval
from desktop_app.core.metrics.populations import Resampler, population_metrics
from desktop_app.core.metrics.threshold_curves import (
    CURVE_GRID,
    ThresholdCurve,
    age_group_populations,
    curves_from_section,
    curves_section,
    threshold_curve,
    with_threshold,
)

CLASSES = ["Normal", "Pneumonia", "COVID-19"]
NORMAL, PNEUMONIA, COVID = range(3)
#: Like the bundled card: strict, adults with their own (much higher) Pneumonia threshold.
DECISION = {
    "priority": ["COVID-19", "Pneumonia"],
    "thresholds": {"COVID-19": 0.34, "Pneumonia": 0.35},
    "min_confidence": 0.55,
    "strict_thresholds": True,
    "by_age_group": {"adult": {"thresholds": {"COVID-19": 0.34, "Pneumonia": 0.71}},
                     "child": {"thresholds": {"COVID-19": 0.4, "Pneumonia": 0.35}}},
}


def _films(n: int = 400, seed: int = 3) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Probabilities that rank the truth first more often than not, ages and patients."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), labels] += 1.3
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    groups = rng.choice(["adult", "child", "unknown"], n, p=[0.5, 0.4, 0.1]).tolist()
    patients = [f"p{i // 3}" for i in range(n)]  # three films per patient
    return probabilities, labels, groups, patients


def _rates_at(probabilities: np.ndarray, labels: np.ndarray, groups: list[str],
              decision: dict, finding: str, threshold: float, rows: np.ndarray,
              negatives: np.ndarray) -> tuple[float, float]:
    """Found and wrongly called, from decision_predictions with the threshold set by hand."""
    spec = copy.deepcopy(decision)
    spec["thresholds"][finding] = threshold
    for entry in spec.get("by_age_group", {}).values():
        entry["thresholds"][finding] = threshold
    chosen, _ = decision_predictions(probabilities, CLASSES, spec, groups)
    column = CLASSES.index(finding)
    positive = rows & (labels == column)
    return (float((chosen[positive] == column).mean()),
            float((chosen[rows & negatives] == column).mean()))


@pytest.mark.parametrize("finding", ["COVID-19", "Pneumonia"])
@pytest.mark.parametrize("strict", [True, False])
def test_points_agree_with_decision_predictions_at_each_threshold(finding: str,
                                                                  strict: bool) -> None:
    probabilities, labels, groups, _ = _films()
    decision = {**copy.deepcopy(DECISION), "strict_thresholds": strict}
    adults = np.array(groups) == "adult"
    curve = threshold_curve(probabilities, labels, CLASSES, decision, finding,
                            age_groups=groups, rows=adults, population="adult")
    negatives = labels == NORMAL if finding == "Pneumonia" else labels != COVID
    for threshold in (0.05, 0.2, 0.34, 0.5, 0.71, 0.9, 0.99):
        point = curve.nearest(threshold)
        assert point.threshold == pytest.approx(threshold)
        found, called = _rates_at(probabilities, labels, groups, decision, finding, threshold,
                                  adults, negatives)
        assert point.sensitivity["value"] == pytest.approx(found)
        assert point.false_rate["value"] == pytest.approx(called)
        assert point.sensitivity["n"] == int((adults & (labels == CLASSES.index(finding))).sum())
    # The adults' own threshold is the operating point, and it is on the curve.
    expected = DECISION["by_age_group"]["adult"]["thresholds"][finding]
    assert curve.operating_threshold == expected
    assert curve.operating_point.threshold == expected
    thresholds = [point.threshold for point in curve.points]
    assert thresholds == sorted(thresholds)
    assert set(CURVE_GRID) <= set(thresholds)


def test_operating_point_equals_the_population_figures_interval_and_all() -> None:
    probabilities, labels, groups, patients = _films()
    resampler = Resampler(len(labels), rounds=200, seed=5, patients=patients)
    figures = population_metrics(probabilities, labels, CLASSES, DECISION,
                                 sources=["site"] * len(labels), age_groups=groups,
                                 patients=patients, resampler=resampler)
    curve = threshold_curve(probabilities, labels, CLASSES, DECISION, "COVID-19",
                            age_groups=groups, rows=np.array(groups) == "adult",
                            resampler=resampler)
    point = curve.operating_point
    # Same draws, same rows, same statistic: the very same figure, interval included.
    assert point.sensitivity == figures["key_figures"]["adult_covid_sensitivity"]
    assert point.false_rate == figures["key_figures"]["adult_false_covid_rate"]
    assert "bootstrap" in curve.interval


def test_without_resampler_intervals_are_wilson_and_refused_films_are_never_labelled() -> None:
    probabilities, labels, groups, _ = _films(120)
    answered = np.arange(len(labels)) % 4 != 0  # every fourth film refused by the gate
    curve = threshold_curve(probabilities, labels, CLASSES, DECISION, "COVID-19",
                            age_groups=groups, answered=answered)
    point = curve.nearest(0.01)
    covid = labels == COVID
    chosen, _ = decision_predictions(probabilities, CLASSES,
                                     with_threshold(DECISION, "COVID-19", 0.01), groups)
    hits = int(((chosen == COVID) & answered & covid).sum())
    assert point.sensitivity["n"] == int(covid.sum())  # refused films still count
    assert point.sensitivity["value"] == pytest.approx(hits / covid.sum())
    assert point.sensitivity["ci95"] == list(wilson_interval(hits, int(covid.sum())))
    assert point.sensitivity["value"] < 1.0  # a refused COVID-19 film is never found
    assert curve.interval == "Wilson 95 %"


def test_one_decision_per_film_as_a_sites_folds_give() -> None:
    probabilities, labels, groups, _ = _films(150)
    other = with_threshold(DECISION, "Pneumonia", 0.6)
    per_film = [DECISION if i % 2 else other for i in range(len(labels))]
    curve = threshold_curve(probabilities, labels, CLASSES, per_film, "COVID-19",
                            age_groups=groups)
    for threshold in (0.2, 0.5):
        chosen = np.array([
            CLASSES.index(_decide(probabilities[i], with_threshold(per_film[i], "COVID-19",
                                                                   threshold), groups[i]))
            for i in range(len(labels))])
        point = curve.nearest(threshold)
        assert point.sensitivity["value"] == pytest.approx(
            float((chosen[labels == COVID] == COVID).mean()))
        assert point.false_rate["value"] == pytest.approx(
            float((chosen[labels != COVID] == COVID).mean()))
    # Children are decided at 0.4, adults at 0.34: no one operating threshold for everyone,
    # one for the adults.
    assert curve.operating_threshold is None
    adults = threshold_curve(probabilities, labels, CLASSES, per_film, "COVID-19",
                             age_groups=groups, rows=np.array(groups) == "adult")
    assert adults.operating_threshold == 0.34


def _decide(row: np.ndarray, spec: dict, group: str) -> str:
    from desktop_app.core.decision import decide

    return decide(row, CLASSES, spec, age_group=group).label


def test_section_round_trips_through_json() -> None:
    probabilities, labels, groups, patients = _films(90)
    resampler = Resampler(len(labels), rounds=50, seed=0, patients=patients)
    section = curves_section(probabilities, labels, CLASSES, DECISION,
                             age_group_populations(groups, with_all=True),
                             measured_on="generated films", resampler=resampler)
    assert list(section["populations"]) == ["adult", "child", "unknown", "all"]
    text = json.dumps(section)
    sets = curves_from_section(json.loads(text))
    assert sets["adult"].words == "Adults"
    assert sets["adult"].films == groups.count("adult")
    for key, population in section["populations"].items():
        for finding, data in population["curves"].items():
            curve = ThresholdCurve.from_dict(data)
            assert curve == sets[key].curves[finding]
            assert curve.to_dict() == data
    # Decided as if no age were known: the thresholds for all ages.
    assert sets["all"].curves["Pneumonia"].operating_threshold == 0.35
    assert sets["adult"].curves["Pneumonia"].operating_threshold == 0.71
    assert curves_from_section(None) == {}


def test_bad_input_is_refused_with_the_value() -> None:
    probabilities, labels, _, _ = _films(20)
    with pytest.raises(ValueError, match=r"'Normal'.*findings: \['COVID-19', 'Pneumonia'\]"):
        threshold_curve(probabilities, labels, CLASSES, DECISION, "Normal")
    curve = threshold_curve(probabilities, labels, CLASSES, DECISION, "COVID-19").to_dict()
    curve["points"][3]["threshold"] = 1.5
    with pytest.raises(ValueError, match=r"1\.5"):
        ThresholdCurve.from_dict(curve)
    with pytest.raises(ValueError, match="format 1"):
        curves_from_section({"format": 99, "populations": {}})
