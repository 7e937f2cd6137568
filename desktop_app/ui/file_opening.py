"""Opening files: File › Open, Open Folder, Open Recent and what the window is given.

Folders are expanded off the UI thread (every file's first bytes are read) and each file is
registered in the persistent worklist there too (hashed: a row per film, see
:mod:`desktop_app.core.opened_films`); new files become worklist rows and are queued for the
batch, unless the worklist already holds this model's answer for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app.ui.workers import FunctionWorker, expand_paths

if TYPE_CHECKING:
    from desktop_app.core.analysis import ExpandedInputs
    from desktop_app.core.worklist_store import FilmRow
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.opened_persistence import OpenedFilmKeeper

__all__ = ["IMAGE_FILTER", "FileOpening", "local_paths"]

IMAGE_FILTER = (
    "Chest X-ray images (*.png *.jpg *.jpeg *.dcm *.dicom *.dic *.tif *.tiff *.bmp);;"
    "All files (*)"
)


class FileOpening(QtCore.QObject):
    """Adds files and folders to one window's worklist.

    Signals:
        files_added(list): Row keys added to the worklist.
    """

    files_added = QtCore.Signal(list)

    def __init__(self, window: MainWindow, pool: QtCore.QThreadPool) -> None:
        super().__init__(window)
        self._window = window
        self._pool = pool

    def open_paths(self, paths: Sequence[str | Path], *, remember: bool = True) -> None:
        """Add files and folders to the worklist (folders are expanded off the UI thread)."""
        paths = [Path(p) for p in paths if str(p)]
        if not paths:
            return
        settings = self._window.settings
        if remember:
            settings.add_recent_files([str(p.resolve()) for p in paths])
            first = paths[0].resolve()
            settings.set_last_folder(first if first.is_dir() else first.parent)
        if any(p.is_dir() for p in paths):
            self._window.statusBar().showMessage("Looking for images…")
        worker = FunctionWorker(_expand_and_register, paths, self._window.receiver.opened)
        worker.signals.succeeded.connect(self._on_expander_succeeded)
        worker.signals.failed.connect(self._on_expander_failed)
        self._pool.start(worker)

    def _on_expander_succeeded(
            self, found: tuple[ExpandedInputs, dict[Path, FilmRow], str | None]) -> None:
        expanded, rows, not_kept = found
        window = self._window
        keys, existing, answer = self._add(expanded.files, rows)
        message = f"Added {len(keys)} image(s)"
        if existing:
            message += f", {len(existing)} already in the worklist"
        if expanded.skipped:
            message += f"; skipped {len(expanded.skipped)} file(s) that are not images"
        if not expanded.files:
            message = "No images found"
        if not_kept:
            message += f" (not kept in the worklist: {not_kept})"
        window.statusBar().showMessage(message, 8000)
        if answer:
            window.batch.enqueue(answer)
        if keys:
            self.files_added.emit(keys)
        target = (keys or existing or [None])[0]
        if target is not None and (window.table.current_key() < 0 or not keys):
            window.table.select_key(target)
            window.table.setFocus()
        window.update_actions()

    def _add(self, files: list[Path], rows: dict[Path, FilmRow]
             ) -> tuple[list[int], list[int], list[int]]:
        """Add files in their order: keys added, keys already shown, keys to analyse."""
        model = self._window.table_model
        keys: list[int] = []
        existing: list[int] = []
        answer: list[int] = []
        for path in files:
            row = rows.get(path)
            if row is None:  # no worklist row (unreadable): listed, its analysis says why
                added, known = model.add_paths([path])
                keys += added
                answer += added
                existing += known
                continue
            shown = model.worklist.key_of_film(row.sop_instance_uid)
            if shown is not None:  # the same film (file or content) is already a row
                existing.append(shown)
                continue
            answer += self._window.receiver.show_rows([row], [path])
            key = model.worklist.key_of_film(row.sop_instance_uid)
            if key is not None:
                keys.append(key)
        return keys, existing, answer

    def _on_expander_failed(self, message: str) -> None:
        self._window.statusBar().showMessage(f"Could not open: {message}", 10000)

    def files_dialog(self) -> None:
        """File › Open: choose one or more images."""
        files, _ = QtWidgets.QFileDialog.getOpenFileNames(
            self._window, "Open chest X-ray images", self._window.settings.last_folder(),
            IMAGE_FILTER
        )
        if files:
            self.open_paths(files)

    def folder_dialog(self) -> None:
        """File › Open Folder: every image in a folder tree."""
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self._window, "Open a folder of chest X-rays", self._window.settings.last_folder()
        )
        if folder:
            self.open_paths([folder])

    def fill_recent_menu(self) -> None:
        """Open Recent: list the remembered files (called as the menu opens)."""
        menu = self._window.recent_menu
        settings = self._window.settings
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
