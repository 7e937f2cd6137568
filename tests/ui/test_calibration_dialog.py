"""Analysis › Calibrate to This Site…: run, show what changed, save, install, cancel, errors."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from desktop_app.core.locations import user_data_dir
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.model.model_store import BUNDLED_ID, ModelStore
from desktop_app.core.site.site_calibration import calibration_line
from desktop_app.ui.calibration_dialog import CalibrationDialog
from desktop_app.ui.calibration_tables import figure_rows
from tests.ui.calibration_films import SITE_FILMS, write_check_set, write_site_films


@pytest.fixture
def films(tmp_path: Path) -> Path:
    return write_site_films(tmp_path / "site")


@pytest.fixture
def make_dialog(qtbot, tiny_bundle: Path, tmp_path: Path):
    dialogs = []

    def factory(**kwargs) -> CalibrationDialog:
        dialog = CalibrationDialog(load_bundle(tiny_bundle),
                                   check_set=write_check_set(tmp_path / "checks"), **kwargs)
        qtbot.addWidget(dialog)
        dialog.show()
        dialogs.append(dialog)
        return dialog

    yield factory
    for dialog in dialogs:
        dialog.cancel()
        dialog.wait_for_worker()


def _calibrate(qtbot, dialog: CalibrationDialog, data: Path, site: str = "Test Clinic"):
    dialog.path_edit.setText(str(data))
    dialog.site_edit.setText(site)
    with qtbot.waitSignal(dialog.calibration_finished, timeout=60_000) as blocker:
        dialog.run_button.click()
        assert dialog.running
        assert dialog.cancel_button.isEnabled()
        assert not dialog.run_button.isEnabled()
    return blocker.args[0]


def _file_hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_calibration_shows_before_after_thresholds_gate_and_warnings(
        qtbot, make_dialog, films: Path, tiny_bundle: Path) -> None:
    before = _file_hashes(tiny_bundle)
    dialog = make_dialog()
    dialog.max_covid_box.setValue(4.0)
    result = _calibrate(qtbot, dialog, films)

    assert dialog.result is result
    assert result.summary["site"] == "Test Clinic"
    assert result.summary["settings"]["max_false_covid"] == pytest.approx(0.04)
    assert result.summary["films"]["used"] == SITE_FILMS
    assert dialog.progress.value() == dialog.progress.maximum()
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == [
        "Before / after", "Thresholds and gate"]
    table = dialog.figures_table
    rows = figure_rows(result.summary)
    assert table.rowCount() == len(rows) > 0
    assert table.item(0, 0).text() == "films refused (no answer)"
    assert "n=42" in table.item(0, 1).text()
    assert "n=42" in table.item(0, 2).text()
    assert re.search(r" \(\d+-\d+\), n=42$", table.item(0, 2).text())  # the one figure format
    details = dialog.details.toPlainText()
    assert details.count("of the way the site's films asked") == len(result.summary["gate"])
    assert result.warnings[0] not in details  # shown once, below the tabs
    assert "Thresholds" in details
    assert "COVID-19" in details
    assert "held-out half" in details  # the non-chest check set, before and after
    # The warnings are on screen, not in a tooltip.
    assert result.warnings
    assert dialog.warnings_area.isVisible()
    shown = dialog.warnings_label.text()
    assert all(w.split(":")[0].replace("'", "&#x27;") in shown for w in result.warnings)
    assert dialog.save_button.isEnabled()
    assert dialog.install_button.isEnabled()
    assert result.model_id in dialog.status.text()
    assert _file_hashes(tiny_bundle) == before  # the input model is never modified


def test_save_writes_a_bundle_that_loads_with_its_calibration(
        qtbot, make_dialog, films: Path, tmp_path: Path) -> None:
    dialog = make_dialog()
    result = _calibrate(qtbot, dialog, films)
    saved = dialog.save_bundle(tmp_path / "calibrated")
    assert saved is not None
    bundle = load_bundle(tmp_path / "calibrated")
    assert bundle.model_id == result.model_id
    assert bundle.card.site_calibration["site"] == "Test Clinic"
    assert calibration_line(bundle.card).startswith("calibrated for Test Clinic on ")
    assert str(tmp_path / "calibrated") in dialog.status.text()
    # A folder that is not empty is refused, and the dialog says which.
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("x", encoding="utf-8")
    assert dialog.save_bundle(taken) is None
    assert "Not saved" in dialog.status.text()
    assert repr(str(taken)) in dialog.status.text()


def test_install_makes_it_the_active_model_and_rollback_restores(
        qtbot, make_dialog, films: Path, tiny_bundle: Path) -> None:
    store = ModelStore(bundled=tiny_bundle)
    dialog = make_dialog(store=store)
    result = _calibrate(qtbot, dialog, films)
    with qtbot.waitSignal(dialog.active_model_changed, timeout=30_000) as blocker:
        dialog.install_button.click()
    active = store.active()
    assert active.key == blocker.args[0]
    assert active.bundle.model_id == result.model_id
    assert calibration_line(active.bundle.card) is not None
    assert "Training › Models…" in dialog.status.text()
    assert "Roll Back" in dialog.status.text()
    assert not dialog.install_button.isEnabled()
    assert not list(user_data_dir().glob(".calibrated-*"))  # the staging copy is gone
    # Installed twice (same site, same day): a second name, never a clash.
    dialog.install_button.setEnabled(True)
    second = dialog.install()
    assert second is not None
    assert second.key == f"{active.key}-2"
    assert store.rollback() == active.key
    assert store.rollback() == second.key  # rollback swaps back and forth
    store.activate(BUNDLED_ID)
    assert store.active().bundle.model_id == load_bundle(tiny_bundle).model_id
    assert calibration_line(store.active().bundle.card) is None


def test_cancel_stops_and_writes_nothing(qtbot, make_dialog, films: Path) -> None:
    dialog = make_dialog()
    dialog.path_edit.setText(str(films))
    dialog.site_edit.setText("Test Clinic")
    finished: list[object] = []
    dialog.calibration_finished.connect(finished.append)
    assert dialog.start()
    dialog.cancel()
    assert dialog.status.text() == "Cancelling…"
    qtbot.waitUntil(lambda: not dialog.running, timeout=30_000)
    assert dialog.result is None
    assert not finished
    assert "cancelled" in dialog.status.text()
    assert not dialog.save_button.isEnabled()
    assert not dialog.install_button.isEnabled()
    assert dialog.run_button.isEnabled()
    assert not list(user_data_dir().glob(".calibrated-*"))


def test_errors_are_shown_in_the_dialog(qtbot, make_dialog, tmp_path: Path) -> None:
    dialog = make_dialog()
    dialog.path_edit.setText(str(tmp_path / "site"))
    assert not dialog.start()  # no site name yet
    assert "site needs a name" in dialog.status.text()
    assert "''" in dialog.status.text()

    missing = tmp_path / "no such folder"
    dialog.site_edit.setText("Test Clinic")
    dialog.path_edit.setText(str(missing))
    dialog.run_button.click()
    qtbot.waitUntil(lambda: not dialog.running, timeout=30_000)
    assert dialog.status.text().startswith("Cannot calibrate: ")
    assert "no such folder" in dialog.status.text()

    few = write_site_films(tmp_path / "few", count=5)
    dialog.path_edit.setText(str(few))
    dialog.run_button.click()
    qtbot.waitUntil(lambda: not dialog.running, timeout=30_000)
    assert "only 5 films in" in dialog.status.text()
    assert "at least 30" in dialog.status.text()
    assert dialog.result is None
    assert not dialog.save_button.isEnabled()


def test_menu_opens_it_and_install_switches_the_window(
        qtbot, make_window, monkeypatch, tiny_bundle: Path, films: Path, tmp_path: Path) -> None:
    from desktop_app.core.site import site_calibration

    checks = write_check_set(tmp_path / "checks")
    monkeypatch.setattr(site_calibration, "load_check_set", lambda: checks)
    ModelStore().install(tiny_bundle, "tiny")  # the store's model, so an install switches it
    window = make_window(model_dir=None)
    assert window.dialogs.calibrate_action in window.menuBar().actions()[2].menu().actions()
    assert "alibrated" not in window.model_status.text()
    dialog = window.dialogs.calibration()
    assert isinstance(dialog, CalibrationDialog)
    qtbot.addWidget(dialog)
    result = _calibrate(qtbot, dialog, films, site="North Ward")
    with qtbot.waitSignal(window.model_loaded, timeout=30_000):
        assert dialog.install() is not None
    assert window.active_model.bundle.model_id == result.model_id
    line = calibration_line(result.card)
    assert line in window.model_status.text()
    assert "Calibrated for North Ward" in window.panel.model_label.text()
    dialog.close()
