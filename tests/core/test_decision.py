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
