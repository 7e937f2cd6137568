"""File › Export: the worklist as CSV (at once) or as a PDF report (in the background).

Both read the rows from the worklist in the table's sorted order; the PDF is drawn by
:func:`desktop_app.ui.exporters.write_pdf_report` in a :class:`TaskWorker` (cancellable).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from desktop_app.ui.banner import BannerLevel
from desktop_app.ui.workers import TaskWorker

if TYPE_CHECKING:
    from desktop_app.ui.main_window import MainWindow

__all__ = ["ExportControl"]


class ExportControl(QtCore.QObject):
    """Writes the exports of one window.

    Signals:
        finished(str): A PDF report was written to this path.
        failed(str): Why the PDF export failed or was cancelled.
    """

    finished = QtCore.Signal(str)
    failed = QtCore.Signal(str)

    def __init__(self, window: MainWindow, pool: QtCore.QThreadPool) -> None:
        super().__init__(window)
        self._window = window
        self._pool = pool
        self.task: TaskWorker | None = None
        self._path = ""

    @property
    def running(self) -> bool:
        """True while a PDF report is being written."""
        return self.task is not None

    def cancel(self) -> None:
        """Stop a running PDF export (no half file is left)."""
        if self.task is not None:
            self.task.cancel()

    def _default_name(self, suffix: str) -> str:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
        return str(Path(self._window.settings.last_folder()) / f"lunglens-{stamp}.{suffix}")

    def _records(self) -> list:
        window = self._window
        return [window.table_model.record(k) for k in window.table.keys_in_view_order()]

    def csv_dialog(self) -> None:
        """File › Export CSV: choose where to save the table."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self._window, "Export worklist as CSV", self._default_name("csv"), "CSV (*.csv)"
        )
        if path:
            self.export_csv(path)

    def export_csv(self, path: str | Path) -> int:
        """Write the worklist, in its sorted order, to ``path``; return the rows written."""
        from desktop_app.core.calibration_line import calibration_line
        from desktop_app.ui.exporters import write_csv

        window = self._window
        active = window.active_model
        model_id = active.bundle.card.model_id if active else None
        calibration = calibration_line(active.bundle.card) if active else None
        try:
            count = write_csv(path, self._records(), window.table_model.classes, model_id,
                              calibration)
        except OSError as error:
            window.banner.show_message(f"Could not save the CSV file: {error}",
                                       BannerLevel.ERROR)
            return 0
        window.statusBar().showMessage(f"Saved {count} row(s) to {path}", 8000)
        return count

    def pdf_dialog(self) -> None:
        """File › Export PDF: choose where to save the report."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self._window, "Export PDF report", self._default_name("pdf"), "PDF (*.pdf)"
        )
        if path:
            self.export_pdf(path)

    def export_pdf(self, path: str | Path) -> bool:
        """Write a PDF report (one page per row, worklist order) in the background.

        Returns:
            False if it could not start (no model, no rows or an export already running).
        """
        window = self._window
        active = window.active_model
        if active is None or self.task is not None or window.table_model.rowCount() == 0:
            return False
        from desktop_app.ui.exporters import write_pdf_report

        files = [record.path for record in self._records()]
        task = TaskWorker(write_pdf_report, Path(path), active.bundle, files)
        task.signals.progress_changed.connect(self._on_task_progress_changed)
        task.signals.succeeded.connect(self._on_task_succeeded)
        task.signals.failed.connect(self._on_task_failed)
        self.task = task
        self._path = str(path)
        window.statusBar().showMessage("Writing the PDF report…")
        window.cancel_button.show()
        window.update_actions()
        self._pool.start(task)
        return True

    def _on_task_progress_changed(self, done: int, total: int) -> None:
        self._window.statusBar().showMessage(f"Writing the PDF report: page {done} of {total}…")

    def _ended(self) -> None:
        self.task = None
        self._window.cancel_button.setVisible(self._window.analysis_running)
        self._window.update_actions()

    def _on_task_succeeded(self, pages: int) -> None:
        self._ended()
        if pages == 0:
            self._window.statusBar().showMessage("PDF export cancelled", 8000)
            self.failed.emit("cancelled")
            return
        self._window.statusBar().showMessage(f"Saved a {pages}-page report to {self._path}",
                                             10000)
        self.finished.emit(self._path)

    def _on_task_failed(self, message: str) -> None:
        self._ended()
        self._window.banner.show_message(f"The PDF report could not be written: {message}",
                                         BannerLevel.ERROR)
        self.failed.emit(message)
