"""Model-card figures in the panel, the dialog and the report: both card layouts, and absence."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.locations import bundled_model_dir
from desktop_app.core.metrics.figures import KEY_FIGURES, format_figure
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.model.model_card import ModelCard
from desktop_app.ui.card_metrics import (
    calibration_summary,
    class_metrics,
    format_metric,
    split_section,
)
from desktop_app.ui.model_card_dialog import ModelCardDialog

# The layout the training code writes (numbers are made up for the test).
SPLIT_METRICS = {
    "test": {
        "n": 10,
        "overall": {
            "accuracy": 0.9, "ece": 0.012, "nll": 0.2,
            "per_class": {
                "Normal": {"sensitivity": 0.91, "specificity": 0.95, "auroc": 0.97},
                "Pneumonia": {"sensitivity": 0.92, "specificity": 0.96, "auroc": 0.98},
                "COVID-19": {"sensitivity": 0.93, "specificity": 0.94, "auroc": 0.99},
            },
        },
        "uncalibrated": {"ece": 0.03, "nll": 0.25},
        "operating_point": {"per_class": {"COVID-19": {"sensitivity": 0.97,
                                                       "specificity": 0.9}}},
        "per_source": {"kermany": {"n": 7, "accuracy": 0.95, "macro_auroc": 0.99,
                                   "per_class": {"Normal": {"sensitivity": 0.96}}},
                       "ieee8023": {"n": 3, "accuracy": 0.66, "macro_auroc": None,
                                    "per_class": {}}},
        "shortcut_audit": {"mask": "two ellipses over the lungs",
                           "overall": {"accuracy": 0.31, "per_class": {
                               "COVID-19": {"sensitivity": 0.98}}}},
        "pediatric": {"n": 6, "accuracy": 0.97},
    },
    "validation": {"n": 5},
}


@pytest.fixture
def split_card_bundle(tiny_bundle: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "split-card"
    shutil.copytree(tiny_bundle, folder)
    card = json.loads((folder / "model_card.json").read_text(encoding="utf-8"))
    card["metrics"] = SPLIT_METRICS
    card["limitations"] = ["Shortcut risk: pediatric Normal vs adult COVID-19.", "Frontal only."]
    (folder / "model_card.json").write_text(json.dumps(card), encoding="utf-8")
    return folder


def test_class_metrics_prefer_the_operating_point_on_the_test_set(split_card_bundle) -> None:
    card = load_bundle(split_card_bundle).card
    covid = class_metrics(card, "COVID-19")
    assert (covid.sensitivity, covid.specificity, covid.auroc) == (0.97, 0.9, 0.99)
    assert covid.where == "test set (n=10), at the operating point"
    normal = class_metrics(card, "Normal")
    assert (normal.sensitivity, normal.specificity) == (0.91, 0.95)
    calibration = calibration_summary(card)
    assert calibration["expected calibration error, calibrated (test)"] == 0.012
    assert calibration["expected calibration error, uncalibrated (test)"] == 0.03


def test_flat_per_class_metrics_and_absence(tiny_bundle: Path) -> None:
    card = load_bundle(tiny_bundle).card
    assert not class_metrics(card, "COVID-19").reported
    assert format_metric(None) == "not reported"
    flat = card.__class__(**{**card.__dict__, "metrics": {
        "per_class": {"COVID-19": {"sensitivity": 0.8, "specificity": 0.7}}}})
    measured = class_metrics(flat, "COVID-19")
    assert (measured.sensitivity, measured.specificity, measured.auroc) == (0.8, 0.7, None)


def test_panel_shows_the_measured_figures_of_the_shown_class(qtbot, split_card_bundle) -> None:
    from desktop_app.ui.result_panel import ResultPanel

    panel = ResultPanel()
    qtbot.addWidget(panel)
    panel.set_model_card(load_bundle(split_card_bundle).card)  # what a model load does
    panel.set_shown_class("COVID-19")
    text = panel.metrics_label.text()
    assert "Sensitivity: 97.0%" in text
    assert "Specificity: 90.0%" in text
    assert "AUROC: 0.990" in text
    assert "test set (n=10), at the operating point" in text


def test_dialog_shows_per_source_shortcut_audit_and_calibration(qtbot, split_card_bundle) -> None:
    dialog = ModelCardDialog(load_bundle(split_card_bundle).card)
    qtbot.addWidget(dialog)
    text = dialog.text()
    for expected in ("kermany", "ieee8023", "lungs masked", "two ellipses over the lungs",
                     "Pediatric subset", "Shortcut risk", "expected calibration error",
                     "97.0%", "not reported"):
        assert expected in text, expected


def test_dialog_says_which_model_the_app_runs(qtbot, split_card_bundle, tmp_path: Path) -> None:
    dialog = ModelCardDialog(load_bundle(split_card_bundle).card)
    qtbot.addWidget(dialog)
    assert "LiteRT, float32" in dialog.text()

    folder = tmp_path / "int8-card"
    shutil.copytree(split_card_bundle, folder)
    card = json.loads((folder / "model_card.json").read_text(encoding="utf-8"))
    card["metrics"]["export"] = {"quantization": "int8", "images": 380,
                                 "max_abs_probability_difference": 0.089,
                                 "argmax_agreement": 0.992}
    (folder / "model_card.json").write_text(json.dumps(card), encoding="utf-8")
    dialog = ModelCardDialog(load_bundle(folder).card)
    qtbot.addWidget(dialog)
    text = dialog.text()
    assert "LiteRT, int8" in text
    assert "at most 0.089" in text
    assert "99.2%" in text


# -- per-population figures ("Who it works for") --------------------------------------------


def _fig(value: float, low: float, high: float, n: int) -> dict[str, object]:
    return {"value": value, "ci95": [low, high], "n": n}


def _group(n: int, accuracy: dict | None, false_covid: dict | None, ece: dict | None) -> dict:
    return {"n": n, "accuracy": accuracy, "ece": ece, "per_class": {},
            "labelled_covid_non_covid": false_covid}


# The shape model_training.population_metrics writes (numbers made up for the test).
POPULATIONS = {
    "decision_rule": "the app's decide() at the card's operating point",
    "overall": {"n": 250, "accuracy": _fig(0.8, 0.75, 0.85, 250),
                "ece": _fig(0.05, 0.03, 0.07, 250)},
    "per_class": {},
    "per_source": {
        "nih": _group(150, _fig(0.62, 0.55, 0.70, 150), _fig(0.081, 0.04, 0.13, 120),
                      _fig(0.091, 0.06, 0.12, 150)),
        "cxnet": _group(12, _fig(1.0, 1.0, 1.0, 12), None, _fig(0.034, 0.02, 0.05, 12)),
    },
    "per_age_group": {
        "adult": _group(200, _fig(0.7, 0.64, 0.77, 200), _fig(0.123, 0.081, 0.17, 140),
                        _fig(0.06, 0.04, 0.08, 200)),
        "child": _group(50, _fig(0.96, 0.9, 1.0, 50), _fig(0.0, 0.0, 0.0, 40),
                        _fig(0.02, 0.01, 0.04, 50)),
    },
    "key_figures": {
        "adult_false_covid_rate": _fig(0.123, 0.081, 0.17, 140),
        "adult_covid_sensitivity": _fig(0.9, 0.7, 1.0, 20),
        "nih_adult_normal_vs_pneumonia_auroc": _fig(0.812, 0.75, 0.87, 150),
        "child_accuracy": _fig(0.96, 0.9, 1.0, 50),
        "child_normal_vs_pneumonia_accuracy": None,
        "ece": _fig(0.05, 0.03, 0.07, 250),
    },
    "bootstrap": {"rounds": 200, "unit": "patient", "seed": 0, "interval": "percentile, 95 %"},
}


def _bundled_card(metrics: dict) -> ModelCard:
    """The bundled model's card (no TensorFlow needed) with ``metrics`` swapped in."""
    return dataclasses.replace(ModelCard.read(bundled_model_dir() / "model_card.json"),
                               metrics=metrics)


def _population_lines(text: str) -> str:
    """The "Who it works for" section of the dialog's plain text."""
    start = text.index("Who it works for")
    return text[start:text.index("Performance per class", start)]


def test_figure_format_quotes_value_interval_and_images() -> None:
    assert format_figure(_fig(0.123, 0.081, 0.17, 140)) == "12.3 % (8.1-17.0), n=140"
    assert format_figure(_fig(0.812, 0.75, 0.87, 150), percent=False) == \
        "0.812 (0.750-0.870), n=150"
    assert format_figure(_fig(0.9, 0.7, 1.0, 20)) == "90.0 % (70.0-100.0), n=20 *"
    assert format_figure({"value": 0.5, "ci95": None, "n": 40}) == "50.0 %, n=40"
    assert format_figure(None) == "no data"


def test_the_key_figures_shown_are_the_ones_measured() -> None:
    """One list names the key figures: the window's, the commands' and training's."""
    from desktop_app.core.metrics.populations import population_metrics
    from model_training.population_metrics import KEY_FIGURES as MEASURED

    assert MEASURED is KEY_FIGURES
    card = load_bundle(bundled_model_dir()).card
    measured = population_metrics(np.tile([0.8, 0.1, 0.1], (6, 1)), np.zeros(6, dtype=int),
                                  card.classes, card.decision, sources=["nih"] * 6,
                                  age_groups=["adult"] * 6, bootstrap_rounds=0)
    assert list(measured["key_figures"]) == [figure.key for figure in KEY_FIGURES]


def test_dialog_shows_who_the_model_works_for(qtbot) -> None:
    metrics = {**SPLIT_METRICS, "test": {**SPLIT_METRICS["test"], "populations": POPULATIONS}}
    dialog = ModelCardDialog(_bundled_card(metrics))
    qtbot.addWidget(dialog)
    section = _population_lines(dialog.text())
    assert "Measured on the held-out test set (250 images)" in section
    assert "200 resamples of patients" in section
    for expected in (
        "Adults without COVID-19 labelled COVID-19 (false-COVID rate)",
        "12.3 % (8.1-17.0), n=140",
        "Adults with COVID-19 labelled COVID-19 (sensitivity)",
        "90.0 % (70.0-100.0), n=20 *",  # 20 images: flagged
        "NIH adults, Normal vs Pneumonia (AUROC)", "0.812 (0.750-0.870), n=150",
        "Children, accuracy (three classes)", "96.0 % (90.0-100.0), n=50",
        "not measurable (no images)",  # child Normal-vs-Pneumonia accuracy is None
        "0.050 (0.030-0.070), n=250",
        "few images (under 30): wide uncertainty",
    ):
        assert expected in section, expected
    lines = section.splitlines()

    def row(name: str) -> list[str]:
        """A table row (plain text puts one cell per line): images, accuracy, false COVID, ECE."""
        start = lines.index(name)
        return lines[start + 1:start + 5]

    assert row("Adults") == [
        "200", "70.0 % (64.0-77.0)", "12.3 % (8.1-17.0), n=140", "0.060 (0.040-0.080)"]
    assert row("Children")[:2] == ["50", "96.0 % (90.0-100.0)"]
    assert row("nih") == [
        "150", "62.0 % (55.0-70.0)", "8.1 % (4.0-13.0), n=120", "0.091 (0.060-0.120)"]
    assert row("cxnet") == ["12", "100.0 % (100.0-100.0) *", "—", "0.034 (0.020-0.050) *"]
    # The raw block is not dumped again under "All reported metrics".
    assert 'shown under "Who it works for"' in dialog.text()
    assert "labelled_covid_non_covid" not in dialog.text()


def test_dialog_falls_back_to_validation_populations_and_says_so(qtbot) -> None:
    metrics = {**SPLIT_METRICS, "validation": {"n": 250, "populations": POPULATIONS}}
    dialog = ModelCardDialog(_bundled_card(metrics))
    qtbot.addWidget(dialog)
    section = _population_lines(dialog.text())
    assert "Measured on the validation set (250 images)" in section
    assert "somewhat optimistic" in section
    assert "12.3 % (8.1-17.0), n=140" in section


def test_card_without_populations_says_so_plainly(qtbot) -> None:
    # An older card: the bundled one with the per-population figures taken out.
    bundled = ModelCard.read(bundled_model_dir() / "model_card.json")
    metrics = {name: ({k: v for k, v in section.items() if k != "populations"}
                      if isinstance(section, dict) else section)
               for name, section in bundled.metrics.items()}
    card = _bundled_card(metrics)
    assert split_section(card, "populations") == ("", None)
    dialog = ModelCardDialog(card)
    qtbot.addWidget(dialog)
    section = _population_lines(dialog.text())
    assert "This model's card has no per-population figures" in section
    assert "measured when a model is trained again" in section
    assert "Performance per source" in dialog.text()  # the existing content stays


def test_dialog_shows_refused_and_cautioned_films_and_the_unseen_source_gate(qtbot) -> None:
    entry = {"value": 0.99, "ci95": [0.97, 1.0], "n": 197}
    counting = {"value": 0.81, "ci95": [0.76, 0.86], "n": 241}
    gate = {"films": 241, "refused": 44, "cautioned": 12, "per_class": {
        "COVID-19": {"films": 241, "refused": 44, "cautioned": 12,
                     "sensitivity_labelled": entry, "sensitivity_counting_refused": counting}}}
    study = {"measured": "2026-12-06", "per_source": {
        "nih": {"n": 726, "refused_one_tier": 0.298, "refused_two_tiers": 0.014,
                "cautioned": 0.284}},
        "strict": {"nih": {"n": 726, "refused_two_tiers": 0.03}}}
    metrics = {**SPLIT_METRICS, "test": {**SPLIT_METRICS["test"], "gate": gate},
               "leave_one_source_out_gate": study}
    dialog = ModelCardDialog(_bundled_card(metrics))
    qtbot.addWidget(dialog)
    text = dialog.text()
    assert "44 of 241 films refused, 12 labelled with a caution" in text
    for expected in ("found, counting refused films as not found", "81.0 % (76.0-86.0)",
                     "99.0 % (97.0-100.0)", "29.8%", "1.4%", "28.4%", "3.0%"):
        assert expected in text, expected


def test_dialog_says_when_a_card_has_no_gate_figures(qtbot, split_card_bundle) -> None:
    dialog = ModelCardDialog(load_bundle(split_card_bundle).card)
    qtbot.addWidget(dialog)
    assert "records no gate figures on its TEST split" in dialog.text()


def test_dialog_shows_what_the_gate_does_with_each_kind_of_image(qtbot) -> None:
    study = {"measured": "2026-12-07", "view_model": "lunglens-view-test",
             "per_category": {
                 "CT chest": {"n": 20, "refused": 19, "cautioned": 1, "answered": 0},
                 "frontal TEST, nih": {"n": 148, "refused": 0, "cautioned": 2,
                                       "answered": 146}},
             "held_out_categories": {"CT (lunglens-view-x)": {
                 "all CT chest": {"n": 39, "refused": 38, "cautioned": 1, "answered": 0}}}}
    dialog = ModelCardDialog(_bundled_card({**SPLIT_METRICS, "gate_by_category": study}))
    qtbot.addWidget(dialog)
    text = dialog.text()
    assert "What the gate does with each kind of image" in text
    for expected in ("CT chest", "95.0%", "5.0%", "98.6%",
                     "CT chest, view check trained without CT", "97.4%",
                     "lunglens-view-test"):
        assert expected in text, expected
