"""Page 4 — Training: run train() + finalize() in a worker with progress, chart, log, Cancel."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app.ui.training_chart import TrainingChart
from desktop_app.ui.training_tasks import (
    TrainingOutcome,
    cancel_message,
    describe_training_error,
    new_run_dir,
    run_training,
    settings_lines,
)
from desktop_app.ui.training_worker import BackgroundTask, TaskState
from desktop_app.ui.wizard_pages.common import WizardContext, set_status, status_label
from desktop_app.ui.wizard_pages.settings_page import format_duration

__all__ = ["TrainingPage"]


class TrainingPage(QtWidgets.QWizardPage):
    """Starts training when shown; the UI thread only draws what the worker reports.

    TensorFlow is imported by ``train()`` inside the worker thread. Cancel sets the flag that
    ``train()``'s ``cancelled`` callback polls after every batch; the run unwinds by itself
    (never ``terminate()``), and nothing is installed: installing is a separate, later step.

    Signals:
        training_started(): The worker was started.
        training_progressed(object): A :class:`~model_training.training.TrainingProgress`.
        training_succeeded(object): The :class:`TrainingOutcome`.
        training_cancelled(str): The cancel message.
        training_failed(str): The error message.
        training_stopped(): Emitted last after any of the three outcomes.
    """

    training_started = QtCore.Signal()
    training_progressed = QtCore.Signal(object)
    training_succeeded = QtCore.Signal(object)
    training_cancelled = QtCore.Signal(str)
    training_failed = QtCore.Signal(str)
    training_stopped = QtCore.Signal()

    def __init__(self, context: WizardContext) -> None:
        super().__init__()
        self._context = context
        self._task: BackgroundTask | None = None
        self._outcome: TrainingOutcome | None = None
        self._started = 0.0
        self._running = False
        self._epochs = 1
        self.setTitle("Training")
        self.setSubTitle("You can keep using the computer; training runs in the background.")
        # Once the model is trained and the user moves on, going back would mean retraining.
        self.setCommitPage(True)
        self.setButtonText(QtWidgets.QWizard.WizardButton.CommitButton, "&Next >")

        self.phase = status_label("Training phase")
        self.epoch_bar = QtWidgets.QProgressBar()
        self.epoch_bar.setAccessibleName("Progress of the current epoch")
        self.epoch_bar.setFormat("%v / %m")
        self.run_bar = QtWidgets.QProgressBar()
        self.run_bar.setAccessibleName("Progress of the whole training run")
        self.run_bar.setRange(0, 1000)
        self.run_bar.setFormat("%p %")
        self.eta = status_label("Time remaining")
        self.cancel_button = QtWidgets.QPushButton("&Cancel Training")
        self.cancel_button.setAccessibleName("Cancel the training run")
        self.retry_button = QtWidgets.QPushButton("&Train Again")
        self.retry_button.setAccessibleName("Start the training run again")
        self.retry_button.hide()
        self.chart = TrainingChart()
        self.log = QtWidgets.QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setAccessibleName("Training log")
        self.log.setMaximumBlockCount(2000)
        self.log.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont))
        self.outcome_label = status_label("Training outcome")

        grid = QtWidgets.QGridLayout()
        grid.addWidget(QtWidgets.QLabel("Epoch:"), 0, 0)
        grid.addWidget(self.epoch_bar, 0, 1)
        grid.addWidget(QtWidgets.QLabel("Whole run:"), 1, 0)
        grid.addWidget(self.run_bar, 1, 1)
        grid.addWidget(self.cancel_button, 0, 2)
        grid.addWidget(self.retry_button, 1, 2)
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        splitter.addWidget(self.chart)
        splitter.addWidget(self.log)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.phase)
        layout.addLayout(grid)
        layout.addWidget(self.eta)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.outcome_label)

        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self.retry_button.clicked.connect(self._on_retry_button_clicked)

    # -- state ----------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True from start until the worker returned (also while a cancel takes effect)."""
        return self._running

    @property
    def outcome(self) -> TrainingOutcome | None:
        """The finished run, or None."""
        return self._outcome

    def isComplete(self) -> bool:
        """Next only after a successful run."""
        return self._outcome is not None and not self.running

    def initializePage(self) -> None:
        """Start training when the page is shown."""
        # Reached from Settings with a fresh configuration: always a new run.
        if not self.running:
            self.start()

    def cleanupPage(self) -> None:
        """Going back to Settings discards the run's outcome."""
        self._outcome = None
        self._context.outcome = None

    def cancel(self) -> None:
        """Ask the run to stop (takes effect after the current batch)."""
        if self.running and self._task is not None:
            self._task.cancel()
            self.cancel_button.setEnabled(False)
            # The estimate was for a run that is no longer going to finish.
            self.eta.clear()
            set_status(self.phase, "Cancelling after the current batch…", "warning")

    # -- running --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start a training run with the Settings page's configuration."""
        context = self._context
        summary, config = context.summary, context.config
        if summary is None or config is None:
            return
        self._outcome = None
        self._epochs = config.epochs
        self.chart.clear(config.epochs)
        self.log.clear()
        self.epoch_bar.setRange(0, 1)
        self.epoch_bar.setValue(0)
        self.run_bar.setValue(0)
        self.eta.clear()
        set_status(self.outcome_label, "")
        self.cancel_button.setEnabled(True)
        self.cancel_button.show()
        self.retry_button.hide()
        run_dir = new_run_dir(context.run_root)
        self._append(f"run folder: {run_dir}")
        self._append("settings:")
        for line in settings_lines(config.to_dict()):
            self._append(f"  {line}")
        set_status(self.phase, "Starting (loading TensorFlow)…")
        store, rounds = context.store, context.bootstrap_rounds

        def run(state: TaskState) -> TrainingOutcome:
            return run_training(summary, config, run_dir, store=store, bootstrap_rounds=rounds,
                                progress=state.report, log=state.log,
                                cancelled=state.is_cancelled)

        task = BackgroundTask(run)
        self._task = task
        signals = task.signals
        signals.progress_reported.connect(partial(self._on_task_progress_reported, task))
        signals.line_logged.connect(partial(self._on_task_line_logged, task))
        signals.succeeded.connect(partial(self._on_task_succeeded, task))
        signals.failed.connect(partial(self._on_task_failed, task))
        signals.cancelled.connect(partial(self._on_task_cancelled, task))
        signals.finished.connect(partial(self._on_task_finished, task))
        self._started = time.monotonic()
        self._running = True
        self.completeChanged.emit()
        self._lock_back(True)
        # QWizard refreshes its buttons after initializePage(); lock again once it has.
        QtCore.QTimer.singleShot(0, self._on_lock_timer_timeout)
        context.start(task)
        self.training_started.emit()

    def _lock_back(self, locked: bool) -> None:
        wizard = self.wizard()
        if wizard is not None:
            wizard.button(QtWidgets.QWizard.WizardButton.BackButton).setEnabled(not locked)

    def _on_lock_timer_timeout(self) -> None:
        if self.running:
            self._lock_back(True)

    def _append(self, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.log.appendPlainText(f"{stamp}  {line}")

    def _on_task_progress_reported(self, task: BackgroundTask, progress: Any) -> None:
        if task is not self._task or task.is_cancelled():
            return
        if progress.phase == "preprocessing":
            set_status(self.phase, f"Reading and preparing images ({progress.batch} of "
                                   f"{progress.batches})…")
            self.epoch_bar.setRange(0, max(1, progress.batches))
            self.epoch_bar.setValue(progress.batch)
            self.epoch_bar.setFormat("%v / %m images")
            self.training_progressed.emit(progress)
            return
        done = (progress.epoch - 1) * progress.batches + progress.batch
        total = max(1, progress.epochs * progress.batches)
        self.epoch_bar.setRange(0, max(1, progress.batches))
        self.epoch_bar.setValue(progress.batch)
        self.epoch_bar.setFormat("%v / %m batches")
        self.run_bar.setValue(round(1000 * done / total))
        set_status(self.phase, f"Training: epoch {progress.epoch} of {progress.epochs}")
        if progress.eta_seconds is not None:
            self.eta.setText(f"Time remaining: {format_duration(progress.eta_seconds)} "
                             "(plus calibration and evaluation)")
        x = progress.epoch - 1 + progress.batch / max(1, progress.batches)
        self.chart.add_point(x, progress.metrics)
        if "val_loss" in progress.metrics:
            shown = ", ".join(f"{k} {v:.4f}" for k, v in progress.metrics.items()
                              if k in ("loss", "accuracy", "val_loss", "val_accuracy",
                                       "val_auroc"))
            self._append(f"epoch {progress.epoch}/{progress.epochs}: {shown}")
        self.training_progressed.emit(progress)

    def _on_task_line_logged(self, task: BackgroundTask, line: str) -> None:
        if task is self._task:
            self._append(line)
            if self.run_bar.value() >= 999 or "calibrat" in line or "predicting" in line:
                self.run_bar.setValue(1000)
                set_status(self.phase, "Calibrating, evaluating and exporting the model…")

    def _on_task_succeeded(self, task: BackgroundTask, outcome: TrainingOutcome) -> None:
        if task is not self._task:
            return
        self._outcome = outcome
        self._context.outcome = outcome
        self.run_bar.setValue(1000)
        self.eta.clear()
        minutes = format_duration(time.monotonic() - self._started)
        set_status(self.phase, "Training finished.", "ok")
        set_status(self.outcome_label, f"The new model is trained, calibrated and exported "
                                       f"({minutes}). Press Next to compare it with the "
                                       "installed model.", "ok")
        self._append(f"bundle written to {outcome.bundle_dir}")
        self.training_succeeded.emit(outcome)

    def _on_task_cancelled(self, task: BackgroundTask, error: BaseException) -> None:
        if task is not self._task:
            return
        set_status(self.phase, "Training cancelled.", "warning")
        message = f"{cancel_message(error)} Nothing was installed."
        set_status(self.outcome_label, message, "warning")
        self._append(message)
        self.training_cancelled.emit(message)

    def _on_task_failed(self, task: BackgroundTask, error: BaseException) -> None:
        if task is not self._task:
            return
        message = (f"Training failed: {describe_training_error(error)} Nothing was installed; "
                   "change the settings or the data and try again.")
        set_status(self.phase, "Training stopped.", "error")
        set_status(self.outcome_label, message, "error")
        self._append(message)
        self.training_failed.emit(message)

    def _on_task_finished(self, task: BackgroundTask) -> None:
        if task is not self._task:
            return
        self._running = False
        self.eta.clear()
        self.cancel_button.setEnabled(False)
        if self._outcome is None:
            self.cancel_button.hide()
            self.retry_button.show()
        self.completeChanged.emit()
        self._lock_back(False)
        self.training_stopped.emit()

    # -- slots ----------------------------------------------------------------------------------

    def _on_cancel_button_clicked(self) -> None:
        self.cancel()

    def _on_retry_button_clicked(self) -> None:
        self.start()
