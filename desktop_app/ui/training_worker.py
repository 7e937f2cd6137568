"""Background tasks for the training wizard: a ``QRunnable`` plus a signals ``QObject``.

The work is an ordinary function of a :class:`TaskState` (Orange3's ``run(data, state)``):
it reports progress and log lines through the state and polls ``state.is_cancelled`` — the
``model_training`` functions take exactly such ``progress``/``cancelled`` callbacks. The
runnable only moves the outcome to the UI thread by queued signals (superqt's pattern: a
``QRunnable`` is not a ``QObject``). Cancelling sets a flag; nothing is ever terminated, so
Keras finishes the current batch, the callbacks see the flag and the run unwinds cleanly.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6 import QtCore

__all__ = ["BackgroundTask", "TaskSignals", "TaskState"]


class TaskState:
    """What a task function gets: report progress, log, and ask whether to stop.

    Thread-safe: the task thread calls ``report``/``log``; the UI thread calls ``cancel``.
    """

    def __init__(self, signals: TaskSignals) -> None:
        self._signals = signals
        self._cancel = threading.Event()

    def report(self, value: object) -> None:
        """Send a progress value (any object) to the UI thread."""
        self._signals.progress_reported.emit(value)

    def log(self, line: str) -> None:
        """Send one log line to the UI thread."""
        self._signals.line_logged.emit(str(line))

    def cancel(self) -> None:
        """Ask the task to stop at its next check."""
        self._cancel.set()

    def is_cancelled(self) -> bool:
        """True once :meth:`cancel` was called (the ``cancelled`` callback)."""
        return self._cancel.is_set()


class TaskSignals(QtCore.QObject):
    """Signals of :class:`BackgroundTask`.

    Signals:
        progress_reported(object): A progress value from the task.
        line_logged(str): A log line from the task.
        succeeded(object): The function's return value.
        failed(object): The exception it raised (the UI words it).
        cancelled(object): The exception raised after a cancel request.
        finished(): Emitted last, whatever the outcome.
    """

    progress_reported = QtCore.Signal(object)
    line_logged = QtCore.Signal(str)
    succeeded = QtCore.Signal(object)
    failed = QtCore.Signal(object)
    cancelled = QtCore.Signal(object)
    finished = QtCore.Signal()


class BackgroundTask(QtCore.QRunnable):
    """Run ``function(state)`` in a thread pool; report the outcome by signal.

    An exception raised after :meth:`cancel` counts as a cancel (``TrainingCancelled``,
    ``CheckCancelled``, ``InterruptedError``...), any other one as a failure; none escapes
    into Qt's thread.
    """

    def __init__(self, function: Callable[[TaskState], Any]) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the page keeps the task (and its signals) alive
        self.signals = TaskSignals()
        self.state = TaskState(self.signals)
        self._function = function
        self._running = threading.Event()
        self._done = threading.Event()

    def cancel(self) -> None:
        """Ask the task to stop (cooperatively, within one batch for training)."""
        self.state.cancel()

    def is_cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self.state.is_cancelled()

    def is_done(self) -> bool:
        """True once the function returned or raised."""
        return self._done.is_set()

    def run(self) -> None:
        """Run the function in a Python-created thread and wait for it (in the pool's thread).

        Why not call it directly: a pool thread is reused, and PySide gives each ``run`` a
        fresh Python thread state on the same OS thread. TensorFlow keeps per-thread state
        tied to both; a second TensorFlow job on a reused pool thread (a speed measurement,
        then training) crashed in graph tracing. A Python thread per task has one thread
        state for its whole life, as in the CLI.
        """
        self._running.set()
        thread = threading.Thread(target=self._call, name="lunglens-task", daemon=True)
        thread.start()
        thread.join()
        self._done.set()
        self.signals.finished.emit()

    def _call(self) -> None:
        try:
            value = self._function(self.state)
        except BaseException as error:  # reported, never raised into Qt
            if self.state.is_cancelled():
                self.signals.cancelled.emit(error)
            else:
                traceback.print_exc()
                self.signals.failed.emit(error)
        else:
            if self.state.is_cancelled():
                self.signals.cancelled.emit(InterruptedError("cancelled"))
            else:
                self.signals.succeeded.emit(value)
