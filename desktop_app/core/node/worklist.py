"""The worklist the window shows: one object that owns the rows, with no Qt.

Files opened or dropped, films received over DICOM and films from a watch folder all become
:class:`RowRecord` rows here; the table, the result panel and the exports read them from
here. The Qt table model (``desktop_app.ui.results_table``) is a thin adapter that listens
(:class:`WorklistListener`) and turns changes into Qt's row signals, so this logic can be
used and tested without a window.

Rows are light: a result without pixels and a small uint8 thumbnail, so 500 films cost a few
megabytes. Films that came from the persistent worklist (:mod:`desktop_app.core.
worklist_store`) carry their SOP Instance UID, sender and arrival time.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from desktop_app.core.classify.analysis import ImageResult

__all__ = ["RowRecord", "Status", "Worklist", "WorklistListener"]


class Status(enum.Enum):
    """Where a row is in its life; the value is what the table shows."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"
    CANCELLED = "cancelled"


@dataclass
class RowRecord:
    """One film of the worklist.

    Attributes:
        key: Stable id of the row (row numbers change when sorting).
        path: The file analysed.
        status: Where it is in the queue.
        result: Its result without pixels (``None`` until analysed).
        thumbnail: What the model saw, small uint8 grayscale (``None`` until analysed).
        sop_instance_uid: The film's UID in the persistent worklist (received or watched).
        calling_ae: The DICOM sender's AE title.
        received: When the film arrived (received, watched or opened films).
        origin: Where a film of the persistent worklist came from (``dicom``, ``watch``,
            ``open``); ``None`` for a file that has no row there (it could not be read).
        send_status: What became of its results (``worklist --json``'s ``send_status``:
            ``pending``, ``sent``, ``failed``), ``None`` when none were asked for.
        send_error: The last sending failure, shown with a failed or pending status.
    """

    key: int
    path: Path
    status: Status = Status.QUEUED
    result: ImageResult | None = None
    thumbnail: np.ndarray | None = None
    sop_instance_uid: str | None = None
    calling_ae: str | None = None
    received: dt.datetime | None = None
    origin: str | None = None
    send_status: str | None = None
    send_error: str | None = None

    @property
    def send_text(self) -> str:
        """The PACS column: whether the results reached the destination."""
        if self.send_status is None or self.send_status == "not configured":
            return ""
        return self.send_status

    @property
    def label_text(self) -> str:
        """The label column: the label, flagged when uncertain or cautioned; nothing for OOD."""
        result = self.result
        if result is None or not result.ok:
            return ""
        if result.out_of_distribution:
            return "not labelled (out of distribution)"
        if result.decision is None:
            return ""
        flags = [word for word, on in (("uncertain", result.decision.uncertain),
                                       ("caution", result.caution is not None)) if on]
        return result.decision.label + (f" ({', '.join(flags)})" if flags else "")

    @property
    def gate_text(self) -> str:
        """The gate column: "OOD" (refused), "caution" (labelled, unusual film) or empty."""
        result = self.result
        if result is None or not result.ok:
            return ""
        if result.out_of_distribution:
            return "OOD"
        return "caution" if result.caution is not None else ""

    @property
    def details(self) -> str:
        """The details column: the error, the OOD reason or the decision's reason."""
        result = self.result
        if result is None:
            return ""
        if not result.ok:
            return result.error or "could not be read"
        if result.out_of_distribution and result.ood is not None:
            return result.ood.reason or "outside what the model was trained on"
        reason = result.decision.reason if result.decision is not None else ""
        if result.caution is not None:
            return f"Caution — {result.caution}. {reason}".rstrip()
        return reason


class WorklistListener(Protocol):
    """What a view of the worklist is told (the Qt adapter maps it to row signals)."""

    def rows_about_to_be_inserted(self, first: int, last: int) -> None:
        """Rows ``first..last`` will be appended."""

    def rows_inserted(self) -> None:
        """The announced rows were appended."""

    def rows_changed(self, first: int, last: int) -> None:
        """Rows ``first..last`` changed status or result."""

    def about_to_reset(self) -> None:
        """Every row is about to go."""

    def reset(self) -> None:
        """The worklist was emptied."""


class Worklist:
    """The rows, in order of arrival, with lookups by key and by file."""

    def __init__(self) -> None:
        self._records: list[RowRecord] = []
        self._row_of: dict[int, int] = {}
        self._by_path: dict[Path, int] = {}
        self._by_uid: dict[str, int] = {}
        self._next_key = 0
        self._listeners: list[WorklistListener] = []

    def subscribe(self, listener: WorklistListener) -> None:
        """Tell ``listener`` about every later change."""
        self._listeners.append(listener)

    # -- adding and removing -------------------------------------------------------------------

    def add_paths(self, paths: Iterable[Path]) -> tuple[list[int], list[int]]:
        """Append rows for new files.

        Returns:
            Keys of the rows added, and keys of files that were already in the worklist.
        """
        new: list[Path] = []
        existing: list[int] = []
        for path in paths:
            path = Path(path)
            if path in self._by_path:
                existing.append(self._by_path[path])
            elif path not in new:
                new.append(path)
        return self._append([RowRecord(0, path) for path in new]), existing

    def add_film(self, path: Path, sop_instance_uid: str, *, calling_ae: str | None = None,
                 received: dt.datetime | None = None,
                 origin: str | None = None) -> tuple[int, bool]:
        """Append a film of the persistent worklist (one row per UID).

        Returns:
            The row's key and whether it is new.
        """
        if sop_instance_uid in self._by_uid:
            return self._by_uid[sop_instance_uid], False
        if Path(path) in self._by_path:  # opened earlier from the same file: the same film
            key = self._by_path[Path(path)]
            record = self.record(key)
            record.sop_instance_uid, record.calling_ae = sop_instance_uid, calling_ae
            record.received, record.origin = received, origin
            self._by_uid[sop_instance_uid] = key
            self._changed([self._row_of[key]])
            return key, False
        record = RowRecord(0, Path(path), sop_instance_uid=sop_instance_uid,
                           calling_ae=calling_ae, received=received, origin=origin)
        return self._append([record])[0], True

    def _append(self, records: list[RowRecord]) -> list[int]:
        if not records:
            return []
        first = len(self._records)
        for listener in self._listeners:
            listener.rows_about_to_be_inserted(first, first + len(records) - 1)
        for record in records:
            record.key = self._next_key
            self._next_key += 1
            self._row_of[record.key] = len(self._records)
            self._by_path[record.path] = record.key
            if record.sop_instance_uid is not None:
                self._by_uid[record.sop_instance_uid] = record.key
            self._records.append(record)
        for listener in self._listeners:
            listener.rows_inserted()
        return [record.key for record in records]

    def clear(self) -> None:
        """Remove every row (the persistent worklist keeps its films)."""
        for listener in self._listeners:
            listener.about_to_reset()
        self._records.clear()
        self._row_of.clear()
        self._by_path.clear()
        self._by_uid.clear()
        for listener in self._listeners:
            listener.reset()

    # -- reading -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._records)

    def records(self) -> list[RowRecord]:
        """All rows in order of arrival."""
        return list(self._records)

    def record(self, key: int) -> RowRecord:
        """The row with ``key``."""
        return self._records[self._row_of[key]]

    def record_at(self, row: int) -> RowRecord:
        """The row at position ``row`` (order of arrival)."""
        return self._records[row]

    def has_key(self, key: int) -> bool:
        """True if the row is still there (it may have been cleared)."""
        return key in self._row_of

    def key_of_film(self, sop_instance_uid: str) -> int | None:
        """The row of a film of the persistent worklist, if shown."""
        return self._by_uid.get(sop_instance_uid)

    def row_of(self, key: int) -> int:
        """Position of ``key`` in order of arrival."""
        return self._row_of[key]

    def keys_with_status(self, *statuses: Status) -> list[int]:
        """Keys of rows in any of ``statuses``, in order of arrival."""
        return [r.key for r in self._records if r.status in statuses]

    def count(self, status: Status) -> int:
        """How many rows have ``status``."""
        return sum(1 for r in self._records if r.status is status)

    # -- changing ------------------------------------------------------------------------------

    def set_status(self, keys: Iterable[int], status: Status) -> None:
        """Change the status of several rows."""
        rows = []
        for key in keys:
            row = self._row_of.get(key)
            if row is not None:
                self._records[row].status = status
                rows.append(row)
        self._changed(rows)

    def set_result(self, key: int, result: ImageResult,
                   thumbnail: np.ndarray | None = None) -> None:
        """Store a row's result (light: without pixels) and its thumbnail."""
        row = self._row_of.get(key)
        if row is None:
            return
        record = self._records[row]
        record.result = result
        record.status = Status.DONE if result.ok else Status.ERROR
        if thumbnail is not None:
            record.thumbnail = thumbnail
        self._changed([row])

    def set_send_states(self, states: dict[str, tuple[str, str | None]]) -> None:
        """Show ``{film UID: (send status, error)}`` on the rows of those films."""
        rows = []
        for uid, (status, error) in states.items():
            row = self._row_of.get(self._by_uid.get(uid, -1))
            if row is None:
                continue
            record = self._records[row]
            if (record.send_status, record.send_error) != (status, error):
                record.send_status, record.send_error = status, error
                rows.append(row)
        self._changed(rows)

    def _changed(self, rows: list[int]) -> None:
        if rows:
            for listener in self._listeners:
                listener.rows_changed(min(rows), max(rows))
