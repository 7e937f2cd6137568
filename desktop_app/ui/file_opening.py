"""Opening files: File › Open, Open Folder, Open Recent and what the window is given.

Folders are expanded off the UI thread (every file's first bytes are read); new files become
worklist rows and are queued for the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app.ui.workers import FunctionWorker, expand_paths

if TYPE_CHECKING:
    from desktop_app.core.analysis import ExpandedInputs
    from desktop_app.ui.main_window import MainWindow

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
        worker = FunctionWorker(expand_paths, paths)
        worker.signals.succeeded.connect(self._on_expander_succeeded)
        worker.signals.failed.connect(self._on_expander_failed)
        self._pool.start(worker)

    def _on_expander_succeeded(self, expanded: ExpandedInputs) -> None:
        window = self._window
        keys, existing = window.table_model.add_paths(expanded.files)
        message = f"Added {len(keys)} image(s)"
        if existing:
            message += f", {len(existing)} already in the worklist"
        if expanded.skipped:
            message += f"; skipped {len(expanded.skipped)} file(s) that are not images"
        if not expanded.files:
            message = "No images found"
        window.statusBar().showMessage(message, 8000)
        if keys:
            window.batch.enqueue(keys)
            self.files_added.emit(keys)
        target = (keys or existing or [None])[0]
        if target is not None and (window.table.current_key() < 0 or not keys):
            window.table.select_key(target)
            window.table.setFocus()
        window.update_actions()

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


def local_paths(mime: QtCore.QMimeData) -> list[Path]:
    """Local files and folders in dragged data (nothing for other kinds of data)."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
