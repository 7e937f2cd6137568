"""The wizard's install advice follows the stated rule on the figures that matter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6 import QtCore

from desktop_app.core.model.model_store import ModelStore
from desktop_app.ui.training_tasks import TrainingOutcome
from desktop_app.ui.wizard_pages.common import WizardContext
from desktop_app.ui.wizard_pages.install_page import InstallPage
from desktop_app.ui.wizard_pages.results_page import ResultsPage, is_worse, recommendation
from desktop_app.ui.wizard_pages.verdict import (
    BETTER,
    NO_DIFFERENCE,
    NOT_COMPARED,
    RULE,
    WORSE,
    compare_figure,
    macro_auroc_figure,
    verdict,
)

CLASSES = ["Normal", "Pneumonia", "COVID-19"]


def _fig(value: float, low: float, high: float, n: int) -> dict[str, Any]:
    return {"value": value, "ci95": [low, high], "n": n}


def _metrics(*, accuracy: float, aurocs: tuple[dict[str, Any], ...] | None,
             false_covid: dict[str, Any] | None, covid: dict[str, Any] | None) -> dict[str, Any]:
    """An evaluation with overall figures (no intervals) and a populations section."""
    populations: dict[str, Any] = {
        "overall": {"n": 300, "accuracy": _fig(accuracy, accuracy - 0.04, accuracy + 0.04, 300)},
        "per_class": ({name: {"n": 100, "auroc": auroc}
                       for name, auroc in zip(CLASSES, aurocs, strict=True)}
                      if aurocs is not None else {}),
        "per_source": {},
        "per_age_group": {"adult": {"n": 150, "accuracy": _fig(0.8, 0.74, 0.86, 150),
                                    "labelled_covid_non_covid": false_covid,
                                    "ece": _fig(0.05, 0.03, 0.07, 150)}},
        "key_figures": {"adult_false_covid_rate": false_covid,
                        "adult_covid_sensitivity": covid},
    }
    return {"n": 300, "classes": CLASSES,
            "overall": {"accuracy": accuracy, "macro_auroc": 0.9, "ece": 0.05},
            "populations": populations}


SAME_AUROC = (_fig(0.95, 0.92, 0.97, 300),) * 3


def test_the_rule_on_one_figure() -> None:
    low, high = _fig(0.10, 0.05, 0.15, 100), _fig(0.40, 0.30, 0.50, 100)
    overlapping = _fig(0.14, 0.09, 0.20, 100)
    assert compare_figure(low, high, higher_is_better=False) == (BETTER, "")
    assert compare_figure(high, low, higher_is_better=False) == (WORSE, "")
    assert compare_figure(high, low, higher_is_better=True) == (BETTER, "")
    assert compare_figure(low, overlapping, higher_is_better=False) == (NO_DIFFERENCE, "")
    assert compare_figure(low, None, higher_is_better=False) == (
        NOT_COMPARED, "not measured for the installed model")
    assert compare_figure({"value": 0.1, "ci95": None, "n": 3}, low,
                          higher_is_better=True) == (
        NOT_COMPARED, "no confidence interval for the new model")


def test_macro_auroc_interval_from_the_per_class_intervals() -> None:
    metrics = _metrics(accuracy=0.8, aurocs=(_fig(0.9, 0.8, 0.95, 300),
                                             _fig(0.8, 0.7, 0.9, 300),
                                             _fig(0.7, 0.6, 0.85, 300)),
                       false_covid=None, covid=None)
    figure = macro_auroc_figure(metrics)
    assert figure is not None
    assert figure["value"] == pytest.approx(0.8)
    assert figure["ci95"] == pytest.approx([0.7, 0.9])
    # A joint bootstrap interval, when the evaluation has one, is used as it is.
    metrics["populations"]["overall"]["macro_auroc"] = _fig(0.81, 0.77, 0.85, 300)
    assert macro_auroc_figure(metrics) == _fig(0.81, 0.77, 0.85, 300)
    assert macro_auroc_figure(_metrics(accuracy=0.8, aurocs=None, false_covid=None,
                                       covid=None)) is None


def test_higher_overall_accuracy_does_not_outweigh_more_adults_labelled_covid() -> None:
    installed = _metrics(accuracy=0.80, aurocs=SAME_AUROC,
                         false_covid=_fig(0.10, 0.06, 0.14, 160),
                         covid=_fig(0.95, 0.90, 0.99, 100))
    new = _metrics(accuracy=0.90, aurocs=SAME_AUROC,
                   false_covid=_fig(0.30, 0.23, 0.37, 160),
                   covid=_fig(0.97, 0.93, 1.0, 100))
    result = verdict(new, installed)
    assert [f.outcome for f in result.figures] == [NO_DIFFERENCE, WORSE, NO_DIFFERENCE]
    text, level = recommendation(result)
    assert level == "error"
    assert text.startswith("Recommendation: do not install.")
    assert "false-COVID rate): 30.0 % (23.0-37.0), n=160 vs 10.0 % (6.0-14.0), n=160." in text
    assert is_worse(new, installed) == [
        "Adults without COVID-19 labelled COVID-19 (false-COVID rate): "
        "30.0 % (23.0-37.0), n=160 vs 10.0 % (6.0-14.0), n=160"]


def test_lower_overall_accuracy_inside_the_intervals_is_no_measurable_difference() -> None:
    installed = _metrics(accuracy=0.85, aurocs=SAME_AUROC,
                         false_covid=_fig(0.10, 0.06, 0.14, 160),
                         covid=_fig(0.95, 0.90, 0.99, 100))
    new = _metrics(accuracy=0.82, aurocs=SAME_AUROC,
                   false_covid=_fig(0.09, 0.05, 0.13, 160),
                   covid=_fig(0.94, 0.89, 0.99, 100))
    result = verdict(new, installed)
    assert result.at_least_as_good
    text, level = recommendation(result)
    assert level == "ok"
    assert "at least as good" in text
    assert "no measurable difference on Macro AUROC" in text
    assert is_worse(new, installed) == []


def test_better_where_it_matters_and_what_could_not_be_compared() -> None:
    installed = _metrics(accuracy=0.85, aurocs=None,
                         false_covid=_fig(0.97, 0.94, 1.0, 160),
                         covid=_fig(0.99, 0.97, 1.0, 100))
    new = _metrics(accuracy=0.85, aurocs=SAME_AUROC,
                   false_covid=_fig(0.12, 0.08, 0.17, 160),
                   covid=_fig(0.97, 0.93, 1.0, 100))
    result = verdict(new, installed)
    assert [f.outcome for f in result.figures] == [NOT_COMPARED, BETTER, NO_DIFFERENCE]
    text, level = recommendation(result)
    assert text.startswith("Recommendation: install.")
    assert "better on Adults without COVID-19 labelled COVID-19" in text
    assert "Not compared: Macro AUROC (all classes, all images) (not measured for the " \
           "installed model)" in text
    assert level == "warning"  # a deciding figure is missing
    nothing = verdict(_metrics(accuracy=0.8, aurocs=None, false_covid=None, covid=None),
                      installed)
    text, level = recommendation(nothing)
    assert level == "warning"
    assert "could not be compared" in text


def _outcome(tmp_path: Path, new: dict[str, Any], current: dict[str, Any] | None
             ) -> WizardContext:
    context = WizardContext(store=ModelStore(root=tmp_path / "store", bundled=tmp_path),
                            pool=QtCore.QThreadPool())
    context.outcome = TrainingOutcome(
        run_dir=tmp_path, bundle_dir=tmp_path / "bundle", report_dir=tmp_path / "report",
        report={"model_id": "new-model", "metrics": {"test": new}}, current=current,
        current_model_id="installed-model")
    return context


def test_results_page_states_the_rule_and_the_install_page_follows_it(
        qtbot, tmp_path: Path) -> None:
    installed = _metrics(accuracy=0.80, aurocs=SAME_AUROC,
                         false_covid=_fig(0.10, 0.06, 0.14, 160),
                         covid=_fig(0.95, 0.90, 0.99, 100))
    new = _metrics(accuracy=0.90, aurocs=SAME_AUROC,
                   false_covid=_fig(0.30, 0.23, 0.37, 160),
                   covid=_fig(0.97, 0.93, 1.0, 100))
    context = _outcome(tmp_path, new, installed)
    page = ResultsPage(context)
    qtbot.addWidget(page)
    page.initializePage()
    assert page.rule.text() == RULE
    assert "no measurable difference" in page.rule.text()
    table = page.verdict_table
    assert [table.item(r, 3).text() for r in range(table.rowCount())] == [
        NO_DIFFERENCE, WORSE, NO_DIFFERENCE]
    assert table.item(1, 1).text() == "30.0 % (23.0-37.0), n=160"
    assert table.item(1, 3).font().bold()
    assert page.recommendation.text().startswith("Recommendation: do not install.")
    # The overall table shows figures without intervals, so it declares no winner.
    assert not any(page.table.item(r, c).font().bold()
                   for r in range(page.table.rowCount()) for c in (1, 2))

    install = InstallPage(context)
    qtbot.addWidget(install)
    install.initializePage()
    assert "installing it is not recommended" in install.summary.text()
    assert "false-COVID rate" in install.summary.text()
