"""Per-population figures at the app's decision, their intervals, and the rows fingerprint."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model_training.data_fingerprint import rows_fingerprint
from model_training.population_metrics import (
    Resampler,
    estimate,
    format_populations,
    population_metrics,
)

CLASSES = ["Normal", "Pneumonia", "COVID-19"]
# Plain argmax with a high confidence floor nobody reaches: decide() returns the top class.
DECISION = {"priority": ["COVID-19", "Pneumonia"],
            "thresholds": {"COVID-19": 0.5, "Pneumonia": 0.5}, "min_confidence": 0.34}
NORMAL, PNEUMONIA, COVID = 0, 1, 2


def _one_hot_probabilities(predicted: list[int]) -> np.ndarray:
    probabilities = np.full((len(predicted), 3), 0.05)
    probabilities[np.arange(len(predicted)), predicted] = 0.9
    return probabilities


def _cohort() -> dict[str, object]:
    """10 adult non-COVID (NIH, 3 called COVID-19), 4 adult COVID-19 (3 found), 6 children."""
    labels = [NORMAL] * 5 + [PNEUMONIA] * 5 + [COVID] * 4 + [NORMAL] * 3 + [PNEUMONIA] * 3
    predicted = [
        NORMAL, NORMAL, NORMAL, COVID, NORMAL,  # adult Normal (NIH): one called COVID-19
        PNEUMONIA, COVID, PNEUMONIA, COVID, PNEUMONIA,  # adult Pneumonia (NIH): two
        COVID, COVID, COVID, NORMAL,  # adult COVID-19: three found
        NORMAL, NORMAL, PNEUMONIA, PNEUMONIA, PNEUMONIA, PNEUMONIA,  # children: one wrong
    ]
    sources = ["nih"] * 10 + ["cxnet"] * 4 + ["kermany"] * 6
    groups = ["adult"] * 14 + ["child"] * 6
    return {"labels": np.array(labels), "probabilities": _one_hot_probabilities(predicted),
            "sources": sources, "age_groups": groups,
            "patients": [f"p{i // 2}" for i in range(len(labels))]}


def test_key_figures_by_hand() -> None:
    cohort = _cohort()
    result = population_metrics(cohort["probabilities"], cohort["labels"], CLASSES, DECISION,
                                sources=cohort["sources"], age_groups=cohort["age_groups"],
                                patients=cohort["patients"], bootstrap_rounds=200, seed=1)
    key = result["key_figures"]
    assert key["adult_false_covid_rate"]["value"] == pytest.approx(3 / 10)
    assert key["adult_false_covid_rate"]["n"] == 10
    assert key["adult_covid_sensitivity"]["value"] == pytest.approx(3 / 4)
    assert key["child_accuracy"]["value"] == pytest.approx(5 / 6)
    assert key["child_normal_vs_pneumonia_accuracy"]["value"] == pytest.approx(5 / 6)
    # NIH Normal vs Pneumonia on 1 - P(Normal): normals called Normal score 0.1, the one normal
    # called COVID-19 0.95; pneumonias 0.95 (tied with it) -> AUROC = (4*5 + 0.5*5) / 25.
    assert key["nih_adult_normal_vs_pneumonia_auroc"]["value"] == pytest.approx(0.9)
    for figure in key.values():
        low, high = figure["ci95"]
        assert low <= figure["value"] <= high
    for group in ("adult", "child"):
        ece = result["per_age_group"][group]["ece"]
        assert 0.0 <= ece["ci95"][0] <= ece["value"] <= ece["ci95"][1]
    assert result["per_source"]["nih"]["labelled_covid_non_covid"]["value"] == pytest.approx(0.3)
    assert result["per_source"]["kermany"]["labelled_covid_non_covid"]["value"] == 0.0
    assert result["per_age_group"]["adult"]["n"] == 14
    assert result["per_class"]["COVID-19"]["sensitivity"]["value"] == pytest.approx(0.75)
    assert result["per_class"]["COVID-19"]["specificity"]["value"] == pytest.approx(13 / 16)
    assert result["bootstrap"]["unit"] == "patient"
    text = "\n".join(format_populations(result))
    assert "Adults without COVID-19 labelled COVID-19 (false-COVID rate): 30.0 %" in text
    assert "nih (10 images)" in text


def test_missing_population_is_none_not_zero() -> None:
    cohort = _cohort()
    result = population_metrics(cohort["probabilities"][:10], cohort["labels"][:10], CLASSES,
                                DECISION, sources=cohort["sources"][:10], age_groups=None,
                                bootstrap_rounds=0)
    key = result["key_figures"]
    assert key["adult_false_covid_rate"] is None  # no age known: no adult figure
    assert key["child_accuracy"] is None
    assert result["per_class"]["COVID-19"]["sensitivity"] is None
    assert result["overall"]["accuracy"]["ci95"] is None  # no resamples asked for
    assert result["bootstrap"]["unit"] == "image"


def test_patient_bootstrap_keeps_patients_whole() -> None:
    resampler = Resampler(6, rounds=50, seed=0, patients=["a", "a", "b", "b", "c", "c"])
    for draw in resampler.draws:
        assert len(draw) == 6
        for first in draw[::2]:
            assert first % 2 == 0  # every draw holds pairs (0,1), (2,3) or (4,5)
    correct = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 1.0])
    figure = estimate(lambda index: float(correct[index].mean()), np.ones(6, bool), resampler)
    assert figure["value"] == pytest.approx(2 / 3)
    assert 0.0 <= figure["ci95"][0] <= 2 / 3 <= figure["ci95"][1] <= 1.0


def test_rows_fingerprint_ignores_order_and_sees_labels() -> None:
    rows = pd.DataFrame({"path": ["/a/x.jpg", "/b/y.jpg"], "label": ["Normal", "COVID-19"]})
    first = rows_fingerprint(rows, ["1", "2"])
    assert first["images"] == 2
    assert rows_fingerprint(rows.iloc[::-1], ["2", "1"])["sha256"] == first["sha256"]
    relabelled = rows.assign(label=["Pneumonia", "COVID-19"])
    assert rows_fingerprint(relabelled, ["1", "2"])["sha256"] != first["sha256"]
    assert rows_fingerprint(rows, ["1", "3"])["sha256"] != first["sha256"]
    with pytest.raises(ValueError, match="2 rows but 1 file hashes"):
        rows_fingerprint(rows, ["1"])
