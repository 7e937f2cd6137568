"""``desktop_app.core.metrics`` against scikit-learn, on random and edge-case inputs.

The app computes every figure it shows a clinic with its own numpy code (no SciPy or
scikit-learn in the package); scikit-learn is a test-only dependency (the ``dev`` extra) that
checks it. Where both define a figure they agree to 1e-12. Where ours is the intended
definition and differs, the test pins the difference:

* AUROC with one class present: both NaN, but sklearn warns (and raises on no films at all);
  ours is silently NaN and the figure is left out of the card.
* ROC curve with one class present: ours returns rates of 0 for the absent class, sklearn
  NaN with a warning; it is only plotted.
* Calibration bins: ours are half-open ``[a, b)`` (a confidence exactly on an inner edge goes
  to the upper bin), ``calibration_curve`` uses ``(a, b]``. Only a confidence exactly equal to
  ``k / bins`` differs; kept so that every card's ECE stays comparable.

The core has no precision (PPV) figure: ``precision_recall_fscore_support`` checks its recall
(sensitivity) and, one-vs-rest, its specificity.

Property-style: seeded numpy loops over many random draws (hypothesis is not a dependency).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    confusion_matrix as sk_confusion_matrix,
)
from sklearn.metrics import (
    precision_recall_fscore_support,
    roc_auc_score,
)
from sklearn.metrics import (
    roc_curve as sk_roc_curve,
)

from desktop_app.core.metrics.classification import (
    auroc,
    bootstrap_auroc_ci,
    confusion_matrix,
    expected_calibration_error,
    reliability_bins,
    roc_curve,
    sensitivity_specificity,
    softmax,
    specificity_at_sensitivity,
)
from desktop_app.core.metrics.populations import (
    Resampler,
    calibration_error,
    estimate,
    estimate_weighted,
    rate,
    weighted_auroc,
)

TOL = 1e-12


def binary_cases(seed: int = 0, rounds: int = 200) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, positive, scores)`` with both classes present: random, ties, edge cases."""
    rng = np.random.default_rng(seed)
    for round_ in range(rounds):
        n = int(rng.integers(2, 60))
        positive = rng.random(n) < rng.uniform(0.1, 0.9)
        positive[0], positive[1] = True, False  # both classes
        kind = round_ % 4
        if kind == 0:
            scores = rng.random(n)
        elif kind == 1:  # heavy ties: a few distinct levels
            scores = rng.integers(0, 4, n) / 4.0
        elif kind == 2:  # scores that depend on the label (a useful model)
            scores = positive * rng.uniform(0, 2) + rng.standard_normal(n)
        else:  # probabilities near 0 and 1 (float32 outputs of a softmax)
            scores = np.float32(rng.random(n) ** 8).astype(np.float64)
        yield f"random-{round_}", positive, scores
    positive = np.array([True, False, True, False, False])
    yield "perfect", positive, positive * 0.8 + 0.1
    yield "inverted", positive, ~positive * 0.8 + 0.1
    yield "all tied", positive, np.full(5, 0.5)
    yield "n=2", np.array([True, False]), np.array([0.3, 0.3])
    yield "n=2 ordered", np.array([False, True]), np.array([0.1, 0.9])
    yield "one positive", np.array([False] * 6 + [True]), np.arange(7.0)


def test_auroc_equals_roc_auc_score() -> None:
    for name, positive, scores in binary_cases():
        assert auroc(positive, scores) == pytest.approx(
            roc_auc_score(positive, scores), abs=TOL), name


def test_auroc_perfect_inverted_and_tied() -> None:
    positive = np.array([True, False, True, False, False])
    assert auroc(positive, positive * 1.0) == 1.0
    assert auroc(positive, ~positive * 1.0) == 0.0
    assert auroc(positive, np.zeros(5)) == 0.5


def test_auroc_with_one_class_is_nan_like_sklearn_but_silent() -> None:
    """No AUROC without both classes: the card leaves it out (sklearn warns and gives NaN,
    and refuses an empty set, where ours is NaN too)."""
    from sklearn.exceptions import UndefinedMetricWarning

    for positive in (np.ones(4, dtype=bool), np.zeros(4, dtype=bool)):
        scores = np.linspace(0, 1, len(positive))
        assert np.isnan(auroc(positive, scores))
        with pytest.warns(UndefinedMetricWarning, match="Only one class"):
            assert np.isnan(roc_auc_score(positive, scores))
    assert np.isnan(auroc(np.zeros(0, dtype=bool), np.zeros(0)))
    with pytest.raises(ValueError, match="0 sample"):
        roc_auc_score(np.zeros(0, dtype=bool), np.zeros(0))


def test_weighted_auroc_equals_roc_auc_score_with_sample_weight() -> None:
    """The bootstrap's AUROC of a resample (row counts as weights) is sklearn's weighted AUROC."""
    rng = np.random.default_rng(1)
    for name, positive, scores in binary_cases(seed=1, rounds=120):
        index = np.arange(len(positive))
        counts = rng.integers(0, 3, (5, len(positive))).astype(np.float64)
        counts[0] = 1.0
        with np.errstate(invalid="ignore", divide="ignore"):  # as estimate_weighted calls it
            values = weighted_auroc(positive, scores)(index, counts)
        for row, value in zip(counts, values, strict=True):
            keep = row > 0
            if positive[keep].all() or not positive[keep].any():
                assert np.isnan(value), name
                continue
            expected = roc_auc_score(positive, scores, sample_weight=row)
            assert value == pytest.approx(expected, abs=TOL), name


def test_roc_curve_equals_sklearn_at_every_threshold() -> None:
    for name, positive, scores in binary_cases(seed=2):
        fpr, tpr = roc_curve(positive, scores)
        sk_fpr, sk_tpr, _ = sk_roc_curve(positive, scores, drop_intermediate=False)
        assert len(fpr) == len(sk_fpr), name
        np.testing.assert_allclose(fpr, sk_fpr, rtol=0, atol=TOL, err_msg=name)
        np.testing.assert_allclose(tpr, sk_tpr, rtol=0, atol=TOL, err_msg=name)
        # The trapezoid under our curve is the AUROC (ties count one half).
        assert np.trapezoid(tpr, fpr) == pytest.approx(auroc(positive, scores), abs=TOL), name


def test_roc_curve_with_one_class_stays_finite() -> None:
    """Intended difference: the absent class's rate is 0, not sklearn's NaN (plot only)."""
    fpr, tpr = roc_curve(np.ones(3, dtype=bool), np.array([0.2, 0.5, 0.5]))
    assert np.all(fpr == 0.0)
    assert tpr[-1] == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk_fpr, _, _ = sk_roc_curve(np.ones(3, dtype=bool), np.array([0.2, 0.5, 0.5]))
    assert np.isnan(sk_fpr).all()


def test_specificity_at_sensitivity_is_read_off_the_roc_curve() -> None:
    for name, positive, scores in binary_cases(seed=3):
        sk_fpr, sk_tpr, _ = sk_roc_curve(positive, scores, drop_intermediate=False)
        for target in (0.5, 0.9, 0.95, 1.0):
            expected = (1.0 - sk_fpr[sk_tpr >= target - 1e-12]).max()
            assert specificity_at_sensitivity(positive, scores, target) == pytest.approx(
                expected, abs=TOL), (name, target)


def multiclass_cases(seed: int = 4, rounds: int = 150
                     ) -> Iterator[tuple[str, np.ndarray, np.ndarray, int]]:
    """``(name, labels, predicted, classes)``, including absent classes and tiny n."""
    rng = np.random.default_rng(seed)
    for round_ in range(rounds):
        k = int(rng.integers(2, 5))
        n = int(rng.integers(1, 40))
        labels = rng.integers(0, k, n)
        predicted = np.where(rng.random(n) < 0.6, labels, rng.integers(0, k, n))
        yield f"random-{round_}", labels, predicted, k
    yield "one class, all right", np.zeros(4, int), np.zeros(4, int), 3
    yield "one class, all wrong", np.zeros(4, int), np.full(4, 2), 3
    yield "n=1", np.array([1]), np.array([0]), 3


def test_confusion_matrix_equals_sklearn() -> None:
    for name, labels, predicted, k in multiclass_cases():
        expected = sk_confusion_matrix(labels, predicted, labels=list(range(k)))
        np.testing.assert_array_equal(confusion_matrix(labels, predicted, k), expected, name)


def test_sensitivity_and_specificity_equal_sklearn_recall() -> None:
    """Sensitivity is recall; specificity is the recall of "not this class" (one-vs-rest).

    Where a class has no films (sensitivity) or every film is of it (specificity), ours is
    NaN and sklearn's ``zero_division`` value: the card shows no figure rather than 0.
    """
    for name, labels, predicted, k in multiclass_cases():
        matrix = confusion_matrix(labels, predicted, k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, recall, _, support = precision_recall_fscore_support(
                labels, predicted, labels=list(range(k)), zero_division=np.nan)
        for index in range(k):
            sensitivity, specificity = sensitivity_specificity(matrix, index)
            if support[index] == 0:
                assert np.isnan(sensitivity), name
            else:
                assert sensitivity == pytest.approx(recall[index], abs=TOL), name
            rest = labels != index
            if not rest.any():
                assert np.isnan(specificity), name
                continue
            _, rest_recall, _, _ = precision_recall_fscore_support(
                rest, predicted != index, labels=[True], zero_division=np.nan)
            assert specificity == pytest.approx(rest_recall[0], abs=TOL), name


def probability_cases(seed: int = 5, rounds: int = 100
                      ) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, probabilities, labels)``: softmax outputs of random logits, tiny to large n."""
    rng = np.random.default_rng(seed)
    for round_ in range(rounds):
        n = int(rng.integers(1, 300))
        k = int(rng.integers(2, 5))
        logits = rng.standard_normal((n, k)) * rng.uniform(0.1, 6)
        labels = rng.integers(0, k, n)
        logits[np.arange(n), labels] += rng.uniform(0, 3)
        yield f"random-{round_}", softmax(logits), labels


def test_reliability_bins_equal_calibration_curve() -> None:
    """Top-label bins: ``calibration_curve(correct, confidence)`` over the non-empty bins."""
    for name, probabilities, labels in probability_cases():
        for bins in (5, 10, 15):
            confidence = probabilities.max(axis=1)
            correct = probabilities.argmax(axis=1) == labels
            edges = np.linspace(0, 1, bins + 1)
            assert not np.isin(confidence, edges).any(), name  # no edge cases here
            data = reliability_bins(probabilities, labels, bins)
            filled = np.asarray(data["count"]) > 0
            if correct.all() or not correct.any():
                continue  # calibration_curve needs both outcomes
            accuracy, mean_confidence = calibration_curve(correct, confidence, n_bins=bins)
            np.testing.assert_allclose(np.asarray(data["accuracy"])[filled], accuracy,
                                       rtol=0, atol=TOL, err_msg=name)
            np.testing.assert_allclose(np.asarray(data["confidence"])[filled],
                                       mean_confidence, rtol=0, atol=TOL, err_msg=name)
            counts = np.asarray(data["count"])[filled]
            sk_ece = float(np.sum(counts / len(labels) * np.abs(accuracy - mean_confidence)))
            assert expected_calibration_error(probabilities, labels, bins) == pytest.approx(
                sk_ece, abs=TOL), name


def test_calibration_bins_are_half_open_upwards() -> None:
    """Intended difference: a confidence on an inner edge is in the bin above it.

    ``calibration_curve`` puts it in the bin below ((a, b]); ours ([a, b)) matches
    ``np.digitize`` and every ECE already on a card.
    """
    probabilities = np.array([[0.5, 0.5], [0.5, 0.5], [0.75, 0.25], [0.9, 0.1]])
    labels = np.array([0, 1, 0, 1])
    data = reliability_bins(probabilities, labels, bins=2)
    assert data["count"] == [0.0, 4.0]  # 0.5 sits on the inner edge: upper bin
    correct = np.array([True, False, True, False])
    accuracy, _ = calibration_curve(correct, probabilities.max(axis=1), n_bins=2)
    assert len(accuracy) == 2  # sklearn: 0.5 in the lower bin, so two bins are filled


def test_weighted_calibration_error_equals_the_ece_of_the_resample() -> None:
    rng = np.random.default_rng(6)
    for name, probabilities, labels in probability_cases(seed=6, rounds=40):
        index = np.arange(len(labels))
        draws = [rng.integers(0, len(labels), len(labels)) for _ in range(4)]
        weights = np.stack([np.bincount(d, minlength=len(labels)) for d in draws]
                           ).astype(np.float64)
        values = calibration_error(probabilities, labels)(index, weights)
        for draw, value in zip(draws, values, strict=True):
            expected = expected_calibration_error(probabilities[draw], labels[draw])
            assert value == pytest.approx(expected, abs=TOL), name


def reference_draws(patients: list[str], rounds: int, seed: int) -> list[np.ndarray]:
    """A plain patient-level bootstrap: draw patients with replacement, keep all their rows.

    Patients in sorted order of their ids, each drawn patient's rows in their table order,
    drawn patients in the order drawn: the same random numbers as the Resampler.
    """
    rng = np.random.default_rng(seed)
    ids = sorted(set(patients))
    rows = {p: [i for i, q in enumerate(patients) if q == p] for p in ids}
    draws = []
    for _ in range(rounds):
        picked = rng.integers(0, len(ids), len(ids))
        draws.append(np.array([i for p in picked for i in rows[ids[p]]], dtype=np.int64))
    return draws


def test_resampler_draws_are_the_plain_patient_bootstrap() -> None:
    rng = np.random.default_rng(7)
    for seed in range(25):
        n = int(rng.integers(1, 40))
        patients = [f"p{int(v)}" for v in rng.integers(0, max(1, n // 2), n)]
        resampler = Resampler(n, rounds=30, seed=seed, patients=patients)
        expected = reference_draws(patients, 30, seed)
        assert len(resampler.draws) == 30
        for ours, plain in zip(resampler.draws, expected, strict=True):
            np.testing.assert_array_equal(ours, plain)
    # Without patient ids every film is its own patient.
    plain = Resampler(9, rounds=5, seed=3)
    expected = reference_draws([f"{i:02d}" for i in range(9)], 5, 3)
    for ours, ref in zip(plain.draws, expected, strict=True):
        np.testing.assert_array_equal(ours, ref)


def test_bootstrap_intervals_equal_a_plain_reference() -> None:
    """Interval of a subgroup's rate and AUROC: the percentiles of the plain loop's values."""
    rng = np.random.default_rng(8)
    n = 60
    patients = [f"p{int(v)}" for v in rng.integers(0, 25, n)]
    positive = rng.random(n) < 0.4
    scores = positive * 0.7 + rng.random(n)
    correct = rng.random(n) < 0.8
    rows = rng.random(n) < 0.7
    resampler = Resampler(n, rounds=300, seed=11, patients=patients)
    draws = reference_draws(patients, 300, 11)

    def percentiles(values: list[float]) -> list[float]:
        return [float(v) for v in np.quantile(values, [0.025, 0.975])]

    kept = [d[rows[d]] for d in draws]
    plain_rate = percentiles([correct[k].mean() for k in kept if len(k)])
    entry = estimate_weighted(rate(correct), rows, resampler)
    assert entry is not None
    assert entry["value"] == pytest.approx(correct[rows].mean(), abs=TOL)
    np.testing.assert_allclose(entry["ci95"], plain_rate, rtol=0, atol=TOL)
    looped = estimate(lambda i: float(correct[i].mean()), rows, resampler)
    assert looped is not None
    np.testing.assert_allclose(looped["ci95"], plain_rate, rtol=0, atol=TOL)

    plain_auc = percentiles([roc_auc_score(positive[k], scores[k]) for k in kept
                             if 0 < positive[k].sum() < len(k)])
    entry = estimate_weighted(weighted_auroc(positive, scores), rows, resampler)
    assert entry is not None
    assert entry["value"] == pytest.approx(roc_auc_score(positive[rows], scores[rows]), abs=TOL)
    np.testing.assert_allclose(entry["ci95"], plain_auc, rtol=0, atol=TOL)


def test_bootstrap_auroc_ci_equals_a_plain_reference() -> None:
    rng = np.random.default_rng(9)
    positive = rng.random(40) < 0.5
    scores = positive * 0.5 + rng.random(40)
    reference = np.random.default_rng(4)
    values = []
    for _ in range(200):
        index = reference.integers(0, 40, 40)
        if 0 < positive[index].sum() < 40:
            values.append(roc_auc_score(positive[index], scores[index]))
    expected = np.quantile(values, [0.025, 0.975])
    np.testing.assert_allclose(bootstrap_auroc_ci(positive, scores, rounds=200, seed=4),
                               expected, rtol=0, atol=TOL)


def test_population_figures_at_the_decision_equal_sklearn() -> None:
    """The card's per-class figures at the app's decision, and their patient intervals."""
    from sklearn.metrics import accuracy_score, recall_score

    from desktop_app.core.metrics.decisions import decision_predictions
    from desktop_app.core.metrics.populations import population_metrics

    classes = ["Normal", "Pneumonia", "COVID-19"]
    decision = {"priority": ["COVID-19", "Pneumonia"],
                "thresholds": {"COVID-19": 0.5, "Pneumonia": 0.4}, "min_confidence": 0.0}
    rng = np.random.default_rng(10)
    for round_ in range(8):
        n = int(rng.integers(12, 80))
        labels = np.concatenate([np.arange(3), rng.integers(0, 3, n - 3)])
        logits = rng.standard_normal((n, 3)) * 2
        logits[np.arange(n), labels] += rng.uniform(0, 2)
        probabilities = softmax(logits)
        patients = [f"p{int(v)}" for v in rng.integers(0, n // 2, n)]
        figures = population_metrics(probabilities, labels, classes, decision,
                                     sources=["s"] * n, patients=patients,
                                     bootstrap_rounds=100, seed=round_)
        chosen, _ = decision_predictions(probabilities, classes, decision, ["unknown"] * n)
        assert figures["overall"]["accuracy"]["value"] == pytest.approx(
            accuracy_score(labels, chosen), abs=TOL)
        recall = recall_score(labels, chosen, labels=[0, 1, 2], average=None)
        draws = reference_draws(patients, 100, round_)
        for index, name in enumerate(classes):
            entry = figures["per_class"][name]
            assert entry["sensitivity"]["value"] == pytest.approx(recall[index], abs=TOL)
            specificity = recall_score(labels != index, chosen != index)
            assert entry["specificity"]["value"] == pytest.approx(specificity, abs=TOL)
            assert entry["auroc"]["value"] == pytest.approx(
                roc_auc_score(labels == index, probabilities[:, index]), abs=TOL)
            plain = [recall_score(labels[d] == index, chosen[d] == index) for d in draws
                     if (labels[d] == index).any()]
            np.testing.assert_allclose(entry["sensitivity"]["ci95"],
                                       np.quantile(plain, [0.025, 0.975]), rtol=0, atol=TOL)
