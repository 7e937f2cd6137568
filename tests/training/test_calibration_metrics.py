from __future__ import annotations

import numpy as np
import pytest

from desktop_app.core.decision import decide, validate_decision_spec
from model_training.calibration import (
    choose_decision,
    decision_predictions,
    fit_temperature,
    threshold_for_sensitivity,
)
from model_training.evaluation import lung_mask, mask_lungs
from model_training.metrics import (
    auroc,
    bootstrap_auroc_ci,
    confusion_matrix,
    expected_calibration_error,
    negative_log_likelihood,
    sensitivity_specificity,
    softmax,
    summary,
)

CLASSES = ["Normal", "Pneumonia", "COVID-19"]


def test_confusion_matrix_and_rates_by_hand() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    predicted = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 0])
    matrix = confusion_matrix(labels, predicted, 3)
    assert matrix.tolist() == [[3, 1, 0], [0, 2, 1], [1, 0, 2]]
    # COVID-19: TP 2, FN 1, FP 1, TN 6.
    sens, spec = sensitivity_specificity(matrix, 2)
    assert sens == pytest.approx(2 / 3)
    assert spec == pytest.approx(6 / 7)
    # Normal: TP 3, FN 1, FP 1, TN 5.
    assert sensitivity_specificity(matrix, 0) == pytest.approx((0.75, 5 / 6))


def test_auroc_by_hand() -> None:
    positive = np.array([1, 1, 0, 0, 1, 0], dtype=bool)
    scores = np.array([0.9, 0.8, 0.7, 0.1, 0.4, 0.4])
    # Pairs (pos, neg): 9; wins: 0.9 beats 3, 0.8 beats 3, 0.4 beats 1 and ties 1 -> 7.5.
    assert auroc(positive, scores) == pytest.approx(7.5 / 9)
    assert np.isnan(auroc(np.ones(3, dtype=bool), np.arange(3)))
    low, high = bootstrap_auroc_ci(positive, scores, rounds=200, seed=1)
    assert 0.0 <= low <= 7.5 / 9 <= high <= 1.0


def test_summary_structure() -> None:
    logits = np.log(np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7],
                              [0.6, 0.3, 0.1]]))
    result = summary(logits, np.array([0, 1, 2, 1]), CLASSES, bootstrap_rounds=0)
    assert result["accuracy"] == 0.75
    assert result["confusion_matrix"] == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    assert result["per_class"]["Pneumonia"]["sensitivity"] == 0.5


def test_ece_is_zero_when_confidence_matches_accuracy() -> None:
    probabilities = np.array([[0.75, 0.25]] * 4)
    labels = np.array([0, 0, 0, 1])
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.0)


def test_temperature_lowers_nll_of_overconfident_model() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 2000)
    signal = rng.normal(0, 1, (2000, 3))
    signal[np.arange(2000), labels] += 1.0
    logits = 6.0 * signal  # right about 70 % of the time, but very sure of itself
    temperature = fit_temperature(logits, labels)
    assert temperature > 2.0
    before = negative_log_likelihood(softmax(logits), labels)
    after = negative_log_likelihood(softmax(logits, temperature), labels)
    assert after < before * 0.6
    assert expected_calibration_error(softmax(logits, temperature), labels) < \
        expected_calibration_error(softmax(logits), labels)


def test_threshold_reaches_target_sensitivity() -> None:
    scores = np.array([0.9, 0.8, 0.6, 0.3, 0.2, 0.1, 0.05, 0.5])
    positive = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=bool)
    threshold, sens, spec = threshold_for_sensitivity(scores, positive, 0.95)
    assert sens == 1.0
    assert spec == 0.75
    assert 0.2 < threshold <= 0.3


def test_choose_decision_is_valid_for_the_app() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 300)
    logits = rng.normal(0, 1, (300, 3))
    logits[np.arange(300), labels] += 2.5
    probabilities = softmax(logits)
    decision = choose_decision(probabilities, labels, CLASSES)
    validate_decision_spec(decision, CLASSES)
    assert decision["priority"] == ["COVID-19", "Pneumonia"]
    assert decision["operating_point"]["per_class"]["COVID-19"]["sensitivity"] >= 0.95
    chosen, _ = decision_predictions(probabilities, CLASSES, decision)
    for row in range(30):  # vectorised rule == the app's decide()
        assert CLASSES[chosen[row]] == decide(probabilities[row], CLASSES, decision).label


def test_lung_mask_replaces_lungs_with_mean() -> None:
    mask = lung_mask(64)
    assert 0.2 < mask.mean() < 0.45
    assert not mask[:, 32].any()  # the mediastinum stays visible
    images = np.random.default_rng(0).random((2, 64, 64), dtype=np.float32)
    masked = mask_lungs(images)
    assert np.allclose(masked[0][mask], images[0].mean())
    assert np.array_equal(masked[0][~mask], images[0][~mask])


def test_specificity_at_sensitivity_uses_real_thresholds() -> None:
    from model_training.metrics import specificity_at_sensitivity

    positive = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=bool)
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.3, 0.1, 0.05])
    # 100 % sensitivity needs t <= 0.2: negatives 0.6 and 0.3 are then positive -> 0.5.
    assert specificity_at_sensitivity(positive, scores, 1.0) == 0.5
    # 75 % sensitivity: t = 0.7 keeps every negative out.
    assert specificity_at_sensitivity(positive, scores, 0.75) == 1.0
    # Ties move together: a negative tied with the weakest positive counts as positive.
    tied = np.array([0.9, 0.8, 0.7, 0.3, 0.6, 0.3, 0.1, 0.05])
    assert specificity_at_sensitivity(positive, tied, 1.0) == 0.5
    assert np.isnan(specificity_at_sensitivity(np.ones(3, bool), np.ones(3)))
