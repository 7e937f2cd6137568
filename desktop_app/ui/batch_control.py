"""Classifying the worklist's opened files in the background, one batch at a time.

:class:`BatchControl` keeps the queue of rows waiting for the batch worker
(:class:`~desktop_app.ui.workers.BatchAnalysisWorker`), starts a batch when the model is ready
and nothing runs, and writes each answer into the worklist (and, for opened films, into its
database: :class:`~desktop_app.ui.opened_persistence.OpenedFilmKeeper`). Progress goes to
the window's progress bar and status bar; the window decides what to show of a finished row.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6 import QtCore

from desktop_app.core.worklist import Status
from desktop_app.ui.banner import BannerLevel
from desktop_app.ui.workers import BatchAnalysisWorker, BatchItem

if TYPE_CHECKING:
    from desktop_app.ui.main_window import MainWindow

__all__ = ["DECODE_WORKERS", "BatchControl"]

# Decoding threads of a worklist batch (Pillow releases the GIL while decoding); on a busy
# two-core PC one thread was slower and no smoother for the UI.
DECODE_WORKERS = 2


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    return f"{round(seconds / 60)} min"


class BatchControl(QtCore.QObject):
    """The worklist's batch queue.

    Signals:
        item_done(object): A :class:`BatchItem` was written into the worklist.
        finished(bool): A batch ended; True if cancelled.
    """

    item_done = QtCore.Signal(object)
    finished = QtCore.Signal(bool)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.batch: BatchAnalysisWorker | None = None
        self.pending: list[int] = []
        self._done: set[int] = set()
        self._started = 0.0
        # The batch has its own single thread so it never waits behind an export.
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._pool.setExpiryTimeout(-1)

    @property
    def running(self) -> bool:
        """True while a batch runs."""
        return self.batch is not None

    def is_pending_in_batch(self, key: int) -> bool:
        """True when ``key`` is the only row of the running batch and not answered yet."""
        batch = self.batch
        return (batch is not None and batch.keys == [key] and key not in self._done)

    def enqueue(self, keys: list[int]) -> None:
        """Queue rows and start a batch if possible."""
        self.pending.extend(keys)
        self.schedule()

    def schedule(self) -> None:
        """Start a batch with the queued rows if the model is ready and nothing runs."""
        window = self._window
        active = window.active_model
        if self.batch is not None or active is None or not self.pending:
            return
        keys, self.pending = self.pending, []
        model = window.table_model
        items = [(key, model.record(key).path) for key in keys if model.has_key(key)]
        # One file (e.g. from the command line): keep its pixels so it shows without a re-load.
        batch = BatchAnalysisWorker(active.bundle, items, keep_loaded=len(items) == 1,
                                    decode_workers=DECODE_WORKERS)
        batch.signals.item_finished.connect(self._on_batch_item_finished)
        batch.signals.progress_changed.connect(self._on_batch_progress_changed)
        batch.signals.batch_finished.connect(self._on_batch_finished)
        batch.signals.batch_failed.connect(self._on_batch_failed)
        self.batch = batch
        self._done = set()
        self._started = time.monotonic()
        model.set_status(keys[:8], Status.RUNNING)
        bar = window.progress_bar
        bar.setRange(0, len(items))
        bar.setValue(0)
        bar.setFormat(f"%v / {len(items)}")
        bar.show()
        window.cancel_button.show()
        window.update_actions()
        self._pool.start(batch)

    def stop_running(self) -> None:
        """Stop the running batch only (the queue stays: a new model answers it)."""
        if self.batch is not None:
            self.batch.cancel()

    def cancel(self) -> None:
        """Stop the running batch; queued rows become "cancelled"."""
        if self.batch is not None:
            self.batch.cancel()
            self._window.statusBar().showMessage("Cancelling…")
        if self.pending:
            self._window.table_model.set_status(self.pending, Status.CANCELLED)
            self.pending.clear()

    def requeue_all(self) -> None:
        """Classify every row again (a new model answers for the whole worklist)."""
        model = self._window.table_model
        keys = [r.key for r in model.records()]
        model.set_status(keys, Status.QUEUED)
        self.pending = keys

    def wait(self, msecs: int) -> None:
        """Wait for the batch thread to end (closing the window)."""
        self._pool.waitForDone(msecs)

    def _on_batch_item_finished(self, item: BatchItem) -> None:
        if item.key in self._done or not self._window.is_current_model(item.result):
            return  # a late answer of a batch cancelled by a model change
        self._done.add(item.key)
        model = self._window.table_model
        model.set_result(item.key, item.result, item.thumbnail)
        if model.has_key(item.key):  # an opened film's answer goes to the worklist database
            self._window.receiver.opened.keep_answer(model.record(item.key), item.result,
                                                     item.thumbnail)
        self.item_done.emit(item)

    def _on_batch_progress_changed(self, done: int, total: int) -> None:
        window = self._window
        window.progress_bar.setValue(done)
        if self.batch is not None:
            model = window.table_model
            model.set_status(
                [k for k in self.batch.keys[done:done + 8]
                 if model.has_key(k) and model.record(k).status is Status.QUEUED],
                Status.RUNNING,
            )
        message = f"Analysing {done} of {total}…"
        elapsed = time.monotonic() - self._started
        if 0 < done < total and elapsed > 2.0:
            remaining = elapsed / done * (total - done)
            message += f" about {_duration(remaining)} left (Esc to cancel)"
        window.statusBar().showMessage(message)

    def _end(self, unfinished_statuses: tuple[Status, ...] | None) -> None:
        batch, self.batch = self.batch, None
        window = self._window
        if batch is not None:
            model = window.table_model
            pending = set(self.pending)
            unfinished = [k for k in batch.keys if k not in self._done and k not in pending
                          and model.has_key(k)
                          and (unfinished_statuses is None
                               or model.record(k).status in unfinished_statuses)]
            model.set_status(unfinished, Status.CANCELLED)
        window.progress_bar.hide()
        window.cancel_button.setVisible(window.exports.running)

    def _on_batch_finished(self, cancelled: bool) -> None:
        self._end((Status.QUEUED, Status.RUNNING))
        done = len(self._done)
        self._window.statusBar().showMessage(
            f"Cancelled after {done} image(s)" if cancelled else f"Analysed {done} image(s)", 8000
        )
        self._window.update_actions()
        self.finished.emit(cancelled)
        self.schedule()

    def _on_batch_failed(self, message: str) -> None:
        self._end(None)
        self._window.banner.show_message(f"Classification stopped: {message}", BannerLevel.ERROR)
        self._window.update_actions()
        self.finished.emit(True)
