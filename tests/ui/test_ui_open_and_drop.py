"""Opening images: drag and drop of files and folders, File › Open, Open Folder, recent files."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app.ui.results_table import Status
from tests.ui.dragdrop import mime_for as _mime
from tests.ui.dragdrop import send_drop as _drop
from tests.ui.images import write_xray


def _wait_all_done(qtbot, window, count: int) -> None:
    def done() -> None:
        model = window.table_model
        assert model.rowCount() == count
        assert model.count(Status.DONE) + model.count(Status.ERROR) == count

    qtbot.waitUntil(done, timeout=30_000)


def test_dropping_files_adds_and_classifies_them(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    files = [write_xray(tmp_path / "one.png", 1), write_xray(tmp_path / "two.png", 2)]
    with qtbot.waitSignal(window.files_dropped) as blocker:
        assert _drop(window, _mime(files))
    assert blocker.args[0] == files
    _wait_all_done(qtbot, window, 2)
    names = [r.path.name for r in window.table_model.records()]
    assert names == ["one.png", "two.png"]
    records = window.table_model.records()
    assert all(r.result is not None and r.result.probabilities for r in records)


def test_dropping_a_folder_expands_it_and_skips_non_images(
    qtbot, make_window, xray_folder: Path
) -> None:
    window = make_window()
    assert _drop(window, _mime([xray_folder]))
    _wait_all_done(qtbot, window, 3)
    names = sorted(r.path.name for r in window.table_model.records())
    assert names == ["a.png", "b.png", "c.png"]  # notes.txt is skipped, subfolders included


def test_drop_onto_a_child_widget_reaches_the_window(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    path = write_xray(tmp_path / "child.png")
    # Child views do not take drops themselves, so the event propagates to the window.
    assert not window.table.acceptDrops()
    assert not window.viewer.view.acceptDrops()
    assert _drop(window, _mime([path]))
    _wait_all_done(qtbot, window, 1)


def test_drag_without_local_files_is_refused(qtbot, make_window) -> None:
    window = make_window(wait_model=False)
    mime = QtCore.QMimeData()
    mime.setText("just some text")
    assert not _drop(window, mime)
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl("https://example.org/xray.png")])
    assert not _drop(window, mime)
    assert window.table_model.rowCount() == 0


def test_open_folder_dialog_fills_the_table_and_remembers_the_folder(
    qtbot, make_window, xray_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = make_window()
    monkeypatch.setattr(QtWidgets.QFileDialog, "getExistingDirectory",
                        lambda *args, **kwargs: str(xray_folder))
    window.opening.open_folder_action.trigger()
    _wait_all_done(qtbot, window, 3)
    assert window.settings.last_folder() == str(xray_folder.resolve())
    assert window.settings.recent_files()[0] == str(xray_folder.resolve())
    # The first row is selected and shown, so the user sees a result at once.
    qtbot.waitUntil(lambda: window.panel.result is not None, timeout=30_000)


def test_open_files_dialog_accepts_several_files(
    qtbot, make_window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = make_window()
    files = [str(write_xray(tmp_path / f"f{i}.png", i)) for i in range(3)]
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileNames",
                        lambda *args, **kwargs: (files, ""))
    window.opening.open_action.trigger()
    _wait_all_done(qtbot, window, 3)
    open_key = QtGui.QKeySequence(QtGui.QKeySequence.StandardKey.Open)
    assert window.opening.open_action.shortcut() == open_key
    assert window.opening.open_folder_action.shortcut() == QtGui.QKeySequence("Ctrl+Shift+O")


def test_opening_the_same_file_twice_keeps_one_row(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    path = write_xray(tmp_path / "same.png")
    window.opening.open_paths([path])
    _wait_all_done(qtbot, window, 1)
    window.opening.open_paths([path])
    qtbot.waitUntil(lambda: "already" in window.statusBar().currentMessage(), timeout=10_000)
    assert window.table_model.rowCount() == 1
