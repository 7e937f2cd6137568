"""The wizard's Results page compares who the new and the installed model work for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6 import QtCore

from desktop_app.core.model.model_store import ModelStore
from desktop_app.ui.training_tasks import TrainingOutcome
from desktop_app.ui.wizard_pages.common import WizardContext
from desktop_app.ui.wizard_pages.results_page import (
    NOT_MEASURED,
    ResultsPage,
    population_note,
    population_rows,
)

CLASSES = ["Normal", "Pneumonia", "COVID-19"]


def _fig(value: float, low: float, high: float, n: int) -> dict[str, Any]:
    return {"value": value, "ci95": [low, high], "n": n}


def _populations(false_covid: dict[str, Any], covid: dict[str, Any], auroc: dict[str, Any],
                 child: dict[str, Any], ece: dict[str, Any]) -> dict[str, Any]:
    """The shape model_training.population_metrics writes (made-up numbers)."""
    def group(n: int, accuracy: dict, labelled_covid: dict | None) -> dict[str, Any]:
        return {"n": n, "accuracy": accuracy, "ece": ece, "per_class": {},
                "labelled_covid_non_covid": labelled_covid}

    return {
        "decision_rule": "the app's decide() at the card's operating point",
        "overall": {"n": 250, "accuracy": _fig(0.8, 0.75, 0.85, 250), "ece": ece},
        "per_class": {},
        "per_source": {},
        "per_age_group": {"child": group(50, child, _fig(0.0, 0.0, 0.0, 40)),
                          "adult": group(200, _fig(0.7, 0.64, 0.77, 200), false_covid)},
        "key_figures": {"adult_false_covid_rate": false_covid,
                        "adult_covid_sensitivity": covid,
                        "nih_adult_normal_vs_pneumonia_auroc": auroc,
                        "child_accuracy": child,
                        "child_normal_vs_pneumonia_accuracy": None,
                        "ece": ece},
        "bootstrap": {"rounds": 200, "unit": "patient", "seed": 0,
                      "interval": "percentile, 95 %"},
    }


def _metrics(populations: dict[str, Any] | None) -> dict[str, Any]:
    metrics: dict[str, Any] = {"n": 250, "classes": CLASSES,
                               "overall": {"accuracy": 0.8, "macro_auroc": 0.9, "ece": 0.05}}
    if populations is not None:
        metrics["populations"] = populations
    return metrics


NEW = _metrics(_populations(
    false_covid=_fig(0.123, 0.081, 0.17, 140), covid=_fig(0.9, 0.7, 1.0, 20),
    auroc=_fig(0.812, 0.75, 0.87, 150), child=_fig(0.96, 0.9, 1.0, 50),
    ece=_fig(0.05, 0.03, 0.07, 250)))
# The failure that made an earlier model useless on adults: almost every adult film COVID-19.
INSTALLED = _metrics(_populations(
    false_covid=_fig(0.976, 0.942, 1.0, 140), covid=_fig(0.99, 0.968, 1.0, 20),
    auroc=_fig(0.442, 0.334, 0.559, 150), child=_fig(0.965, 0.948, 0.98, 50),
    ece=_fig(0.169, 0.126, 0.218, 250)))


def _page(qtbot, tmp_path: Path, new: dict[str, Any], current: dict[str, Any] | None
          ) -> ResultsPage:
    context = WizardContext(store=ModelStore(root=tmp_path / "store", bundled=tmp_path),
                            pool=QtCore.QThreadPool())
    context.outcome = TrainingOutcome(
        run_dir=tmp_path, bundle_dir=tmp_path / "bundle", report_dir=tmp_path / "report",
        report={"model_id": "new-model", "metrics": {"test": new}}, current=current,
        current_model_id="installed-model")
    page = ResultsPage(context)
    qtbot.addWidget(page)
    page.initializePage()
    return page


def _table(page: ResultsPage) -> dict[str, tuple[str, str, bool, bool]]:
    """"Heading: label" -> (new text, installed text, new bold?, installed bold?)."""
    table = page.populations
    rows: dict[str, tuple[str, str, bool, bool]] = {}
    heading = ""
    for row in range(table.rowCount()):
        label = table.item(row, 0).text().strip()
        if table.columnSpan(row, 0) == 3:
            heading = label
            continue
        new, installed = table.item(row, 1), table.item(row, 2)
        rows[f"{heading}: {label}"] = (new.text(), installed.text(), new.font().bold(),
                                       installed.font().bold())
    return rows


def _age_groups(page: ResultsPage) -> dict[str, dict[str, tuple[str, bool]]]:
    """Column header -> {figure: (text, bold?)} of the per-age-group table."""
    table = page.age_groups
    columns: dict[str, dict[str, tuple[str, bool]]] = {}
    for column in range(table.columnCount()):
        header = table.horizontalHeaderItem(column).text()
        columns[header] = {table.item(row, 0).text(): (table.item(row, column).text(),
                                                       table.item(row, column).font().bold())
                           for row in range(table.rowCount())}
    return columns


def test_key_figures_and_age_groups_for_both_models(qtbot, tmp_path: Path) -> None:
    page = _page(qtbot, tmp_path, NEW, INSTALLED)
    rows = _table(page)
    key = "Key figures: value (95 % CI), images"
    # Non-overlapping intervals: the clearly better model is bold.
    assert rows[f"{key}: Adults: false COVID-19"] == (
        "12.3 % (8.1-17.0), n=140", "97.6 % (94.2-100.0), n=140", True, False)
    assert rows[f"{key}: NIH adults: Normal vs Pneumonia AUROC"] == (
        "0.812 (0.750-0.870), n=150", "0.442 (0.334-0.559), n=150", True, False)
    assert rows[f"{key}: Calibration error (ECE)"] == (
        "0.050 (0.030-0.070), n=250", "0.169 (0.126-0.218), n=250", True, False)
    # Overlapping intervals: neither is bold; 20 images are flagged.
    assert rows[f"{key}: Adults: COVID-19 found"] == (
        "90.0 % (70.0-100.0), n=20 *", "99.0 % (96.8-100.0), n=20 *", False, False)
    assert rows[f"{key}: Children: accuracy"] == (
        "96.0 % (90.0-100.0), n=50", "96.5 % (94.8-98.0), n=50", False, False)
    assert rows[f"{key}: Children: Normal vs Pneumonia accuracy"][:2] == (
        "no data", "no data")
    # Age groups as column pairs, adults first: images, accuracy, false COVID-19 and ECE.
    groups = _age_groups(page)
    assert list(groups["Figure"]) == ["Images", "Accuracy", "False COVID-19",
                                      "Calibration error (ECE)"]
    assert groups["Adults: new"]["Images"] == ("200", False)
    assert groups["Adults: installed"]["Images"] == ("200", False)
    assert groups["Adults: new"]["False COVID-19"] == ("12.3 % (8.1-17.0), n=140", True)
    assert groups["Adults: installed"]["False COVID-19"] == ("97.6 % (94.2-100.0), n=140",
                                                            False)
    assert groups["Children: new"]["Accuracy"] == ("96.0 % (90.0-100.0), n=50", False)
    assert groups["Children: installed"]["Accuracy"] == ("96.5 % (94.8-98.0), n=50", False)
    # The short labels carry the full wording as a tooltip.
    first = next(r for r in range(page.populations.rowCount())
                 if page.populations.item(r, 0).text().strip() == "Adults: false COVID-19")
    assert page.populations.item(first, 0).toolTip() == (
        "Adults without COVID-19 labelled COVID-19 (false-COVID rate)")
    assert page.figures.tabText(0) == "Who it works for"
    assert page.figures.currentIndex() == 0
    assert "few images (under 30): wide uncertainty" in page.population_note.text()
    assert "not measured" not in page.population_note.text()
    # The overall table keeps its rows (the end-to-end wizard test reads "Accuracy" there).
    assert page.table.item(1, 0).text() == "Accuracy"


def test_installed_model_without_populations_is_not_measured(qtbot, tmp_path: Path) -> None:
    page = _page(qtbot, tmp_path, NEW, _metrics(None))
    rows = _table(page)
    key = "Key figures: value (95 % CI), images"
    assert rows[f"{key}: Adults: false COVID-19"] == (
        "12.3 % (8.1-17.0), n=140", NOT_MEASURED, False, False)
    groups = _age_groups(page)
    assert groups["Adults: new"]["Images"][0] == "200"
    assert groups["Adults: installed"]["Images"][0] == NOT_MEASURED
    assert "not measured for the installed model" in page.population_note.text()


@pytest.mark.parametrize(("current", "installed_text"), [(None, "—"),
                                                         (_metrics(None), NOT_MEASURED)])
def test_neither_model_measured(current: dict[str, Any] | None, installed_text: str) -> None:
    rows = population_rows(_metrics(None), current)
    assert [row.label for row in rows if row.heading] == [
        "Key figures: value (95 % CI), images"]  # no age groups to show
    figures = [row for row in rows if not row.heading]
    assert len(figures) == 6
    assert {(row.new, row.installed, row.better) for row in figures} == {
        (NOT_MEASURED, installed_text, None)}
    note = population_note(_metrics(None), current)
    expected = ("the new model and the installed model" if current is not None
                else "the new model (")
    assert expected in note
