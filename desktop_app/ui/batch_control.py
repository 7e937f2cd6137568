"""Classifying the rows the session queues, in the background, one batch at a time.

:class:`BatchControl` starts a batch (:class:`~desktop_app.ui.workers.BatchAnalysisWorker`)
whenever the session has queued rows and a model and nothing runs, hands each answer to the
session (which keeps only the model in use's) and, for opened films, to the worklist database
(:class:`~desktop_app.ui.opened_persistence.OpenedFilmKeeper`). It draws its progress bar and
reports everything else by signal; what to show of a finished row is the display's business.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from desktop_app.core.node.worklist import Status
from desktop_app.ui.workers import BatchAnalysisWorker, BatchItem

if TYPE_CHECKING:
    from desktop_app.core.session.session import Session
    from desktop_app.ui.opened_persistence import OpenedFilmKeeper
    from desktop_app.ui.session_signals import SessionSignals

__all__ = ["DECODE_WORKERS", "BatchControl"]

# Decoding threads of a worklist batch (Pillow releases the GIL while decoding); on a busy
# two-core PC one thread was slower and no smoother for the UI.
DECODE_WORKERS = 2


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    return f"{round(seconds / 60)} min"


class BatchControl(QtCore.QObject):
    """Runs the session's queue through the model, one batch at a time.

    Signals:
        item_done(object): A :class:`BatchItem`'s answer was kept in the worklist.
        finished(bool): A batch ended; True if cancelled.
        running_changed(bool): A batch started (True) or ended (False).
        status_message(str, int): Progress for the status bar, and for how many ms (0: until
            replaced).
        error(str): Why classification stopped.
    """

    item_done = QtCore.Signal(object)
    finished = QtCore.Signal(bool)
    running_changed = QtCore.Signal(bool)
    status_message = QtCore.Signal(str, int)
    error = QtCore.Signal(str)

    def __init__(self, signals: SessionSignals, keeper: OpenedFilmKeeper,
                 parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self._session: Session = signals.session
        self._keeper = keeper
        self.batch: BatchAnalysisWorker | None = None
        self._done: set[int] = set()
        self._started = 0.0
        # The batch has its own single thread so it never waits behind an export.
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._pool.setExpiryTimeout(-1)
        self.progress_bar = QtWidgets.QProgressBar(parent)
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setAccessibleName("Analysis progress")
        self.progress_bar.hide()
        signals.queue_changed.connect(self.schedule)
        signals.model_changed.connect(self.schedule)
        signals.worklist_cleared.connect(self.cancel)

    @property
    def running(self) -> bool:
        """True while a batch runs."""
        return self.batch is not None

    @property
    def pending(self) -> list[int]:
        """Rows queued for the next batch (``benchmarks/gui_responsiveness.py`` reads it)."""
        return self._session.waiting()

    def is_pending_in_batch(self, key: int) -> bool:
        """True when ``key`` is the only row of the running batch and not answered yet."""
        batch = self.batch
        return (batch is not None and batch.keys == [key] and key not in self._done)

    def schedule(self) -> None:
        """Start a batch with the queued rows if the model is ready and nothing runs."""
        if self.batch is not None:
            return
        session = self._session
        keys = session.take_waiting()
        if not keys or session.bundle is None:
            return
        worklist = session.worklist
        items = [(key, worklist.record(key).path) for key in keys if worklist.has_key(key)]
        # One file (e.g. from the command line): keep its pixels so it shows without a re-load.
        batch = BatchAnalysisWorker(session.bundle, items, keep_loaded=len(items) == 1,
                                    decode_workers=DECODE_WORKERS)
        batch.signals.item_finished.connect(self._on_batch_item_finished)
        batch.signals.progress_changed.connect(self._on_batch_progress_changed)
        batch.signals.batch_finished.connect(self._on_batch_finished)
        batch.signals.batch_failed.connect(self._on_batch_failed)
        self.batch = batch
        self._done = set()
        self._started = time.monotonic()
        worklist.set_status(keys[:8], Status.RUNNING)
        bar = self.progress_bar
        bar.setRange(0, len(items))
        bar.setValue(0)
        bar.setFormat(f"%v / {len(items)}")
        bar.show()
        self.running_changed.emit(True)
        self._pool.start(batch)

    def stop_running(self) -> None:
        """Stop the running batch only (the queue stays: a new model answers it)."""
        if self.batch is not None:
            self.batch.cancel()

    def cancel(self) -> None:
        """Stop the running batch; queued rows become "cancelled"."""
        if self.batch is not None:
            self.batch.cancel()
            self.status_message.emit("Cancelling…", 0)
        self._session.cancel()

    def wait(self, msecs: int) -> None:
        """Wait for the batch thread to end (closing the window)."""
        self._pool.waitForDone(msecs)

    def _on_batch_item_finished(self, item: BatchItem) -> None:
        if item.key in self._done:
            return  # answered already in this batch
        if not self._session.accept_answer(item.key, item.result, item.thumbnail):
            return  # a late answer of a batch cancelled by a model change, or a cleared row
        self._done.add(item.key)
        # An opened film's answer goes to the worklist database (other rows are ignored).
        self._keeper.keep_answer(self._session.worklist.record(item.key), item.result,
                                 item.thumbnail)
        self.item_done.emit(item)

    def _on_batch_progress_changed(self, done: int, total: int) -> None:
        self.progress_bar.setValue(done)
        if self.batch is not None:
            worklist = self._session.worklist
            worklist.set_status(
                [k for k in self.batch.keys[done:done + 8]
                 if worklist.has_key(k) and worklist.record(k).status is Status.QUEUED],
                Status.RUNNING,
            )
        message = f"Analysing {done} of {total}…"
        elapsed = time.monotonic() - self._started
        if 0 < done < total and elapsed > 2.0:
            remaining = elapsed / done * (total - done)
            message += f" about {_duration(remaining)} left (Esc to cancel)"
        self.status_message.emit(message, 0)

    def _end(self, unfinished_statuses: tuple[Status, ...] | None) -> None:
        batch, self.batch = self.batch, None
        if batch is not None:
            session = self._session
            worklist = session.worklist
            unfinished = [k for k in batch.keys if k not in self._done
                          and not session.is_waiting(k) and worklist.has_key(k)
                          and (unfinished_statuses is None
                               or worklist.record(k).status in unfinished_statuses)]
            worklist.set_status(unfinished, Status.CANCELLED)
        self.progress_bar.hide()
        self.running_changed.emit(False)

    def _on_batch_finished(self, cancelled: bool) -> None:
        self._end((Status.QUEUED, Status.RUNNING))
        done = len(self._done)
        self.status_message.emit(
            f"Cancelled after {done} image(s)" if cancelled else f"Analysed {done} image(s)", 8000
        )
        self.finished.emit(cancelled)
        self.schedule()

    def _on_batch_failed(self, message: str) -> None:
        self._end(None)
        self.error.emit(f"Classification stopped: {message}")
        self.finished.emit(True)
