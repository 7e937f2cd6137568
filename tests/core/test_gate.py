"""The combined gate: which check gives the reason, and how the view check words it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.gate import Gate, OodGate, OodVerdict, ViewCheck, load_view_model
from desktop_app.core.gate.view import VIEW_CLASSES
from desktop_app.core.model.model_bundle import load_bundle

PASS = OodVerdict(False, None)


@pytest.fixture(scope="module")
def view_check() -> ViewCheck:
    return ViewCheck(load_view_model())


def _probabilities(**values: float) -> np.ndarray:
    return np.array([[values.get(name, 0.0) for name in VIEW_CLASSES]])


def test_the_first_check_that_fires_gives_the_reason_and_the_distance_is_kept() -> None:
    image = OodVerdict(True, "colour image")
    view = OodVerdict(True, "lateral view: ...")
    appearance = OodVerdict(True, "layout")
    features = OodVerdict(True, "feature distance", 42.0)
    assert Gate.combine(image, view, appearance, features) == OodVerdict(True, "colour image",
                                                                          42.0)
    assert Gate.combine(PASS, view, appearance, features).reason == "lateral view: ..."
    assert Gate.combine(PASS, PASS, appearance, features).reason == "layout"
    assert Gate.combine(PASS, PASS, PASS, features) == features
    assert Gate.combine(PASS, PASS, PASS, OodVerdict(False, None, 3.0)) == OodVerdict(
        False, None, 3.0)


@pytest.mark.parametrize(("probabilities", "start"), [
    (_probabilities(frontal=0.1, lateral=0.8, rotated=0.05, other=0.05),
     "lateral view: LungLens reads frontal PA/AP films only"),
    (_probabilities(frontal=0.2, lateral=0.1, rotated=0.6, other=0.1), "rotated film"),
    (_probabilities(frontal=0.05, other=0.95), "not a chest film"),
])
def test_the_view_check_names_the_most_likely_wrong_view(
    view_check: ViewCheck, probabilities: np.ndarray, start: str
) -> None:
    (verdict,) = view_check.verdicts(probabilities)
    assert verdict.out_of_distribution
    assert verdict.reason.startswith(start)
    assert f"frontal {probabilities[0, 0]:.0%}" in verdict.reason


def test_a_frontal_answer_at_or_above_the_threshold_passes(view_check: ViewCheck) -> None:
    limit = view_check.min_frontal_probability
    rest = (1.0 - limit) / 3
    at_limit = _probabilities(frontal=limit, lateral=rest, rotated=rest, other=rest)
    below = _probabilities(frontal=limit - 0.01, lateral=rest + 0.01, rotated=rest, other=rest)
    # At the refusal limit the film is labelled (with a caution, below the caution limit).
    (verdict,) = view_check.verdicts(at_limit)
    assert not verdict.out_of_distribution
    assert (verdict.caution is not None) == (
        limit < (view_check.caution_frontal_probability or limit))
    sure = 0.5 * (1.0 + (view_check.caution_frontal_probability or limit))
    other = (1.0 - sure) / 3
    assert view_check.verdicts(
        _probabilities(frontal=sure, lateral=other, rotated=other, other=other)) == [PASS]
    assert view_check.verdicts(below)[0].reason.startswith("lateral view")
    assert view_check.verdicts(np.full((1, 4), np.nan))[0].out_of_distribution


def test_gate_keeps_the_card_checks_of_the_classifier(tiny_bundle: Path,
                                                      view_check: ViewCheck) -> None:
    spec = load_bundle(tiny_bundle).card.ood
    gate = Gate(spec, view_check)
    card_only = OodGate(spec)
    assert gate.view is view_check
    assert gate.distance_threshold == card_only.distance_threshold
    features = np.zeros((2, len(next(iter(spec["class_means"].values())))))
    np.testing.assert_array_equal(gate.distances(features), card_only.distances(features))
