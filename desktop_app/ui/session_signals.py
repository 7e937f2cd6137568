"""The :class:`~desktop_app.core.session.session.Session`'s notifications as Qt signals.

The session has no Qt; the window's parts connect to these signals instead, so they run in
the order Qt delivers them (on the UI thread, at once) and need no reference to each other.
"""

from __future__ import annotations

from PySide6 import QtCore

from desktop_app.core.session.session import Session

__all__ = ["SessionSignals"]


class SessionSignals(QtCore.QObject):
    """Listens to one session and re-emits what it hears.

    Subscribe it after the table model (``ResultsTableModel``), so a part that reacts to
    ``worklist_cleared`` sees the table already emptied.

    Signals:
        model_changed(): The model in use was loaded, replaced or lost.
        queue_changed(): Rows joined or left the queue waiting for the window's answer.
        rows_changed(): Rows were added or changed status or answer.
        worklist_cleared(): Every row was removed.
    """

    model_changed = QtCore.Signal()
    queue_changed = QtCore.Signal()
    rows_changed = QtCore.Signal()
    worklist_cleared = QtCore.Signal()

    def __init__(self, session: Session, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        session.subscribe(_Relay(self))


class _Relay:
    """The :class:`SessionListener` side (its method names would shadow the signals)."""

    def __init__(self, signals: SessionSignals) -> None:
        self._signals = signals

    def rows_about_to_be_inserted(self, first: int, last: int) -> None:
        """Nothing to do before the rows are there."""

    def rows_inserted(self) -> None:
        """Rows were appended."""
        self._signals.rows_changed.emit()

    def rows_changed(self, first: int, last: int) -> None:
        """Rows changed status or answer."""
        self._signals.rows_changed.emit()

    def about_to_reset(self) -> None:
        """Nothing to do before the rows go."""

    def reset(self) -> None:
        """Every row went."""
        self._signals.rows_changed.emit()
        self._signals.worklist_cleared.emit()

    def model_changed(self) -> None:
        """The model in use changed."""
        self._signals.model_changed.emit()

    def queue_changed(self) -> None:
        """The queue changed."""
        self._signals.queue_changed.emit()
