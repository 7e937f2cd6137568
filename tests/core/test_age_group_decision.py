"""Thresholds per age group: the film's own DICOM age, else the data's, else the top level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.classify.analysis import Analyzer, decision_age_group
from desktop_app.core.classify.synthetic import synthetic_radiograph
from desktop_app.core.decision import decide, thresholds_for
from desktop_app.core.metrics.decisions import decision_predictions
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.patient_age import PatientAge
from desktop_app.core.validation.validation import validate
from tests.core.test_validation import write_labelled_csv
from tests.image_factory import dicom_dataset, write_dicom


@pytest.fixture(scope="module")
def analyzer(tiny_age_bundle: Path) -> Analyzer:
    return Analyzer(load_bundle(tiny_age_bundle))


def _film(folder: Path, name: str, age: str | None) -> Path:
    ds = dicom_dataset(synthetic_radiograph((320, 384), seed=1), bits_stored=8, rescale=None)
    if age is not None:
        ds.PatientAge = age
    return write_dicom(ds, folder / name)


def test_the_films_own_age_wins_over_a_hint() -> None:
    adult = PatientAge(45.0, "DICOM PatientAge 045Y")
    assert decision_age_group(adult, "child") == "adult"
    assert decision_age_group(PatientAge.unknown("PNG"), "child") == "child"
    assert decision_age_group(None, "unknown") == "unknown"
    assert decision_age_group(None, None) == "unknown"


def test_analyzer_decides_at_the_thresholds_of_the_patients_age_group(
    analyzer: Analyzer, tmp_path: Path
) -> None:
    child, adult, unknown = (_film(tmp_path, f"{n}.dcm", age) for n, age in
                             (("child", "008Y"), ("adult", "067Y"), ("unknown", None)))
    results = list(analyzer.analyse([child, adult, unknown, unknown],
                                    age_groups=[None, "child", None, "adult"]))
    assert all(r.ok and not r.out_of_distribution for r in results), results
    by_child, by_adult, by_nothing, by_hint = results
    assert by_child.age_group == "child"
    assert by_child.decision.age_group == "child"
    assert by_child.label == "COVID-19"
    assert "reaches the operating threshold for children 1%" in by_child.decision.reason
    assert by_adult.age_group == "adult"  # the header's 67 years beat the "child" hint
    assert by_adult.decision.age_group == "adult"
    probabilities = by_adult.probabilities
    assert by_adult.label == max(probabilities, key=probabilities.__getitem__)
    assert by_nothing.age_group == "unknown"
    assert by_nothing.decision.age_group is None
    top_level = decide([by_nothing.probabilities[c] for c in analyzer.card.classes],
                       analyzer.card.classes, analyzer.card.decision)
    assert by_nothing.decision == top_level
    assert by_hint.age_group == "adult"
    with pytest.raises(ValueError, match="Received: 1"):
        list(analyzer.analyse([child, adult], age_groups=["child"]))


def test_decision_predictions_use_each_rows_age_group(tiny_age_bundle: Path) -> None:
    card = load_bundle(tiny_age_bundle).card
    rows = np.array([[0.6, 0.35, 0.05]] * 3)
    chosen, _ = decision_predictions(rows, card.classes, card.decision,
                                     ["child", "adult", "unknown"])
    names = [card.classes[i] for i in chosen]
    assert names[0] == "COVID-19"  # 5 % reaches the children's 1 %
    assert names[1] == "Normal"
    plain, _ = decision_predictions(rows, card.classes, card.decision)
    assert plain[2] == chosen[2]


def test_validate_decides_with_the_csvs_age(analyzer: Analyzer, tmp_path: Path) -> None:
    data = write_labelled_csv(tmp_path / "site")  # ages 30, 8, 45, 5, 60, 71
    result = validate(data, analyzer.bundle, analyzer=analyzer, bootstrap_rounds=0,
                      store=False)
    assert result is not None
    by_name = {Path(i.path).name: i for i in result.images}
    measured = [i for i in result.images if i.measured]
    assert measured
    for image in measured:
        expected = {"img1.png": "child", "img3.png": "child"}.get(Path(image.path).name,
                                                                  "adult")
        assert image.age_group == expected
        if expected == "child":
            assert image.predicted == "COVID-19"
    # The figures are those of the same decisions: the matrix's COVID-19 column counts them.
    matrix = np.array(result.metrics["confusion_matrix"])
    covid = result.classes.index("COVID-19")
    assert matrix[:, covid].sum() == sum(i.predicted == "COVID-19" for i in measured)
    assert by_name["img1.png"].age_group == "child"


def test_every_answer_says_which_thresholds_decided_and_why(analyzer: Analyzer,
                                                            tmp_path: Path) -> None:
    from desktop_app.core.patient_age import age_group_basis

    adult, unknown = analyzer.analyse([_film(tmp_path, "a.dcm", "045Y"),
                                       _film(tmp_path, "u.dcm", None)])
    thresholds = adult.decision.thresholds
    assert thresholds == thresholds_for(analyzer.card.decision, "adult")[0]
    words = ", ".join(f"{name} {value:.0%}" for name, value in thresholds.items())
    assert adult.thresholds_note == f"adult thresholds ({words}): PatientAge 045Y"
    record = adult.to_json()
    assert (record["age_group"], record["patient_age_years"], record["age_source"]) == (
        "adult", 45.0, "DICOM PatientAge 045Y")
    assert record["thresholds"] == adult.thresholds_note
    assert record["decision_reason"] == adult.decision.reason
    assert unknown.thresholds_note.startswith("thresholds for all ages (")
    assert "age unknown: " in unknown.thresholds_note
    assert "PatientAge" in unknown.thresholds_note
    # A data file's age group, for formats without an age.
    assert age_group_basis(PatientAge.unknown("PNG"), "child") == \
        "the age group 'child' given with the film"
    assert age_group_basis(None, "unknown") == "age unknown"
