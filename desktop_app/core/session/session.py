"""One reading session's state and its rules, with no Qt: the worklist, the model, the queue.

The window's parts (opening files, the batch, the receiver, the exports, the display) used to
reach each other through the window to learn which model is in use, which rows still wait
for an answer and whether an answer may be kept. Those are rules a clinic depends on, so they
live here, in one object every part observes (napari's model/view split): a part changes the
:class:`Session` and the others hear of it through :class:`SessionListener`, the worklist's
own listener protocol widened by two events. Everything here runs in milliseconds without a
window, which is how ``tests/core/test_session.py`` tests it.

The classify path (image decoding, LiteRT) is imported only when stored answers are read,
so building a session does not slow the window's start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from desktop_app.core.node.worklist import Status, Worklist, WorklistListener
from desktop_app.core.node.worklist_store import ORIGIN_OPEN

if TYPE_CHECKING:
    from desktop_app.core.classify.analysis import ImageResult
    from desktop_app.core.model.model_bundle import ModelBundle
    from desktop_app.core.model.model_store import ActiveModel
    from desktop_app.core.node.worklist_store import FilmRow

__all__ = ["AddedFiles", "Session", "SessionListener", "is_from_model"]


def is_from_model(result: ImageResult, model_id: str | None) -> bool:
    """True when ``result`` was computed by the model ``model_id`` (``None``: no model).

    The one test of "is this answer the current model's": an answer of another model is
    never shown, kept or exported as if the model in use had given it.
    """
    return model_id is not None and result.model_id == model_id


class SessionListener(WorklistListener, Protocol):
    """What a view of the session is told: the worklist's row events and two of its own."""

    def model_changed(self) -> None:
        """The model in use was loaded, replaced or lost."""

    def queue_changed(self) -> None:
        """Rows joined or left the queue of rows waiting for the window's answer."""


@dataclass
class AddedFiles:
    """What adding opened files did.

    Attributes:
        keys: Rows added to the worklist (in the files' order).
        existing: Rows that already held one of the files (or the same film).
        queued: Rows queued for an answer (new files, and stored films without this model's
            answer).
    """

    keys: list[int] = field(default_factory=list)
    existing: list[int] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)


class Session:
    """The worklist, the model in use and the queue of rows waiting for an answer.

    The queue holds the rows the window itself must answer (its batch takes them from here);
    received films still queued in the persistent worklist are answered by the DICOM node
    and are not in it.
    """

    def __init__(self, worklist: Worklist | None = None) -> None:
        self.worklist = worklist if worklist is not None else Worklist()
        self._active: ActiveModel | None = None
        self._model_error: str | None = None
        self._waiting: list[int] = []
        self._listeners: list[SessionListener] = []

    def subscribe(self, listener: SessionListener) -> None:
        """Tell ``listener`` about every later change, the worklist's rows included."""
        self.worklist.subscribe(listener)
        self._listeners.append(listener)

    # -- the model in use ----------------------------------------------------------------------

    @property
    def active(self) -> ActiveModel | None:
        """The model in use, or ``None`` while loading or after a failure."""
        return self._active

    @property
    def bundle(self) -> ModelBundle | None:
        """The bundle of the model in use."""
        return self._active.bundle if self._active is not None else None

    @property
    def model_id(self) -> str | None:
        """The id of the model in use."""
        return self._active.bundle.card.model_id if self._active is not None else None

    @property
    def model_error(self) -> str | None:
        """Why no model could be loaded (``None`` once one is)."""
        return self._model_error

    def use_model(self, active: ActiveModel) -> bool:
        """Make ``active`` the model in use.

        Returns:
            True when it replaced another model: every row's answer came from the old one,
            so the whole worklist is queued again (:meth:`requeue_all`).
        """
        previous, self._active = self._active, active
        self._model_error = None
        replaced = previous is not None and previous.bundle is not active.bundle
        if replaced:
            self.requeue_all()
        self._tell_model_changed()
        return replaced

    def model_failed(self, message: str) -> None:
        """No model can be used: ``message`` says why (rows stay queued until one loads)."""
        self._active = None
        self._model_error = message
        self._tell_model_changed()

    def is_current_model(self, result: ImageResult) -> bool:
        """True when ``result`` came from the model now in use."""
        return is_from_model(result, self.model_id)

    # -- adding rows ---------------------------------------------------------------------------

    def add_opened(self, files: Sequence[Path], rows: dict[Path, FilmRow]) -> AddedFiles:
        """Add opened or dropped files in their order and queue those needing an answer.

        Args:
            files: The files, folders already expanded.
            rows: Each file's row of the persistent worklist; a file without one (it could
                not be registered) is still listed, and its analysis says why.
        """
        added = AddedFiles()
        for path in files:
            row = rows.get(path)
            if row is None:
                keys, known = self.worklist.add_paths([path])
                added.keys += keys
                added.queued += keys
                added.existing += known
                continue
            shown = self.worklist.key_of_film(row.sop_instance_uid)
            if shown is not None:  # the same film (file or content) is already a row
                added.existing.append(shown)
                continue
            added.queued += self._add_films([row], [path])
            key = self.worklist.key_of_film(row.sop_instance_uid)
            if key is not None:
                added.keys.append(key)
        self.enqueue(added.queued)
        return added

    def add_films(self, rows: Sequence[FilmRow], paths: Sequence[Path] | None = None
                  ) -> list[int]:
        """Show films of the persistent worklist with their stored answers; queue the others.

        Args:
            rows: The films.
            paths: Where each film is shown from (the opened file); default its stored file.

        Returns:
            Keys of the new rows queued for the window's answer: those answered by another
            model, and opened films still queued (the window, not the node, answers those).
            An opened film whose file is gone keeps its stored answer, or says it is gone.
        """
        queued = self._add_films(rows, paths)
        self.enqueue(queued)
        return queued

    def _add_films(self, rows: Sequence[FilmRow], paths: Sequence[Path] | None
                   ) -> list[int]:
        from desktop_app.core.classify.analysis import ImageResult
        from desktop_app.core.classify.row_thumbnails import thumbnail_from_png
        from desktop_app.core.node.stored_results import result_from_row

        card = self.bundle.card if self.bundle is not None else None
        queued = []
        for index, row in enumerate(rows):
            path = paths[index] if paths is not None else row.stored_file
            key, new = self.worklist.add_film(path, row.sop_instance_uid,
                                              calling_ae=row.calling_ae,
                                              received=row.received, origin=row.origin)
            result = result_from_row(row, card) if card is not None else None
            if result is not None:
                thumbnail = (thumbnail_from_png(row.thumbnail_png)
                             if row.thumbnail_png is not None else None)
                self.worklist.set_result(key, result, thumbnail)
            elif new and row.origin == ORIGIN_OPEN and not Path(path).is_file():
                self.worklist.set_result(key, ImageResult(
                    Path(path), self.model_id or "",
                    error=f"the file {str(path)!r} is no longer there"))
            elif new and (row.status != "queued" or row.origin == ORIGIN_OPEN):
                queued.append(key)  # this model answers for display (the node: received)
        return queued

    def add_received(self, path: Path, sop_instance_uid: str, calling_ae: str | None,
                     received: dt.datetime) -> int:
        """The row of a film received over DICOM or found in the watch folder (added once).

        The node answers these films itself, so they are not queued here.
        """
        key, _new = self.worklist.add_film(path, sop_instance_uid, calling_ae=calling_ae,
                                           received=received)
        return key

    # -- answers -------------------------------------------------------------------------------

    def accept_answer(self, key: int, result: ImageResult,
                      thumbnail: np.ndarray | None = None) -> bool:
        """Store an answer for row ``key``, unless another model than the one in use gave it.

        An answer computed before the model changed is dropped and the row keeps its place
        (queued again by :meth:`use_model`), so no row shows an answer the model in use did
        not give.

        Returns:
            True when the answer was stored.
        """
        if not self.is_current_model(result) or not self.worklist.has_key(key):
            return False
        self.worklist.set_result(key, result, thumbnail)
        return True

    # -- the queue -----------------------------------------------------------------------------

    def waiting(self) -> list[int]:
        """Rows queued for the window's answer, in order (not yet taken by a batch)."""
        return list(self._waiting)

    def is_waiting(self, key: int) -> bool:
        """True when row ``key`` is queued for the window's answer."""
        return key in self._waiting

    def unanswered(self) -> list[int]:
        """Rows that still need an answer (queued or being analysed), in order of arrival."""
        return self.worklist.keys_with_status(Status.QUEUED, Status.RUNNING)

    def enqueue(self, keys: Sequence[int]) -> None:
        """Queue rows for the window's answer."""
        if keys:
            self._waiting.extend(keys)
            self._tell_queue_changed()

    def take_waiting(self) -> list[int]:
        """Hand every queued row to a batch; none while no model is in use."""
        if self._active is None or not self._waiting:
            return []
        keys, self._waiting = self._waiting, []
        self._tell_queue_changed()
        return keys

    def requeue_all(self) -> None:
        """Queue every row again (a new model answers for the whole worklist)."""
        keys = [record.key for record in self.worklist.records()]
        self.worklist.set_status(keys, Status.QUEUED)
        self._waiting = keys
        self._tell_queue_changed()

    def cancel(self) -> list[int]:
        """Empty the queue: its rows stay in the worklist, "cancelled".

        Returns:
            The rows taken off the queue.
        """
        keys, self._waiting = self._waiting, []
        if keys:
            self.worklist.set_status(keys, Status.CANCELLED)
            self._tell_queue_changed()
        return keys

    def clear(self) -> None:
        """Empty the queue and remove every row (the persistent worklist keeps its films)."""
        self.cancel()
        self.worklist.clear()

    # -- notifications -------------------------------------------------------------------------

    def _tell_model_changed(self) -> None:
        for listener in self._listeners:
            listener.model_changed()

    def _tell_queue_changed(self) -> None:
        for listener in self._listeners:
            listener.queue_changed()
