"""The result panel shows the measured figures of the patient's own age group."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from desktop_app.core.classify.analysis import ImageResult
from desktop_app.core.metrics.figures import FEW_IMAGES
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.patient_age import PatientAge
from desktop_app.ui.result_panel import ResultPanel


def _fig(value: float, low: float, high: float, n: int) -> dict[str, Any]:
    return {"value": value, "ci95": [low, high], "n": n}


def _group(n: int, accuracy: dict[str, Any], covid: dict[str, Any] | None,
           normal: dict[str, Any] | None, false_covid: dict[str, Any] | None) -> dict[str, Any]:
    return {"n": n, "accuracy": accuracy, "ece": _fig(0.05, 0.03, 0.07, n),
            "per_class": {"Normal": {"n": 0 if normal is None else normal["n"],
                                     "sensitivity": normal},
                          "Pneumonia": {"n": 0, "sensitivity": None},
                          "COVID-19": {"n": 0 if covid is None else covid["n"],
                                       "sensitivity": covid}},
            "labelled_covid_non_covid": false_covid}


# The shape model_training.population_metrics writes (made-up numbers).
POPULATIONS = {
    "decision_rule": "the app's decide() at the card's operating point",
    "overall": {"n": 760, "accuracy": _fig(0.88, 0.85, 0.91, 760)},
    "per_class": {},
    "per_source": {},
    "per_age_group": {
        "adult": _group(265, _fig(0.762, 0.695, 0.825, 265), _fig(0.97, 0.934, 1.0, 101),
                        _fig(0.667, 0.529, 0.791, 69), _fig(0.189, 0.115, 0.267, 164)),
        "child": _group(492, _fig(0.949, 0.928, 0.967, 492), _fig(1.0, 1.0, 1.0, 1),
                        _fig(0.934, 0.9, 0.966, 226), _fig(0.016, 0.006, 0.029, 491)),
        "unknown": _group(3, _fig(0.5, 0.0, 1.0, 3), None, None, None),
    },
    "key_figures": {},
    "bootstrap": {"rounds": 200, "unit": "patient", "seed": 0},
}


@pytest.fixture
def population_bundle(tiny_bundle: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "population-card"
    shutil.copytree(tiny_bundle, folder)
    card = json.loads((folder / "model_card.json").read_text(encoding="utf-8"))
    card["metrics"] = {"test": {"n": 760, "populations": POPULATIONS}}
    (folder / "model_card.json").write_text(json.dumps(card), encoding="utf-8")
    return folder


def _panel(qtbot, bundle: Path, age: PatientAge | None, shown: str = "COVID-19") -> str:
    card = load_bundle(bundle).card
    panel = ResultPanel()
    qtbot.addWidget(panel)
    panel.set_model_card(card)
    probabilities = dict(zip(card.classes, np.full(len(card.classes), 1 / len(card.classes)),
                             strict=True))
    panel.set_result(ImageResult(Path("film.dcm"), card.model_id,
                                 probabilities={k: float(v) for k, v in probabilities.items()},
                                 age=age))
    panel.set_shown_class(shown)
    assert panel.metrics_box.isVisibleTo(panel)
    return panel.metrics_label.text()


def test_an_adult_sees_the_adult_figures_only(qtbot, population_bundle: Path) -> None:
    text = _panel(qtbot, population_bundle, PatientAge(45.0, "DICOM PatientAge 045Y"))
    assert "45 years (DICOM PatientAge 045Y)" in text
    assert "Figures for <b>adults</b>" in text
    assert "<b>97.0 %</b><br><small>93.4-100.0&nbsp;&nbsp;n=101</small>" in text
    assert "<b>18.9 %</b><br><small>11.5-26.7&nbsp;&nbsp;n=164</small>" in text  # false COVID
    assert "<b>76.2 %</b>" in text
    assert "Children" not in text
    assert "Few images" not in text  # every adult figure rests on 30 images or more


def test_a_child_sees_the_child_figures_and_a_warning_on_few_images(
        qtbot, population_bundle: Path) -> None:
    text = _panel(qtbot, population_bundle,
                  PatientAge(5.7, "DICOM PatientBirthDate and StudyDate"))
    assert "Figures for <b>children</b>" in text
    assert "n=491" in text
    assert "Adults</th>" not in text
    # One COVID-19 film among the children: the figure is shown with a warning.
    assert f"Few images (under {FEW_IMAGES}), so wide uncertainty: COVID-19 found, " \
           "children (n=1)" in text


def test_unknown_age_shows_adults_and_children_side_by_side(
        qtbot, population_bundle: Path) -> None:
    text = _panel(qtbot, population_bundle,
                  PatientAge.unknown("PNG files carry no patient age"), shown="Normal")
    assert "unknown (PNG files carry no patient age)" in text
    assert "Figures for adults and children" in text
    assert "Adults</th>" in text
    assert "Children</th>" in text
    assert "Normal found (sensitivity)" in text
    assert "n=69" in text
    assert "n=226" in text
    # The false-COVID rate belongs to a COVID-19 label only.
    assert "labelled COVID-19" not in text
    assert "Few images" not in text


def test_older_cards_say_what_is_missing(qtbot, tiny_bundle: Path) -> None:
    text = _panel(qtbot, tiny_bundle, PatientAge(45.0, "DICOM PatientAge 045Y"))
    assert "Sensitivity: not reported" in text
    assert "no figures per age group" in text
    assert "Patient's age: 45 years (DICOM PatientAge 045Y)" in text


def test_a_dicom_film_opened_in_the_window_picks_its_age_group(
        qtbot, make_window, population_bundle: Path, tmp_path: Path) -> None:
    from desktop_app.core.classify.synthetic import synthetic_radiograph
    from tests.image_factory import dicom_dataset, write_dicom
    from tests.ui.test_ui_results import _open_and_wait, _select

    # The same generated film the tiny test model's gate accepts as PNG, stored as DICOM.
    ds = dicom_dataset(synthetic_radiograph((320, 384), seed=1), bits_stored=8, rescale=None)
    ds.PatientAge = "067Y"
    film = write_dicom(ds, tmp_path / "adult.dcm")
    window = make_window(model_dir=population_bundle)
    _open_and_wait(qtbot, window, [film])
    record = window.table_model.records()[0]
    assert record.result is not None
    assert record.result.ok, record.result.error
    _select(qtbot, window, record.key)
    text = window.panel.metrics_label.text()
    if record.result.out_of_distribution:
        # The untrained test model may refuse the film; then no figures are shown at all.
        assert not window.panel.metrics_box.isVisibleTo(window.panel)
        return
    assert "67 years (DICOM PatientAge 067Y)" in text
    assert "Figures for <b>adults</b>" in text


LEAVE_ONE_SOURCE_OUT = {
    "what": "each COVID-19 source in turn left out of training and tested on",
    "runs": [{"source": "hospital-a", "test_images": 38,
              "covid_sensitivity": _fig(0.826, 0.619, 0.969, 23),
              "non_covid_labelled_covid": _fig(0.733, 0.499, 0.944, 15),
              "accuracy": _fig(0.5, 0.314, 0.674, 38)}],
}


@pytest.fixture
def full_card_bundle(population_bundle: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "full-card"
    shutil.copytree(population_bundle, folder)
    card = json.loads((folder / "model_card.json").read_text(encoding="utf-8"))
    card["metrics"]["test"]["populations"]["key_figures"] = {
        "adult_false_covid_rate": _fig(0.189, 0.115, 0.267, 164)}
    card["metrics"]["test"]["populations"]["per_source"] = {
        "hospital-a": _group(8, _fig(0.5, 0.0, 1.0, 8), None, None, None)}
    card["metrics"]["leave_one_source_out"] = LEAVE_ONE_SOURCE_OUT
    (folder / "model_card.json").write_text(json.dumps(card), encoding="utf-8")
    return folder


def test_card_dialog_shows_a_hospital_never_seen_and_the_limits_in_words(
        qtbot, full_card_bundle: Path, tiny_bundle: Path) -> None:
    from desktop_app.ui.model_card_dialog import ModelCardDialog

    dialog = ModelCardDialog(load_bundle(full_card_bundle).card)
    qtbot.addWidget(dialog)
    text = dialog.text()
    assert "A hospital the model never saw (leave one source out)" in text
    assert "82.6 % (61.9-96.9), n=23 *" in text
    assert "What this means in practice" in text
    assert ("Adults without COVID-19 were labelled COVID-19 in 18.9 % of 164 films "
            "(95 % CI 11.5-26.7), about 1 in 5") in text
    assert "Accuracy is 76% on adults (265 films) and 95% on children (492 films)" in text
    assert "hospital-a (8)" in text  # a source resting on few films is named
    assert f"Children: fewer than {FEW_IMAGES} Pneumonia or COVID-19 films were tested" in text
    assert "With every hospital-a film left out of training" in text

    old = ModelCardDialog(load_bundle(tiny_bundle).card)
    qtbot.addWidget(old)
    text = old.text()
    assert "no figures per age group or per source (older model)" in text
    assert "Not measured: this card records no leave-one-source-out test" in text


def test_exports_carry_the_age_and_the_report_ends_with_who_the_model_works_for(
        full_card_bundle: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    import re

    from desktop_app.core.decision import decide
    from desktop_app.ui.exporters import csv_rows, write_pdf_report
    from desktop_app.ui.results_table import RowRecord, Status

    bundle = load_bundle(full_card_bundle)
    classes = bundle.card.classes
    probabilities = np.array([0.1, 0.1, 0.8])
    results = [
        ImageResult(tmp_path / name, bundle.card.model_id,
                    probabilities=dict(zip(classes, probabilities.tolist(), strict=True)),
                    decision=decide(probabilities, classes, bundle.card.decision), age=age)
        for name, age in (("adult.dcm", PatientAge(45.0, "DICOM PatientAge 045Y")),
                          ("film.png", PatientAge.unknown("PNG files carry no patient age")))]
    records = [RowRecord(i, r.path, Status.DONE, r) for i, r in enumerate(results)]
    header, *rows = csv_rows(records, classes, bundle.card.model_id)
    age = header.index("patient_age_years")  # the worklist's own columns follow
    assert header[age:age + 2] == ["patient_age_years", "age_group"]
    assert [row[age:age + 2] for row in rows] == [["45.0", "adult"], ["", "unknown"]]

    def pages(path: Path) -> int:
        return len(re.findall(rb"/Type\s*/Page(?![s\w])", path.read_bytes()))

    out = tmp_path / "report.pdf"
    assert write_pdf_report(out, bundle, [r.path for r in results], results=results) == 2
    assert pages(out) == 3  # two films and the page on who the model works for
    older = tmp_path / "older.pdf"
    old_bundle = load_bundle(tiny_bundle)
    assert write_pdf_report(older, old_bundle, [r.path for r in results], results=results) == 2
    assert pages(older) == 2  # nothing per population to report
