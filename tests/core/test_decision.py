from __future__ import annotations

import pytest

from desktop_app.core.decision import decide, validate_decision_spec

CLASSES = ["Normal", "Pneumonia", "COVID-19"]
SPEC = {"priority": ["COVID-19", "Pneumonia"], "thresholds": {"COVID-19": 0.3},
        "min_confidence": 0.55}


def test_threshold_reached_wins_over_argmax() -> None:
    decision = decide([0.5, 0.15, 0.35], CLASSES, SPEC)
    assert decision.label == "COVID-19"
    assert decision.uncertain  # 35 % is below the 55 % confidence bar
    assert "35%" in decision.reason


def test_argmax_when_no_threshold_reached() -> None:
    decision = decide([0.1, 0.8, 0.1], CLASSES, SPEC)
    assert decision.label == "Pneumonia"
    assert not decision.uncertain


def test_uncertain_when_nothing_is_confidently_ahead() -> None:
    decision = decide([0.45, 0.4, 0.15], CLASSES, SPEC)
    assert decision.label == "Normal"
    assert decision.uncertain
    assert "below" in decision.reason


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"priority": [], "thresholds": {}}, "min_confidence"),
        ({"priority": ["Flu"], "thresholds": {}, "min_confidence": 0.5}, "Flu"),
        ({"priority": [], "thresholds": {"Normal": 1.5}, "min_confidence": 0.5}, "1.5"),
        ({"priority": [], "thresholds": {}, "min_confidence": 1.0}, "1.0"),
    ],
)
def test_invalid_specs_are_refused(spec: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_decision_spec(spec, CLASSES)


STRICT = {"priority": ["COVID-19", "Pneumonia"],
          "thresholds": {"COVID-19": 0.6, "Pneumonia": 0.4},
          "min_confidence": 0.55, "strict_thresholds": True}


def test_strict_thresholds_never_answer_a_finding_below_its_threshold() -> None:
    # COVID-19 is the most probable class but below its 60 % threshold: the old rule would
    # still answer COVID-19 by argmax; the strict rule falls to the class without threshold.
    probabilities = [0.3, 0.2, 0.5]
    assert decide(probabilities, CLASSES, {**STRICT, "strict_thresholds": False}).label == \
        "COVID-19"
    decision = decide(probabilities, CLASSES, STRICT)
    assert decision.label == "Normal"
    assert decision.uncertain  # 30 % Normal is not a confident answer, and it says so
    assert "COVID-19 50% < 60%" in decision.reason
    assert "Pneumonia 20% < 40%" in decision.reason


def test_strict_thresholds_keep_the_priority_order() -> None:
    assert decide([0.1, 0.45, 0.45], CLASSES, STRICT).label == "Pneumonia"
    assert decide([0.05, 0.3, 0.65], CLASSES, STRICT).label == "COVID-19"
    confident_normal = decide([0.8, 0.15, 0.05], CLASSES, STRICT)
    assert confident_normal.label == "Normal"
    assert not confident_normal.uncertain


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({**STRICT, "strict_thresholds": "yes"}, "'yes'"),
        ({**STRICT, "thresholds": {"COVID-19": 0.6, "Pneumonia": 0.4, "Normal": 0.2}},
         "fall back"),
    ],
)
def test_invalid_strict_settings_are_refused(spec: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_decision_spec(spec, CLASSES)

AGE_SPEC = {**SPEC, "thresholds": {"COVID-19": 0.3, "Pneumonia": 0.5},
            "by_age_group": {"child": {"thresholds": {"COVID-19": 0.6}},
                             "adult": {"thresholds": {"COVID-19": 0.42}}}}


def test_each_age_group_gets_its_own_thresholds_and_the_reason_says_which() -> None:
    probabilities = [0.3, 0.25, 0.45]
    adult = decide(probabilities, CLASSES, AGE_SPEC, age_group="adult")
    assert adult.label == "COVID-19"
    assert adult.age_group == "adult"
    assert "reaches the operating threshold for adults 42%" in adult.reason
    child = decide(probabilities, CLASSES, AGE_SPEC, age_group="child")
    assert child.label == "COVID-19"  # most probable, but 45 % is under the children's 60 %
    assert child.age_group == "child"
    assert child.reason.endswith("; no finding reaches its threshold for children")
    # The child group names no Pneumonia threshold: the top-level one still applies.
    assert decide([0.2, 0.55, 0.25], CLASSES, AGE_SPEC, age_group="child").label == "Pneumonia"


@pytest.mark.parametrize("age_group", [None, "unknown"])
def test_unknown_age_uses_the_top_level_thresholds(age_group: str | None) -> None:
    decision = decide([0.5, 0.15, 0.35], CLASSES, AGE_SPEC, age_group=age_group)
    assert decision.label == "COVID-19"  # 35 % reaches the top-level 30 %
    assert decision.age_group is None
    assert "threshold 30% (age unknown: the threshold for all ages)" in decision.reason


def test_cards_without_age_groups_decide_and_word_it_as_before() -> None:
    for group in (None, "adult", "child"):
        decision = decide([0.5, 0.15, 0.35], CLASSES, SPEC, age_group=group)
        assert decision.reason == ("COVID-19 probability 35% reaches the operating threshold "
                                   "30%, but is below 55%: treat as uncertain")
        assert decision.age_group is None
    validate_decision_spec(AGE_SPEC, CLASSES)


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ({"teen": {"thresholds": {}}}, "'teen'"),
        ({"adult": {"thresholds": {"Flu": 0.5}}}, "Flu"),
        ({"adult": {"thresholds": {"COVID-19": 0.0}}}, "0.0"),
        ({"adult": {"thresholds": {"COVID-19": "high"}}}, "'high'"),
        ({"adult": {"thresholds": {}, "min_confidence": 0.3}}, "min_confidence"),
        ({"adult": 0.4}, "0.4"),
        (["adult"], r"\['adult'\]"),
    ],
)
def test_invalid_age_group_thresholds_are_refused(groups: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_decision_spec({**SPEC, "by_age_group": groups}, CLASSES)
