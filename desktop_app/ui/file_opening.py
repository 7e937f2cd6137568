"""Opening files: File › Open, Open Folder, Open Recent, what the window is given, and Clear.

Folders are expanded off the UI thread (every file's first bytes are read) and each file is
registered in the persistent worklist there too (hashed: a row per film, see
:mod:`desktop_app.core.node.opened_films`); the session adds the files as rows and queues those
without this model's answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app.ui.window_menus import make_action
from desktop_app.ui.workers import FunctionWorker, expand_paths

if TYPE_CHECKING:
    from desktop_app.core.classify.analysis import ExpandedInputs
    from desktop_app.core.node.worklist_store import FilmRow
    from desktop_app.core.session.session import Session
    from desktop_app.ui.opened_persistence import OpenedFilmKeeper
    from desktop_app.ui.results_table import ResultsTableView
    from desktop_app.ui.session_signals import SessionSignals
    from desktop_app.ui.settings import Settings

__all__ = ["IMAGE_FILTER", "FileOpening", "local_paths"]

IMAGE_FILTER = (
    "Chest X-ray images (*.png *.jpg *.jpeg *.dcm *.dicom *.dic *.tif *.tiff *.bmp);;"
    "All files (*)"
)


class FileOpening(QtCore.QObject):
    """Adds files and folders to the session's worklist, and clears it.

    Signals:
        files_added(list): Row keys added to the worklist.
        status_message(str, int): What was added, for the status bar, and for how many ms
            (0: until replaced).
    """

    files_added = QtCore.Signal(list)
    status_message = QtCore.Signal(str, int)

    def __init__(self, signals: SessionSignals, keeper: OpenedFilmKeeper, settings: Settings,
                 table: ResultsTableView, pool: QtCore.QThreadPool,
                 parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self._session: Session = signals.session
        self._keeper = keeper
        self._settings = settings
        self._table = table
        self._pool = pool
        self._parent = parent
        pixmap = QtWidgets.QStyle.StandardPixmap
        self.open_action = make_action(
            parent, "&Open Images…", self.files_dialog, QtGui.QKeySequence.StandardKey.Open,
            "Open one or more chest X-ray images (Ctrl+O)", pixmap.SP_DialogOpenButton)
        self.open_folder_action = make_action(
            parent, "Open &Folder…", self.folder_dialog, "Ctrl+Shift+O",
            "Open every image in a folder and its subfolders (Ctrl+Shift+O)",
            pixmap.SP_DirOpenIcon)
        self.clear_action = make_action(parent, "C&lear Worklist", self._session.clear, None,
                                        "Remove every image from the worklist")
        self.recent_menu = QtWidgets.QMenu("Open &Recent", parent)
        self._update_actions()
        self.recent_menu.aboutToShow.connect(self.fill_recent_menu)
        signals.rows_changed.connect(self._update_actions)

    def _update_actions(self) -> None:
        self.clear_action.setEnabled(len(self._session.worklist) > 0)

    def open_paths(self, paths: Sequence[str | Path], *, remember: bool = True) -> None:
        """Add files and folders to the worklist (folders are expanded off the UI thread)."""
        paths = [Path(p) for p in paths if str(p)]
        if not paths:
            return
        settings = self._settings
        if remember:
            settings.add_recent_files([str(p.resolve()) for p in paths])
            first = paths[0].resolve()
            settings.set_last_folder(first if first.is_dir() else first.parent)
        if any(p.is_dir() for p in paths):
            self.status_message.emit("Looking for images…", 0)
        worker = FunctionWorker(_expand_and_register, paths, self._keeper)
        worker.signals.succeeded.connect(self._on_expander_succeeded)
        worker.signals.failed.connect(self._on_expander_failed)
        self._pool.start(worker)

    def _on_expander_succeeded(
            self, found: tuple[ExpandedInputs, dict[Path, FilmRow], str | None]) -> None:
        expanded, rows, not_kept = found
        added = self._session.add_opened(expanded.files, rows)
        keys, existing = added.keys, added.existing
        message = f"Added {len(keys)} image(s)"
        if existing:
            message += f", {len(existing)} already in the worklist"
        if expanded.skipped:
            message += f"; skipped {len(expanded.skipped)} file(s) that are not images"
        if not expanded.files:
            message = "No images found"
        if not_kept:
            message += f" (not kept in the worklist: {not_kept})"
        self.status_message.emit(message, 8000)
        if keys:
            self.files_added.emit(keys)
        target = (keys or existing or [None])[0]
        if target is not None and (self._table.current_key() < 0 or not keys):
            self._table.select_key(target)
            self._table.setFocus()

    def _on_expander_failed(self, message: str) -> None:
        self.status_message.emit(f"Could not open: {message}", 10000)

    def files_dialog(self) -> None:
        """File › Open: choose one or more images."""
        files, _ = QtWidgets.QFileDialog.getOpenFileNames(
            self._parent, "Open chest X-ray images", self._settings.last_folder(), IMAGE_FILTER
        )
        if files:
            self.open_paths(files)

    def folder_dialog(self) -> None:
        """File › Open Folder: every image in a folder tree."""
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self._parent, "Open a folder of chest X-rays", self._settings.last_folder()
        )
        if folder:
            self.open_paths([folder])

    def fill_recent_menu(self) -> None:
        """Open Recent: list the remembered files (called as the menu opens)."""
        menu = self.recent_menu
        settings = self._settings
        menu.clear()
        recent = settings.recent_files()
        for index, path in enumerate(recent, start=1):
            action = menu.addAction(f"&{index % 10}  {path}")
            action.setData(path)
            action.triggered.connect(self._on_recent_action_triggered)
        if not recent:
            menu.addAction("No recent files").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Clear Recent Files").triggered.connect(settings.clear_recent_files)

    def _on_recent_action_triggered(self) -> None:
        action = self.sender()
        if isinstance(action, QtGui.QAction) and action.data():
            self.open_paths([str(action.data())])


def _expand_and_register(paths: Sequence[Path], keeper: OpenedFilmKeeper
                         ) -> tuple[ExpandedInputs, dict[Path, FilmRow], str | None]:
    """Expand folders and give each file its worklist row (in the opener's worker thread).

    A worklist that cannot be written (a full disk, a read-only data folder) does not stop
    the files from being opened: they are analysed as before, and the reason is returned.
    """
    import sqlite3

    expanded = expand_paths(paths)
    try:
        return expanded, keeper.register(expanded.files), None
    except (OSError, sqlite3.Error) as error:
        return expanded, {}, str(error)


def local_paths(mime: QtCore.QMimeData) -> list[Path]:
    """Local files and folders in dragged data (nothing for other kinds of data)."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
