"""Validate on Local Data…: run with progress, show the figures, cancel, export, card lists it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PySide6 import QtWidgets

from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.validation.validation import stored_validations
from desktop_app.ui.validation_dialog import ValidationDialog
from tests.core.test_validation import write_labelled_csv, write_labelled_folder


@pytest.fixture
def dialog(qtbot, tiny_bundle: Path):
    widget = ValidationDialog(load_bundle(tiny_bundle))
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget.cancel()
    widget.wait_for_worker()


def _tab_titles(dialog: ValidationDialog) -> list[str]:
    return [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())]


def test_run_shows_progress_figures_and_stores(qtbot, dialog: ValidationDialog,
                                               tmp_path: Path) -> None:
    data = write_labelled_folder(tmp_path / "films")
    values: list[int] = []
    dialog.progress.valueChanged.connect(values.append)
    with qtbot.waitSignal(dialog.validation_finished, timeout=60_000) as blocker:
        dialog.path_edit.setText(str(data))
        dialog.run_button.click()
        assert dialog.running
        assert not dialog.run_button.isEnabled()
        assert dialog.cancel_button.isEnabled()
    result = blocker.args[0]
    assert dialog.result is result
    assert not dialog.running
    assert dialog.progress.value() == dialog.progress.maximum()
    assert len(result.images) in values  # the bar counted the films before the figures
    assert dialog.export_pdf_button.isEnabled()
    assert dialog.export_csv_button.isEnabled()
    assert _tab_titles(dialog) == ["Summary", "Per class", "Per source", "Per age group",
                                   "Confusion matrix", "ROC", "Calibration", "Films"]
    counts = result.metrics["counts"]
    assert f"{counts['measured']} films" in dialog.status.text()
    summary = dialog.tabs.widget(0).toPlainText()
    assert "excluded from every figure" in summary
    assert result.fingerprint["sha256"][:16] in summary

    per_class = dialog.tabs.widget(1)
    assert per_class.rowCount() == len(result.classes)
    assert [per_class.item(r, 0).text() for r in range(3)] == result.classes
    sensitivity = result.metrics["populations"]["per_class"]["Normal"]["sensitivity"]
    if sensitivity is not None:
        assert per_class.item(0, 2).text().startswith(f"{100 * sensitivity['value']:.1f} %")
    films = dialog.tabs.widget(7)
    assert films.rowCount() == len(result.images)
    notes = [films.item(r, 3).text() for r in range(films.rowCount())]
    assert notes.count("refused: not a chest X-ray") == counts["out_of_distribution"]
    assert len(dialog.roc_plot.series()) == len(result.metrics["roc"])

    assert [s.path for s in stored_validations(result.model_id)] == [result.record_path]


def test_cancel_stops_and_keeps_nothing(qtbot, dialog: ValidationDialog, tmp_path: Path) -> None:
    data = write_labelled_folder(tmp_path / "films", per_class=40, photo=False)
    with qtbot.waitSignal(dialog.progress.valueChanged, timeout=60_000):
        dialog.start(data)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
    assert "cancelled" in dialog.status.text()
    assert dialog.result is None
    assert dialog.tabs.count() == 0
    assert not dialog.export_pdf_button.isEnabled()
    assert dialog.run_button.isEnabled()
    assert stored_validations() == []


def test_bad_data_shows_the_reason(qtbot, dialog: ValidationDialog, tmp_path: Path) -> None:
    dialog.start(tmp_path / "missing")
    qtbot.waitUntil(lambda: not dialog.running, timeout=30_000)
    assert "Validation failed" in dialog.status.text()
    assert "missing" in dialog.status.text()
    assert dialog.run_button.isEnabled()


def test_exports_pdf_and_csv(qtbot, dialog: ValidationDialog, tmp_path: Path) -> None:
    data = write_labelled_csv(tmp_path / "site")
    with qtbot.waitSignal(dialog.validation_finished, timeout=60_000):
        dialog.start(data)
    pdf = dialog.export_pdf(tmp_path / "report.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert dialog.export_csv(tmp_path / "films.csv") == 6
    with open(tmp_path / "films.csv", encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert {row["age_group"] for row in rows} == {"adult", "child"}
    ages = dialog.tabs.widget(3)
    assert {ages.item(r, 0).text() for r in range(ages.rowCount())} <= {"Adults", "Children"}


def test_menu_opens_dialog_and_card_lists_validations(qtbot, make_window,
                                                      tmp_path: Path) -> None:
    window = make_window()
    card = window.dialogs.model_card()
    assert "Validations on local data" in card.text()
    assert "None yet" in card.text()
    assert window.dialogs.validate_action.isEnabled()
    window.dialogs.validate_action.trigger()
    dialogs = [w for w in QtWidgets.QApplication.topLevelWidgets()
               if isinstance(w, ValidationDialog) and w.isVisible()]
    assert len(dialogs) == 1
    dialog = dialogs[0]
    assert dialog.bundle is window.active_model.bundle
    data = write_labelled_folder(tmp_path / "ward films", per_class=2, photo=False)
    with qtbot.waitSignal(dialog.validation_finished, timeout=60_000) as blocker:
        dialog.start(data)
    result = blocker.args[0]
    # The open card now lists it: date, the data's name and fingerprint, films measured.
    text = card.text()
    assert "None yet" not in text
    assert f"ward films ({result.fingerprint['sha256'][:12]})" in text
    assert result.created.replace("T", " ")[:16] in text
    assert "with a caution" in text
    dialog.close()


def test_closing_while_running_cancels_and_keeps_nothing(qtbot, tiny_bundle: Path,
                                                        tmp_path: Path) -> None:
    data = write_labelled_folder(tmp_path / "films", per_class=40, photo=False)
    widget = ValidationDialog(load_bundle(tiny_bundle))
    qtbot.addWidget(widget)
    widget.show()
    with qtbot.waitSignal(widget.progress.valueChanged, timeout=60_000):
        widget.start(data)
    widget.close()  # waits for the worker, which stops at its next check
    assert widget.wait_for_worker(1000)
    assert stored_validations() == []


def test_summary_counts_cautions_and_gives_sensitivity_both_ways(
    qtbot, tiny_caution_bundle: Path, tmp_path: Path
) -> None:
    widget = ValidationDialog(load_bundle(tiny_caution_bundle))
    qtbot.addWidget(widget)
    widget.show()
    data = write_labelled_folder(tmp_path / "films", per_class=2)
    with qtbot.waitSignal(widget.validation_finished, timeout=60_000):
        widget.path_edit.setText(str(data))
        widget.run_button.click()
    assert "6 labelled with a caution" in widget.status.text()
    summary = widget.tabs.widget(0).toPlainText()
    assert "6 of the measured films were labelled with a caution" in summary
    assert "of all 3 Normal films, counting 1 refused as not found" in summary
    films = widget.tabs.widget(7)
    notes = [films.item(r, 3).text() for r in range(films.rowCount())]
    assert sum("caution — unusual film: " in note for note in notes) == 6
