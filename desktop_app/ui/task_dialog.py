"""The machinery the dialogs that run one background task on a folder or CSV of films share.

Analysis › Validate on Local Data… and Analysis › Calibrate to This Site… both ask for films
(a line edit with "Folder…" and "CSV…"), run one task on a
:class:`~desktop_app.ui.workers.TaskWorker` with a progress bar and a cooperative Cancel,
report in a status line, and must not go away while the worker still runs. Keeping that in
:class:`FilmsTaskDialog` means a fix to the worker's lifecycle (cancel, wait on close, the
cancelled and failed endings) lands in both dialogs at once; each dialog keeps its own form,
words, results and layout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app.ui.workers import TaskWorker

__all__ = ["FilmsTaskDialog", "FilmsTaskTexts"]

ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class FilmsTaskTexts:
    """The words that differ between the dialogs (everything else is shared).

    Attributes:
        task: The task as a noun ("Calibration"); names the progress bar and status line
            for screen readers ("Calibration progress", "Calibration status").
        run: The run button's text.
        path_name: The films line edit's accessible name.
        path_placeholder: The films line edit's placeholder.
        folder_title: The title of the "Folder…" picker.
        csv_title: The title of the "CSV…" picker.
        ready: The status line before anything ran.
        cancelled: The status line after a cancelled run.
        failed: The status line after a failed run; ``{message}`` stands for the reason.
    """

    task: str
    run: str
    path_name: str
    path_placeholder: str
    folder_title: str
    csv_title: str
    ready: str
    cancelled: str
    failed: str


class FilmsTaskDialog(QtWidgets.QDialog, Generic[ResultT]):
    """A dialog that runs one task on chosen films in the background, one run at a time.

    It builds the shared widgets (``path_edit``, ``folder_button``, ``csv_button``,
    ``run_button``, ``progress``, ``cancel_button``, ``status``) but leaves their layout to
    the subclass (:meth:`_path_row`, :meth:`_progress_row` help), since the dialogs place the
    run button differently. A subclass starts the work with :meth:`_start_worker` and fills
    in the hooks :meth:`_on_run_button_clicked`, :meth:`_progress_text` and
    :meth:`_show_result`; :meth:`_inputs` and :meth:`_result_buttons` name its own widgets
    that a run disables and a result enables. The worker never touches a widget: it only
    emits signals that land here on the UI thread.
    """

    def __init__(self, texts: FilmsTaskTexts,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: ResultT | None = None
        self._texts = texts
        self._worker: TaskWorker | None = None
        # One worker at a time; the pool is ours so closing can wait for exactly that one.
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self.path_edit = QtWidgets.QLineEdit()
        self.path_edit.setPlaceholderText(texts.path_placeholder)
        self.path_edit.setAccessibleName(texts.path_name)
        self.folder_button = QtWidgets.QPushButton("Folder…")
        self.csv_button = QtWidgets.QPushButton("CSV…")
        self.run_button = QtWidgets.QPushButton(texts.run)
        self.run_button.setDefault(True)
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setAccessibleName(f"{texts.task} progress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QtWidgets.QLabel(texts.ready)
        self.status.setWordWrap(True)
        self.status.setAccessibleName(f"{texts.task} status")
        self.folder_button.clicked.connect(self._on_folder_button_clicked)
        self.csv_button.clicked.connect(self._on_csv_button_clicked)
        self.run_button.clicked.connect(self._on_run_button_clicked)
        self.cancel_button.clicked.connect(self.cancel)

    # -- layout helpers -----------------------------------------------------------------------

    def _path_row(self, *trailing: QtWidgets.QWidget) -> QtWidgets.QHBoxLayout:
        """The films line edit (taking the spare width), "Folder…", "CSV…", then ``trailing``."""
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        for widget in (self.folder_button, self.csv_button, *trailing):
            row.addWidget(widget)
        return row

    def _progress_row(self, *leading: QtWidgets.QWidget) -> QtWidgets.QHBoxLayout:
        """``leading``, then the progress bar (taking the spare width) and Cancel."""
        row = QtWidgets.QHBoxLayout()
        for widget in leading:
            row.addWidget(widget)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        return row

    # -- running ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the task runs."""
        return self._worker is not None

    def cancel(self) -> None:
        """Ask the running task to stop (it stops at its next check, after the current film)."""
        if self._worker is not None:
            self._worker.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling…")

    def wait_for_worker(self, msecs: int = 30_000) -> bool:
        """Block until the worker thread ended (used on close and by tests)."""
        return self._pool.waitForDone(msecs)

    def _start_worker(self, function: Callable[..., Any], *args: Any, reading: str) -> None:
        """Run ``function(*args)`` on the dialog's pool, showing ``reading`` until progress."""
        self.progress.setRange(0, 0)  # busy until the films are listed
        self.status.setText(reading)
        worker = TaskWorker(function, *args)
        worker.signals.progress_changed.connect(self._on_worker_progress_changed)
        worker.signals.succeeded.connect(self._on_worker_succeeded)
        worker.signals.failed.connect(self._on_worker_failed)
        self._worker = worker
        self._set_running(True)
        self._pool.start(worker)

    def _set_running(self, running: bool) -> None:
        for widget in (self.path_edit, self.folder_button, self.csv_button, *self._inputs(),
                       self.run_button):
            widget.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for button in self._result_buttons():
            button.setEnabled(not running and self.result is not None)

    def _on_worker_progress_changed(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.status.setText(self._progress_text(done, total))

    def _on_worker_succeeded(self, result: ResultT | None) -> None:
        self._worker = None
        self.progress.setRange(0, 1)
        if result is None:  # the task saw the cancel and stopped without a result
            self.progress.setValue(0)
            self.status.setText(self._texts.cancelled)
            self._set_running(False)
            return
        self.progress.setValue(1)
        self.result = result
        self._set_running(False)
        self._show_result(result)

    def _on_worker_failed(self, message: str) -> None:
        self._worker = None
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self._set_running(False)
        self.status.setText(self._texts.failed.format(message=message))

    # -- hooks --------------------------------------------------------------------------------

    def _inputs(self) -> Iterable[QtWidgets.QWidget]:
        """The subclass's own inputs, disabled while the task runs (none by default)."""
        return ()

    def _result_buttons(self) -> Iterable[QtWidgets.QWidget]:
        """The subclass's buttons that act on a result (enabled once there is one)."""
        return ()

    def _on_run_button_clicked(self) -> None:
        raise NotImplementedError

    def _progress_text(self, done: int, total: int) -> str:
        """The status line for ``done`` of ``total`` films."""
        raise NotImplementedError

    def _show_result(self, result: ResultT) -> None:
        """Show a finished result (``self.result`` is set and the form enabled already)."""
        raise NotImplementedError

    # -- picking and closing ------------------------------------------------------------------

    def _on_folder_button_clicked(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, self._texts.folder_title)
        if folder:
            self.path_edit.setText(folder)

    def _on_csv_button_clicked(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, self._texts.csv_title, "",
                                                        "CSV files (*.csv)")
        if path:
            self.path_edit.setText(path)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        """Stop a running task before the dialog goes away (its worker must not outlive us)."""
        self.cancel()
        self.wait_for_worker()
        super().closeEvent(event)

    def reject(self) -> None:
        """Close (Esc / Close): cancel a running task first."""
        self.cancel()
        self.wait_for_worker()
        super().reject()
