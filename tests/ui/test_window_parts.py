"""The window's parts on their own: each gets a session and its widgets, no main window.

These used to be checked by building the whole window (and waiting for its model); a part
that takes only the session and what it draws on is tested with exactly those.
"""

from __future__ import annotations

import csv
import sys
import types
from pathlib import Path

import pytest
from PySide6 import QtCore, QtWidgets

from desktop_app import DISCLAIMER
from desktop_app.core.node.worklist import Status
from desktop_app.core.session.session import Session
from desktop_app.ui.batch_control import BatchControl
from desktop_app.ui.cancel_control import CancelControl
from desktop_app.ui.export_control import ExportControl
from desktop_app.ui.file_opening import FileOpening
from desktop_app.ui.opened_persistence import OpenedFilmKeeper
from desktop_app.ui.result_panel import ResultPanel
from desktop_app.ui.results_table import ResultsTableModel, ResultsTableView
from desktop_app.ui.session_signals import SessionSignals
from desktop_app.ui.settings import Settings
from desktop_app.ui.window_dialogs import WindowDialogs
from tests.ui.images import write_xray


class Parts:
    """A session, its signals, a table on it and a plain parent widget (not a window)."""

    def __init__(self, qtbot) -> None:
        self.parent = QtWidgets.QWidget()
        qtbot.addWidget(self.parent)
        self.session = Session()
        self.table_model = ResultsTableModel(self.parent, self.session.worklist)
        self.signals = SessionSignals(self.session, self.parent)
        self.table = ResultsTableView(self.table_model, self.parent)
        self.pool = QtCore.QThreadPool(self.parent)
        self.pool.setMaxThreadCount(1)


@pytest.fixture
def parts(qtbot) -> Parts:
    made = Parts(qtbot)
    yield made
    made.pool.waitForDone(10_000)


@pytest.fixture
def active_model(tiny_bundle: Path):
    """The tiny test model (its card has no per-class figures)."""
    from desktop_app.core.model.model_bundle import load_bundle
    from desktop_app.core.model.model_store import ActiveModel

    return ActiveModel("test", load_bundle(tiny_bundle))


@pytest.fixture(scope="module")
def shipped_model():
    """The bundled model: loads in a fraction of a second, with no TensorFlow to build one."""
    from desktop_app.core.locations import bundled_model_dir
    from desktop_app.core.model.model_bundle import load_bundle
    from desktop_app.core.model.model_store import ActiveModel

    return ActiveModel("bundled", load_bundle(bundled_model_dir()))


def _opening(parts: Parts, data_dir: Path) -> tuple[FileOpening, OpenedFilmKeeper]:
    keeper = OpenedFilmKeeper(data_dir, parts.parent)
    opening = FileOpening(parts.signals, keeper, Settings(), parts.table, parts.pool,
                          parts.parent)
    return opening, keeper


# -- dialogs -------------------------------------------------------------------------------


def test_the_model_card_needs_a_model_and_shows_identity_metrics_and_hashes(
        qtbot, parts: Parts, active_model) -> None:
    dialogs = WindowDialogs(parts.signals, lambda: None, parts.parent)
    parts.session.model_failed("'/nowhere' is not a model folder")
    assert not dialogs.model_card_action.isEnabled()
    with qtbot.waitSignal(dialogs.status_message) as said:
        assert dialogs.model_card() is None
    assert said.args == ["'/nowhere' is not a model folder", 5000]
    parts.session.use_model(active_model)
    assert dialogs.model_card_action.isEnabled()
    dialog = dialogs.model_card()
    assert dialog is not None
    assert dialogs.model_card() is dialog  # one dialog, reused
    text = dialog.text()
    card = active_model.bundle.card
    assert card.model_id in text
    for name, digest in card.files.items():
        assert name in text
        assert digest in text
    assert "Intended use" in text
    assert "Limitations" in text
    assert "Pediatric" in text
    assert "not reported" in text  # the tiny model has no per-class metrics
    assert "Calibration" in text
    assert "temperature" in text
    assert "class_means" not in text  # big OOD arrays are summarised away


def _raise_import_error(name: str) -> None:
    raise ImportError(name)


def test_training_hooks_say_where_the_wizard_lives(
        parts: Parts, monkeypatch: pytest.MonkeyPatch) -> None:
    dialogs = WindowDialogs(parts.signals, lambda: None, parts.parent)
    messages: list[str] = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "information",
                        lambda _parent, _title, text: messages.append(text))
    monkeypatch.setattr("importlib.import_module", _raise_import_error)
    dialogs.train_action.trigger()
    dialogs.models_action.trigger()
    assert "desktop_app.ui.training_wizard" in messages[0]
    assert "desktop_app.ui.models_dialog" in messages[1]


def test_training_hooks_call_the_wizard_modules_with_the_model_reload(
        parts: Parts, monkeypatch: pytest.MonkeyPatch) -> None:
    reloads: list[str] = []

    def reload_model() -> None:
        reloads.append("reload")

    dialogs = WindowDialogs(parts.signals, reload_model, parts.parent)
    calls: list[tuple[str, object]] = []
    for module_name, function in (("desktop_app.ui.training_wizard", "open_training_wizard"),
                                  ("desktop_app.ui.models_dialog", "open_model_manager")):
        fake = types.ModuleType(module_name)

        def launcher(parent, reload, name=function) -> None:
            calls.append((name, parent))
            reload()

        setattr(fake, function, launcher)
        monkeypatch.setitem(sys.modules, module_name, fake)
    dialogs.train_action.trigger()
    dialogs.models_action.trigger()
    assert calls == [("open_training_wizard", parts.parent),
                     ("open_model_manager", parts.parent)]
    assert reloads == ["reload", "reload"]


def test_metrics_are_shown_for_the_shown_class_or_not_reported(qtbot, active_model) -> None:
    panel = ResultPanel()
    qtbot.addWidget(panel)
    panel.set_model_card(active_model.bundle.card)
    panel.set_shown_class("COVID-19")
    assert "Sensitivity: not reported" in panel.metrics_label.text()
    assert DISCLAIMER in panel.disclaimer_label.text()


# -- opening files, the queue and cancel ---------------------------------------------------


def test_opened_files_join_the_queue_and_cancel_before_a_model_leaves_them_cancelled(
        qtbot, parts: Parts, isolated_user_data: Path, tmp_path: Path) -> None:
    opening, keeper = _opening(parts, isolated_user_data)
    batch = BatchControl(parts.signals, keeper, parts.parent)
    exports = ExportControl(parts.signals, parts.table, Settings(), parts.pool, parts.parent)
    cancel = CancelControl(batch, exports, parts.parent)
    assert not opening.clear_action.isEnabled()
    assert not cancel.action.isEnabled()
    assert not cancel.button.isVisibleTo(parts.parent)
    path = write_xray(tmp_path / "early.png")
    with qtbot.waitSignal(opening.files_added, timeout=10_000) as added:
        opening.open_paths([path])
    keys = added.args[0]
    assert parts.session.waiting() == keys  # no model: nothing is handed to a batch
    assert not batch.running
    assert parts.table.current_key() == keys[0]  # the new row is selected
    assert opening.clear_action.isEnabled()
    cancel.cancel()  # what the window's close does (the action is off: nothing runs)
    assert parts.session.worklist.record(keys[0]).status is Status.CANCELLED
    assert parts.session.waiting() == []
    opening.clear_action.trigger()
    assert len(parts.session.worklist) == 0
    assert not opening.clear_action.isEnabled()
    keeper.wait(10_000)


def test_recent_menu_lists_and_reopens(qtbot, parts: Parts, isolated_user_data: Path,
                                       tmp_path: Path) -> None:
    opening, keeper = _opening(parts, isolated_user_data)
    path = write_xray(tmp_path / "recent.png")
    Settings().add_recent_files([str(path)])
    opening.recent_menu.aboutToShow.emit()
    actions = [a for a in opening.recent_menu.actions() if a.data()]
    assert [a.data() for a in actions] == [str(path)]
    with qtbot.waitSignal(opening.files_added, timeout=10_000):
        actions[0].trigger()
    assert [r.path for r in parts.session.worklist.records()] == [path]
    # Opening it again adds no row and says so.
    with qtbot.waitSignal(opening.status_message, timeout=10_000,
                          check_params_cb=lambda text, _ms: "already" in text):
        opening.open_paths([path])
    assert len(parts.session.worklist) == 1
    keeper.wait(10_000)


# -- exports -------------------------------------------------------------------------------


def test_export_actions_follow_rows_model_and_write_the_sorted_worklist(
        parts: Parts, shipped_model, tmp_path: Path) -> None:
    exports = ExportControl(parts.signals, parts.table, Settings(), parts.pool, parts.parent)
    assert not exports.csv_action.isEnabled()
    assert not exports.pdf_action.isEnabled()
    parts.session.add_opened([tmp_path / "b.png", tmp_path / "a.png"], {})
    assert exports.csv_action.isEnabled()
    assert not exports.pdf_action.isEnabled()  # a report needs the model
    assert not exports.export_pdf(tmp_path / "report.pdf")
    parts.session.use_model(shipped_model)
    assert exports.pdf_action.isEnabled()
    parts.table.sortByColumn(ResultsTableModel.NAME, QtCore.Qt.SortOrder.AscendingOrder)
    out = tmp_path / "worklist.csv"
    assert exports.export_csv(out) == 2
    with out.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["name"], r["status"]) for r in rows] == [("a.png", "queued"),
                                                        ("b.png", "queued")]
    parts.session.clear()
    assert not exports.csv_action.isEnabled()
    assert not exports.pdf_action.isEnabled()


def test_session_signals_name_each_change(qtbot, parts: Parts, shipped_model) -> None:
    signals, session = parts.signals, parts.session
    with qtbot.waitSignals([signals.rows_changed, signals.queue_changed], timeout=1_000):
        session.add_opened([Path("a.png")], {})
    with qtbot.waitSignal(signals.model_changed, timeout=1_000):
        session.use_model(shipped_model)
    with qtbot.waitSignals([signals.queue_changed, signals.rows_changed,
                            signals.worklist_cleared], timeout=1_000):
        session.clear()
    assert parts.table_model.rowCount() == 0
