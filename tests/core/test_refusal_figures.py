"""Sensitivity both ways: over the labelled films, and counting refused films as not found."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.metrics.refusals import refusal_figures, sensitivity_both_ways_text
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.validation.validation import image_rows, validate
from tests.core.test_validation import write_labelled_folder

CLASSES = ["Normal", "Pneumonia", "COVID-19"]


def test_refused_films_count_as_not_found_in_the_second_figure() -> None:
    # Ten COVID-19 films: two refused, seven of the eight labelled ones found, one cautioned.
    labels = np.full(10, 2)
    chosen = np.array([2] * 7 + [0] + [-1, -1])
    refused = np.array([False] * 8 + [True] * 2)
    cautioned = np.array([True] + [False] * 7 + [True, False])  # a refusal never cautions
    figures = refusal_figures(labels, chosen, refused, CLASSES, cautioned=cautioned,
                              patients=[f"p{i}" for i in range(10)], bootstrap_rounds=200)
    covid = figures["per_class"]["COVID-19"]
    assert figures["refused"] == 2
    assert figures["cautioned"] == 1
    assert covid["films"] == 10
    assert covid["refused"] == 2
    assert covid["cautioned"] == 1
    assert covid["sensitivity_labelled"]["value"] == pytest.approx(7 / 8)
    assert covid["sensitivity_labelled"]["n"] == 8
    assert covid["sensitivity_counting_refused"]["value"] == pytest.approx(7 / 10)
    assert covid["sensitivity_counting_refused"]["n"] == 10
    low, high = covid["sensitivity_counting_refused"]["ci95"]
    assert low <= 0.7 <= high
    assert figures["per_class"]["Normal"]["sensitivity_counting_refused"] is None
    text = sensitivity_both_ways_text("COVID-19", covid)
    assert text.startswith("COVID-19 found: 88 % (95 % CI ")
    assert "of labelled films; 70 % (95 % CI " in text
    assert text.endswith("of all 10 COVID-19 films, counting 2 refused as not found "
                         "(1 labelled with a caution)")


def test_a_given_labelled_figure_is_used_as_it_is() -> None:
    given = {"value": 0.5, "ci95": [0.1, 0.9], "n": 2}
    figures = refusal_figures([0, 0, 0], [0, 1, -1], [False, False, True], CLASSES,
                              labelled_sensitivity={"Normal": given}, bootstrap_rounds=0)
    normal = figures["per_class"]["Normal"]
    assert normal["sensitivity_labelled"] is given
    assert normal["sensitivity_counting_refused"] == {"value": pytest.approx(1 / 3),
                                                      "ci95": None, "n": 3}


def test_validation_counts_cautions_and_gives_sensitivity_both_ways(
    tmp_path: Path, tiny_caution_bundle: Path
) -> None:
    analyzer = Analyzer(load_bundle(tiny_caution_bundle))
    data = write_labelled_folder(tmp_path / "data")  # a colour photo among the normals
    result = validate(data, analyzer.bundle, analyzer=analyzer, bootstrap_rounds=30,
                      store=False)
    assert result is not None
    counts = result.metrics["counts"]
    measured = [i for i in result.images if i.measured]
    assert all(i.caution and i.caution.startswith("unusual film: ") for i in measured)
    assert counts["cautioned"] == len(measured) == 12
    assert counts["cautioned_by_class"] == {"Normal": 4, "Pneumonia": 4, "COVID-19": 4}
    photo = next(i for i in result.images if Path(i.path).name == "holiday.jpg")
    assert photo.caution is None
    refusals = result.metrics["refusals"]
    normal = refusals["per_class"]["Normal"]
    assert normal["films"] == 5
    assert normal["refused"] == 1
    found = sum(i.predicted == "Normal" for i in measured if i.truth == "Normal")
    assert normal["sensitivity_counting_refused"]["value"] == pytest.approx(found / 5)
    per_class = result.metrics["populations"]["per_class"]["Normal"]["sensitivity"]
    assert normal["sensitivity_labelled"] == per_class

    rows = image_rows(result)
    column = rows[0].index("caution")
    by_name = {Path(row[1]).name: row for row in rows[1:]}
    assert by_name["holiday.jpg"][column] == ""
    assert by_name["f0.png"][column].startswith("unusual film: features unlike")
