"""File › Export: the worklist as CSV (at once) or as a PDF report (in the background).

Both read the rows from the session's worklist in the table's sorted order; the PDF is drawn
by :func:`desktop_app.ui.exporters.write_pdf_report` in a :class:`TaskWorker` (cancellable).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from desktop_app.ui.window_menus import make_action
from desktop_app.ui.workers import TaskWorker

if TYPE_CHECKING:
    from desktop_app.core.node.worklist import RowRecord
    from desktop_app.core.session.session import Session
    from desktop_app.ui.results_table import ResultsTableView
    from desktop_app.ui.session_signals import SessionSignals
    from desktop_app.ui.settings import Settings

__all__ = ["ExportControl"]


class ExportControl(QtCore.QObject):
    """The export actions and the exports they write.

    Signals:
        finished(str): A PDF report was written to this path.
        failed(str): Why the PDF export failed or was cancelled.
        running_changed(bool): A PDF export started (True) or ended (False).
        status_message(str, int): What happened, for the status bar, and for how many ms
            (0: until replaced).
        error(str): Why an export could not be written.
    """

    finished = QtCore.Signal(str)
    failed = QtCore.Signal(str)
    running_changed = QtCore.Signal(bool)
    status_message = QtCore.Signal(str, int)
    error = QtCore.Signal(str)

    def __init__(self, signals: SessionSignals, table: ResultsTableView, settings: Settings,
                 pool: QtCore.QThreadPool, parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self._session: Session = signals.session
        self._table = table
        self._settings = settings
        self._pool = pool
        self._parent = parent
        self.task: TaskWorker | None = None
        self._path = ""
        pixmap = QtWidgets.QStyle.StandardPixmap
        self.csv_action = make_action(
            parent, "Export Worklist as &CSV…", self.csv_dialog, "Ctrl+E",
            "Save the table of results as a CSV file (Ctrl+E)", pixmap.SP_DialogSaveButton)
        self.pdf_action = make_action(
            parent, "Export &PDF Report…", self.pdf_dialog, "Ctrl+Shift+E",
            "Save a PDF report with one page per image (Ctrl+Shift+E)", pixmap.SP_FileIcon)
        self._update_actions()
        signals.rows_changed.connect(self._update_actions)
        signals.model_changed.connect(self._update_actions)
        signals.worklist_cleared.connect(self.cancel)

    @property
    def running(self) -> bool:
        """True while a PDF report is being written."""
        return self.task is not None

    def cancel(self) -> None:
        """Stop a running PDF export (no half file is left)."""
        if self.task is not None:
            self.task.cancel()

    def _update_actions(self) -> None:
        has_rows = len(self._session.worklist) > 0
        self.csv_action.setEnabled(has_rows)
        self.pdf_action.setEnabled(has_rows and self._session.active is not None
                                   and self.task is None)

    def _default_name(self, suffix: str) -> str:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
        return str(Path(self._settings.last_folder()) / f"lunglens-{stamp}.{suffix}")

    def _records(self) -> list[RowRecord]:
        worklist = self._session.worklist
        return [worklist.record(k) for k in self._table.keys_in_view_order()]

    def csv_dialog(self) -> None:
        """File › Export CSV: choose where to save the table."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self._parent, "Export worklist as CSV", self._default_name("csv"), "CSV (*.csv)"
        )
        if path:
            self.export_csv(path)

    def export_csv(self, path: str | Path) -> int:
        """Write the worklist, in its sorted order, to ``path``; return the rows written."""
        from desktop_app.core.model.calibration_line import calibration_line
        from desktop_app.ui.exporters import write_csv

        bundle = self._session.bundle
        model_id = bundle.card.model_id if bundle is not None else None
        calibration = calibration_line(bundle.card) if bundle is not None else None
        try:
            count = write_csv(path, self._records(), self._table.source_model.classes,
                              model_id, calibration)
        except OSError as error:
            self.error.emit(f"Could not save the CSV file: {error}")
            return 0
        self.status_message.emit(f"Saved {count} row(s) to {path}", 8000)
        return count

    def pdf_dialog(self) -> None:
        """File › Export PDF: choose where to save the report."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self._parent, "Export PDF report", self._default_name("pdf"), "PDF (*.pdf)"
        )
        if path:
            self.export_pdf(path)

    def export_pdf(self, path: str | Path) -> bool:
        """Write a PDF report (one page per row, worklist order) in the background.

        Returns:
            False if it could not start (no model, no rows or an export already running).
        """
        bundle = self._session.bundle
        if bundle is None or self.task is not None or len(self._session.worklist) == 0:
            return False
        from desktop_app.ui.exporters import write_pdf_report

        files = [record.path for record in self._records()]
        task = TaskWorker(write_pdf_report, Path(path), bundle, files)
        task.signals.progress_changed.connect(self._on_task_progress_changed)
        task.signals.succeeded.connect(self._on_task_succeeded)
        task.signals.failed.connect(self._on_task_failed)
        self.task = task
        self._path = str(path)
        self.status_message.emit("Writing the PDF report…", 0)
        self._update_actions()
        self.running_changed.emit(True)
        self._pool.start(task)
        return True

    def _on_task_progress_changed(self, done: int, total: int) -> None:
        self.status_message.emit(f"Writing the PDF report: page {done} of {total}…", 0)

    def _ended(self) -> None:
        self.task = None
        self._update_actions()
        self.running_changed.emit(False)

    def _on_task_succeeded(self, pages: int) -> None:
        self._ended()
        if pages == 0:
            self.status_message.emit("PDF export cancelled", 8000)
            self.failed.emit("cancelled")
            return
        self.status_message.emit(f"Saved a {pages}-page report to {self._path}", 10000)
        self.finished.emit(self._path)

    def _on_task_failed(self, message: str) -> None:
        self._ended()
        self.error.emit(f"The PDF report could not be written: {message}")
        self.failed.emit(message)
