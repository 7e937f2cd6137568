"""The operating-point rule for unseen sites: strict thresholds, anchors, age groups."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.core.decision import decide, validate_decision_spec
from model_training.calibration import (
    choose_decision,
    decision_for_config,
    threshold_for_false_positive_rate,
)
from model_training.config import TrainingConfig

CLASSES = ["Normal", "Pneumonia", "COVID-19"]


def test_false_positive_threshold_by_hand() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.9, 0.95])
    negatives = np.array([True, True, True, True, True, False, False])
    # 5 negatives; 20 % may reach the threshold -> one (0.5) may, 0.4 must stay below.
    assert threshold_for_false_positive_rate(scores, negatives, 0.2) == pytest.approx(0.45)
    # None may reach it: half-way between the highest negative and 1.
    assert threshold_for_false_positive_rate(scores, negatives, 0.0) == pytest.approx(0.75)
    # Ties with the highest negative that must stay below stay below too.
    tied = np.array([0.3, 0.3, 0.3, 0.8])
    threshold = threshold_for_false_positive_rate(tied, np.array([1, 1, 1, 0], bool), 0.34)
    assert (tied[:3] >= threshold).sum() <= 1


def _population(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Validation-like data: adult non-COVID films score high on COVID-19, children low."""
    rng = np.random.default_rng(seed)
    rows, labels, groups = [], [], []
    for label, group, covid_mean, count in ((2, "adult", 0.7, 60), (0, "adult", 0.35, 60),
                                            (1, "adult", 0.35, 60), (0, "child", 0.05, 80),
                                            (1, "child", 0.05, 80)):
        for _ in range(count):
            covid = float(np.clip(rng.normal(covid_mean, 0.15), 0.01, 0.97))
            pneumonia = (1 - covid) * (0.75 if label == 1 else 0.3)
            rows.append([1 - covid - pneumonia, pneumonia, covid])
            labels.append(label)
            groups.append(group)
    return np.array(rows), np.array(labels), groups


def _false_covid(spec: dict, probs: np.ndarray, labels: np.ndarray, groups: list[str],
                 group: str, *, ages_known: bool) -> float:
    rows = [i for i in range(len(labels)) if groups[i] == group and labels[i] != 2]
    return float(np.mean([decide(probs[i], CLASSES, spec,
                                 groups[i] if ages_known else None).label == "COVID-19"
                          for i in rows]))


def test_anchor_caps_adult_false_covid_where_sensitivity_alone_does_not() -> None:
    probs, labels, groups = _population()
    plain = choose_decision(probs, labels, CLASSES, target_sensitivity=0.9)
    anchored = choose_decision(probs, labels, CLASSES, target_sensitivity=0.9,
                               age_groups=groups, max_false_covid=0.10)
    validate_decision_spec(anchored, CLASSES)
    assert anchored["strict_thresholds"] is True
    assert anchored["thresholds"]["COVID-19"] > plain["thresholds"]["COVID-19"]
    assert _false_covid(plain, probs, labels, groups, "adult", ages_known=False) > 0.10
    assert _false_covid(anchored, probs, labels, groups, "adult", ages_known=False) <= 0.10
    assert anchored["operating_point"]["max_adult_false_covid"] == 0.10


def test_age_groups_get_their_own_thresholds() -> None:
    probs, labels, groups = _population(1)
    spec = choose_decision(probs, labels, CLASSES, target_sensitivity=0.9, age_groups=groups,
                           max_false_covid=0.10, max_false_pneumonia=0.15,
                           child_max_false_covid=0.01, by_age_group=True,
                           pneumonia_anchor_unknown_age=False)
    validate_decision_spec(spec, CLASSES)
    adult, child = spec["by_age_group"]["adult"], spec["by_age_group"]["child"]
    # Children: the overall Pneumonia threshold, COVID-19 at least as strict as overall.
    assert child["thresholds"]["Pneumonia"] == spec["thresholds"]["Pneumonia"]
    assert child["thresholds"]["COVID-19"] >= spec["thresholds"]["COVID-19"]
    assert _false_covid(spec, probs, labels, groups, "child", ages_known=True) <= 0.01
    # Adults: the Pneumonia anchor applies to them only (unknown ages keep the target).
    adult_normals = [i for i in range(len(labels)) if groups[i] == "adult" and labels[i] == 0]
    called_pneumonia = np.mean([decide(probs[i], CLASSES, spec, "adult").label == "Pneumonia"
                                for i in adult_normals])
    assert called_pneumonia <= 0.15
    assert adult["thresholds"]["COVID-19"] > 0
    without = choose_decision(probs, labels, CLASSES, target_sensitivity=0.9,
                              age_groups=groups, max_false_covid=0.10)
    assert spec["thresholds"] == without["thresholds"]


def test_small_age_groups_get_no_thresholds_of_their_own() -> None:
    probs, labels, _ = _population(2)
    few = ["child" if i < 10 else "adult" for i in range(len(labels))]
    spec = choose_decision(probs, labels, CLASSES, target_sensitivity=0.9, age_groups=few,
                           max_false_covid=0.1, by_age_group=True)
    assert set(spec.get("by_age_group", {})) == {"adult"}


def test_decision_for_config_follows_the_training_config() -> None:
    probs, labels, groups = _population(3)
    # An anchor that binds on these films (today's 15 % does not: 90 % sensitivity is stricter).
    config = TrainingConfig(max_false_covid=0.10).to_dict()
    spec = decision_for_config(probs, labels, CLASSES, groups, config)
    assert spec["operating_point"]["max_adult_false_covid"] == config["max_false_covid"]
    assert set(spec["by_age_group"]) == {"adult", "child"}
    # A card of 2026-12-01 has no anchor fields: it gets today's defaults.
    today = decision_for_config(probs, labels, CLASSES, groups, TrainingConfig().to_dict())
    old = {k: v for k, v in config.items()
           if k not in ("max_false_covid", "max_false_pneumonia", "child_max_false_covid",
                        "age_group_thresholds", "adult_pneumonia", "child_pneumonia")}
    assert decision_for_config(probs, labels, CLASSES, groups, old)["thresholds"] == \
        today["thresholds"]
    # Switched off: 90 % sensitivity only, no age groups.
    off = {**config, "max_false_covid": None, "max_false_pneumonia": None,
           "child_max_false_covid": None, "age_group_thresholds": False}
    plain = decision_for_config(probs, labels, CLASSES, groups, off)
    assert "by_age_group" not in plain
    assert plain["thresholds"]["COVID-19"] < spec["thresholds"]["COVID-19"]


@pytest.mark.parametrize("field", ["max_false_covid", "max_false_pneumonia",
                                   "child_max_false_covid"])
def test_anchor_settings_are_validated(field: str) -> None:
    with pytest.raises(ValueError, match=r"1\.5"):
        TrainingConfig(**{field: 1.5})


def test_balanced_threshold_by_hand() -> None:
    from desktop_app.core.metrics.thresholds import threshold_for_balance

    # Positives 0.4 .. 0.9, negatives 0.1 .. 0.6 (overlapping at 0.4 .. 0.6): no threshold
    # makes both rates equal; the best ones are within one film (1/6) of each other.
    scores = np.array([0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    positive = np.array([True] * 6 + [False] * 6)
    threshold = threshold_for_balance(scores, positive, ~positive)
    sens = (scores[positive] >= threshold).mean()
    spec = (scores[~positive] < threshold).mean()
    assert abs(sens - spec) <= 1 / 6 + 1e-9
    # Separable scores: everything found and everything spared.
    separable = np.array([0.8, 0.9, 0.1, 0.2])
    split = np.array([True, True, False, False])
    threshold = threshold_for_balance(separable, split, ~split)
    assert 0.2 < threshold <= 0.8
    with pytest.raises(ValueError, match="positives and negatives"):
        threshold_for_balance(separable, np.ones(4, bool), np.zeros(4, bool))


def _pneumonia_population(seed: int = 3) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Adult pneumonias score only a little above adult normals; children far apart."""
    rng = np.random.default_rng(seed)
    rows, labels, groups = [], [], []
    for label, group, mean, count in ((0, "adult", 0.30, 80), (1, "adult", 0.40, 80),
                                      (0, "child", 0.10, 80), (1, "child", 0.85, 160),
                                      (2, "adult", 0.10, 60)):
        for _ in range(count):
            pneumonia = float(np.clip(rng.normal(mean, 0.12), 0.01, 0.97))
            covid = 0.85 - pneumonia * 0.5 if label == 2 else 0.03
            covid = min(covid, 0.98 - pneumonia)
            rows.append([1 - covid - pneumonia, pneumonia, covid])
            labels.append(label)
            groups.append(group)
    return np.array(rows), np.array(labels), groups


def _adult_rates(spec: dict, probs: np.ndarray, labels: np.ndarray,
                 groups: list[str]) -> tuple[float, float]:
    """(adult pneumonias labelled Pneumonia, adult normals labelled Normal), ages known."""
    found = [decide(probs[i], CLASSES, spec, "adult").label == "Pneumonia"
             for i in range(len(labels)) if groups[i] == "adult" and labels[i] == 1]
    spared = [decide(probs[i], CLASSES, spec, "adult").label == "Normal"
              for i in range(len(labels)) if groups[i] == "adult" and labels[i] == 0]
    return float(np.mean(found)), float(np.mean(spared))


def test_adult_pneumonia_rules() -> None:
    probs, labels, groups = _pneumonia_population()
    common = dict(target_sensitivity=0.9, age_groups=groups, max_false_covid=0.10,
                  max_false_pneumonia=0.15, child_max_false_covid=0.01, by_age_group=True,
                  pneumonia_anchor_unknown_age=False)
    specs = {rule: choose_decision(probs, labels, CLASSES, adult_pneumonia=rule, **common)
             for rule in ("anchor", "balanced", "overall")}
    for spec in specs.values():
        validate_decision_spec(spec, CLASSES)
    adult = {rule: spec["by_age_group"]["adult"]["thresholds"]["Pneumonia"]
             for rule, spec in specs.items()}
    assert adult["overall"] == specs["overall"]["thresholds"]["Pneumonia"]
    # The anchor spares 85 % of adult normals and misses pneumonias; balanced evens them out.
    found, spared = _adult_rates(specs["anchor"], probs, labels, groups)
    assert spared >= 0.85
    assert found < spared - 0.2
    found, spared = _adult_rates(specs["balanced"], probs, labels, groups)
    assert abs(found - spared) <= 0.05
    assert specs["balanced"]["operating_point"]["adult_pneumonia"] == "balanced"
    assert "max_adult_false_pneumonia" not in specs["balanced"]["operating_point"]
    assert specs["anchor"]["operating_point"]["max_adult_false_pneumonia"] == 0.15
    with pytest.raises(ValueError, match="adult_pneumonia"):
        choose_decision(probs, labels, CLASSES, adult_pneumonia="median", **common)


def test_children_most_accurate_pneumonia_threshold() -> None:
    probs, labels, groups = _pneumonia_population(4)
    common = dict(target_sensitivity=0.9, age_groups=groups, max_false_covid=0.10,
                  child_max_false_covid=0.01, by_age_group=True,
                  pneumonia_anchor_unknown_age=False, adult_pneumonia="balanced")
    overall = choose_decision(probs, labels, CLASSES, **common)
    best = choose_decision(probs, labels, CLASSES, child_pneumonia="accuracy", **common)
    children = [i for i in range(len(labels)) if groups[i] == "child"]

    def correct(spec: dict) -> int:
        return sum(decide(probs[i], CLASSES, spec, "child").label == CLASSES[labels[i]]
                   for i in children)

    assert correct(best) >= correct(overall)
    # No other threshold does better on those films (the rule's own promise).
    for value in np.linspace(0.05, 0.95, 19):
        trial = {**best, "by_age_group": {**best["by_age_group"], "child": {"thresholds": {
            **best["by_age_group"]["child"]["thresholds"], "Pneumonia": float(value)}}}}
        assert correct(trial) <= correct(best)


def test_config_carries_the_pneumonia_rules() -> None:
    config = TrainingConfig(adult_pneumonia="balanced", child_pneumonia="accuracy")
    assert TrainingConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="adult_pneumonia"):
        TrainingConfig(adult_pneumonia="median")
    with pytest.raises(ValueError, match="child_pneumonia"):
        TrainingConfig(child_pneumonia="balanced")
    probs, labels, groups = _pneumonia_population()
    spec = decision_for_config(probs, labels, CLASSES, groups, config.to_dict())
    assert spec["operating_point"]["adult_pneumonia"] == "balanced"
    assert spec["operating_point"]["child_pneumonia"] == "accuracy"
