"""The wizard's Check page shows the dataset's composition and its shortcuts.

The datasets are the small generated metadata-layout sets of the training tests: Normal and
Pneumonia from Kermany (children), COVID-19 from ieee8023 (age unknown) - a dataset whose
source gives COVID-19 away - and the same images all filed under one source.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtGui, QtWidgets

from desktop_app.ui.training_wizard import Pages, TrainingWizard
from tests.training.conftest import write_metadata_dataset

_WARNING_COLOUR = QtGui.QColor("#9a6700")


def _stop_tasks(wizard: TrainingWizard) -> None:
    wizard.context.cancel_all()
    assert wizard.wait_for_tasks(30_000)


def _checked_wizard(qtbot, data: Path) -> TrainingWizard:
    """A wizard on the Check page with the check of ``data`` finished."""
    wizard = TrainingWizard(min_images_per_class=2, measure_speed=False)
    qtbot.addWidget(wizard, before_close_func=_stop_tasks)
    wizard.show()
    wizard.data_page.set_source(data)
    qtbot.waitUntil(wizard.data_page.isComplete, timeout=15_000)
    with qtbot.waitSignal(wizard.check_page.check_finished, timeout=30_000):
        wizard.next()
    assert wizard.currentId() == Pages.CHECK
    return wizard


def _next_enabled(wizard: TrainingWizard) -> bool:
    return wizard.button(QtWidgets.QWizard.WizardButton.NextButton).isEnabled()


def _table_rows(table: QtWidgets.QTableWidget) -> list[list[str]]:
    return [[table.item(row, column).text() for column in range(table.columnCount())]
            for row in range(table.rowCount())]


def test_shortcut_warnings_are_shown_and_need_the_tick(qtbot, tmp_path: Path) -> None:
    wizard = _checked_wizard(qtbot, write_metadata_dataset(tmp_path / "confounded"))
    page = wizard.check_page
    report = page.report
    assert report.findings == []  # the files are fine: only the shortcuts warn

    composition = page.composition
    headers = [composition.horizontalHeaderItem(c).text()
               for c in range(composition.columnCount())]
    assert headers == ["Class", "Source", "Age group", "TEST", "TRAIN", "Total"]
    assert _table_rows(composition) == [
        ["Normal", "kermany", "child", "2", "6", "8"],
        ["Pneumonia", "kermany", "child", "2", "6", "8"],
        ["COVID-19", "ieee8023", "unknown age", "2", "6", "8"],
    ]

    shortcuts = page.shortcuts
    assert shortcuts.isVisible()
    items = [shortcuts.item(i) for i in range(shortcuts.count())]
    assert len(items) == len(report.confounding)
    warnings = [w for w in report.confounding if w.severity == "warning"]
    assert len(warnings) >= 2
    first = items[0]
    assert first.text().startswith("Strong shortcut: All 8 COVID-19 images come from source "
                                   "'ieee8023'")
    for item, warning in zip(items, report.confounding, strict=True):
        assert item.text().endswith(warning.message)
        if warning.severity == "warning":
            assert item.foreground().color() == _WARNING_COLOUR
    assert f"{len(warnings)} way(s)" in page.shortcuts_heading.text()
    assert page.warning_count == len(warnings)
    assert "All of them are shortcuts" in page.verdict.text()

    # A warning, not a block: training may start once the warnings are acknowledged.
    assert not report.fatal
    assert not _next_enabled(wizard)
    page.acknowledge.setChecked(True)
    assert _next_enabled(wizard)


def test_no_shortcuts_means_no_tick(qtbot, tmp_path: Path) -> None:
    data = write_metadata_dataset(tmp_path / "one-source")
    csv = data / "metadata.csv"
    csv.write_text(csv.read_text(encoding="utf-8").replace(",ieee8023,", ",kermany,"),
                   encoding="utf-8")
    wizard = _checked_wizard(qtbot, data)
    page = wizard.check_page
    assert page.report.confounding == []
    assert not page.shortcuts.isVisible()
    assert page.shortcuts.count() == 0
    assert page.shortcuts_heading.text().startswith("No shortcuts found")
    assert _table_rows(page.composition)[-1] == ["COVID-19", "kermany", "child", "2", "6", "8"]
    assert page.warning_count == 0
    assert _next_enabled(wizard)
