"""Model-card figures in the panel, the dialog and the report: both card layouts, and absence."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from desktop_app.core.model_bundle import load_bundle
from desktop_app.ui.card_metrics import calibration_summary, class_metrics, format_metric
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


def test_panel_shows_the_measured_figures_of_the_shown_class(qtbot, make_window,
                                                             split_card_bundle) -> None:
    window = make_window(model_dir=split_card_bundle)
    window.panel.set_shown_class("COVID-19")
    text = window.panel.metrics_label.text()
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
