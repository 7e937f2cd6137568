"""The outbox: result objects waiting to be sent, as a table of the one worklist database.

One row per result object and destination, committed only after its file is on disk
(written atomically) and before anything is sent, so whatever the process goes through
(a refused connection, a crash, ``SIGKILL``) the row is still there and says what is owed.
A row is ``pending`` until the destination answers Success (or a warning, which is kept),
then ``sent``; a failure that will not go away by itself (the destination refuses the SOP
class, or answers with a failure status) makes it ``failed``. Neither kind is dropped: both
are tried again after a back-off that grows with each attempt (longer for ``failed``), and
``send --retry-failed`` tries the failed ones at once. A film's send status is derived from
its rows (:meth:`Outbox.film_states`), never stored twice.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core import audit_trail
from desktop_app.core.node.worklist_store import WorklistStore

__all__ = ["SEND_STATUSES", "FilmSendState", "Outbox", "OutboxRow", "ResultEntry"]

#: What ``worklist --json``'s ``send_status`` may hold.
SEND_STATUSES = ("not configured", "pending", "sent", "failed")
#: The longest wait between two attempts, for rows still ``pending`` and ``failed`` ones.
MAX_PENDING_WAIT = 300.0
MAX_FAILED_WAIT = 3600.0


@dataclass(frozen=True)
class ResultEntry:
    """A result object written for a film, about to become an outbox row.

    Attributes:
        kind: ``"SR"`` or ``"SC"``.
        sop_class_uid: Its SOP Class UID.
        sop_instance_uid: Its SOP Instance UID (derived: the same on every rebuild).
        file: Where it is written.
    """

    kind: str
    sop_class_uid: str
    sop_instance_uid: str
    file: Path


@dataclass(frozen=True)
class OutboxRow:
    """One result object owed to one destination."""

    id: int
    film_uid: str
    kind: str
    sop_class_uid: str
    sop_instance_uid: str
    file: Path
    destination: str
    status: str
    attempts: int
    last_error: str | None
    warning: str | None


@dataclass(frozen=True)
class FilmSendState:
    """What ``worklist --json`` says about sending one film's results.

    Attributes:
        status: One of :data:`SEND_STATUSES`.
        result_uids: SOP Instance UIDs of the film's result objects (SR first).
        error: The last failure, or why no result could be made (``None`` when none).
        warning: A warning status a destination answered with, if any.
    """

    status: str
    result_uids: list[str]
    error: str | None = None
    warning: str | None = None


def _outbox_row(row: sqlite3.Row) -> OutboxRow:
    return OutboxRow(row["id"], row["film_uid"], row["kind"], row["sop_class_uid"],
                     row["sop_instance_uid"], Path(row["file"]), row["destination"],
                     row["status"], row["attempts"], row["last_error"], row["warning"])


class Outbox:
    """The outbox rows of a worklist (same database, same lock)."""

    def __init__(self, store: WorklistStore, *, retry_base_seconds: float = 2.0) -> None:
        """Bind to a worklist.

        Args:
            store: The worklist.
            retry_base_seconds: The first back-off; each further attempt doubles it.
        """
        self.store = store
        self.retry_base_seconds = retry_base_seconds

    # -- what is owed --------------------------------------------------------------------------

    def want_results(self, film_uids: Iterable[str], destination: str) -> int:
        """Ask for the results of answered films to be sent to ``destination``.

        Used for films answered before a destination was set (the window's *Send results*);
        the writer then makes their result objects. Returns how many films were marked.
        """
        with self.store.transaction() as connection:
            cursor = connection.executemany(
                "UPDATE films SET send_to = ?, results_note = NULL WHERE sop_instance_uid = ?",
                [(destination, uid) for uid in film_uids])
            return cursor.rowcount

    def films_owed(self, limit: int = 16) -> list[str]:
        """Answered films whose results are wanted but not written yet (after a crash, say)."""
        rows = self.store.query(
            "SELECT sop_instance_uid FROM films WHERE send_to IS NOT NULL "
            "AND results_note IS NULL AND status != 'queued' AND NOT EXISTS "
            "(SELECT 1 FROM outbox WHERE outbox.film_uid = films.sop_instance_uid "
            "AND outbox.destination = films.send_to) ORDER BY seq LIMIT ?", (limit,))
        return [row["sop_instance_uid"] for row in rows]

    def note_no_results(self, film_uid: str, note: str) -> None:
        """Record why no result object can be made for a film (shown as its send error)."""
        with self.store.transaction() as connection:
            connection.execute("UPDATE films SET results_note = ? WHERE sop_instance_uid = ?",
                               (note, film_uid))

    def add(self, film_uid: str, destination: str, entries: Iterable[ResultEntry]) -> None:
        """Commit the rows of written result objects (their files are on disk already).

        A row that exists (the same object for the same destination) is kept as it is:
        rebuilding a result after a crash does not reset what was sent.
        """
        now = dt.datetime.now().astimezone().isoformat()
        with self.store.transaction() as connection:
            connection.executemany(
                "INSERT OR IGNORE INTO outbox (film_uid, kind, sop_class_uid, "
                "sop_instance_uid, file, destination, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(film_uid, e.kind, e.sop_class_uid, e.sop_instance_uid, str(e.file),
                  destination, now) for e in entries])
            for entry in entries:
                audit_trail.append(connection, "result written", entry.kind,
                                   film_uid=film_uid,
                                   detail=f"{entry.sop_instance_uid} for {destination}")

    def destinations(self) -> list[str]:
        """Every destination the worklist names (films' and outbox rows'), latest first."""
        rows = self.store.query(
            "SELECT destination FROM (SELECT send_to AS destination, seq FROM films "
            "WHERE send_to IS NOT NULL UNION ALL SELECT o.destination, f.seq FROM outbox o "
            "JOIN films f ON f.sop_instance_uid = o.film_uid) "
            "GROUP BY destination ORDER BY MAX(seq) DESC")
        return [row["destination"] for row in rows]

    # -- sending -------------------------------------------------------------------------------

    def due(self, *, now: float | None = None, limit: int = 64) -> list[OutboxRow]:
        """Rows to try now (pending or failed, their back-off over), oldest first."""
        now = time.time() if now is None else now
        rows = self.store.query(
            "SELECT * FROM outbox WHERE status != 'sent' AND next_attempt <= ? "
            "ORDER BY id LIMIT ?", (now, limit))
        return [_outbox_row(r) for r in rows]

    def unsent(self) -> list[OutboxRow]:
        """Every row not sent yet."""
        return [_outbox_row(r) for r in
                self.store.query("SELECT * FROM outbox WHERE status != 'sent' ORDER BY id")]

    def next_due_in(self) -> float | None:
        """Seconds until the next unsent row is due (``None``: nothing owed)."""
        rows = self.store.query("SELECT MIN(next_attempt) AS t FROM outbox "
                                "WHERE status != 'sent'")
        when = rows[0]["t"] if rows else None
        return None if when is None else max(0.0, when - time.time())

    def _audit(self, connection: sqlite3.Connection, row_id: int, what: str,
               outcome: str, detail: str | None) -> None:
        row = connection.execute("SELECT film_uid, kind, sop_instance_uid, destination "
                                 "FROM outbox WHERE id = ?", (row_id,)).fetchone()
        audit_trail.append(connection, what, outcome, film_uid=row["film_uid"],
                           detail=f"{row['kind']} {row['sop_instance_uid']} to "
                           f"{row['destination']}" + (f": {detail}" if detail else ""))

    def record_sent(self, row_id: int, status: int, warning: str | None = None) -> None:
        """The destination answered Success (or a warning, kept in ``warning``)."""
        with self.store.transaction() as connection:
            self._audit(connection, row_id, "sent", f"status 0x{status:04X}", warning)
            connection.execute(
                "UPDATE outbox SET status = 'sent', attempts = attempts + 1, last_status = ?, "
                "warning = ?, last_error = NULL, sent = ? WHERE id = ?",
                (status, warning, dt.datetime.now().astimezone().isoformat(), row_id))

    def record_failure(self, row_id: int, error: str, *, status: int | None = None,
                       permanent: bool = False) -> None:
        """An attempt failed: keep the row, say why, and wait longer before the next one.

        Args:
            row_id: The row.
            error: What went wrong, in plain words (shown in the worklist).
            status: The DICOM status the destination answered, if it answered.
            permanent: True when trying again soon would fail the same way (the SOP class
                is refused, a failure status): the row becomes ``failed``.
        """
        with self.store.transaction() as connection:
            attempts = connection.execute("SELECT attempts FROM outbox WHERE id = ?",
                                          (row_id,)).fetchone()["attempts"] + 1
            self._audit(connection, row_id, "send failed",
                        f"status 0x{status:04X}" if status is not None else "no status",
                        error)
            cap = MAX_FAILED_WAIT if permanent else MAX_PENDING_WAIT
            base = self.retry_base_seconds * (30.0 if permanent else 1.0)
            wait = min(cap, base * 2.0 ** min(attempts - 1, 20))
            connection.execute(
                "UPDATE outbox SET status = CASE WHEN ? THEN 'failed' ELSE status END, "
                "attempts = ?, last_status = ?, last_error = ?, next_attempt = ? WHERE id = ?",
                (permanent, attempts, status, error, time.time() + wait, row_id))

    def retry_failed(self) -> int:
        """Make every failed row pending and due now; how many there were."""
        with self.store.transaction() as connection:
            cursor = connection.execute(
                "UPDATE outbox SET status = 'pending', next_attempt = 0 WHERE status = 'failed'")
            count = cursor.rowcount
            connection.execute("UPDATE films SET results_note = NULL "
                               "WHERE results_note IS NOT NULL AND send_to IS NOT NULL")
            return count

    def retry_now(self) -> None:
        """Make every unsent row due now (a destination came back, a user asked)."""
        with self.store.transaction() as connection:
            connection.execute("UPDATE outbox SET next_attempt = 0 WHERE status != 'sent'")

    # -- what the worklist shows ---------------------------------------------------------------

    def film_states(self) -> dict[str, FilmSendState]:
        """The send state of every film (``not configured`` for films absent here)."""
        states: dict[str, FilmSendState] = {}
        rows: dict[str, list[OutboxRow]] = {}
        for row in self.store.query("SELECT * FROM outbox ORDER BY film_uid, kind DESC, id"):
            rows.setdefault(row["film_uid"], []).append(_outbox_row(row))
        for film in self.store.query("SELECT sop_instance_uid, send_to, results_note, status "
                                     "FROM films WHERE send_to IS NOT NULL"):
            uid = film["sop_instance_uid"]
            own = [r for r in rows.get(uid, []) if r.destination == film["send_to"]]
            states[uid] = _state(own, film["results_note"])
        return states


def _state(rows: list[OutboxRow], note: str | None) -> FilmSendState:
    uids = list(dict.fromkeys(r.sop_instance_uid for r in rows))
    warning = next((r.warning for r in rows if r.warning), None)
    if note is not None:
        return FilmSendState("failed", uids, note, warning)
    error = next((r.last_error for r in rows if r.status != "sent" and r.last_error), None)
    if any(r.status == "failed" for r in rows):
        return FilmSendState("failed", uids, error, warning)
    if not rows or any(r.status == "pending" for r in rows):
        return FilmSendState("pending", uids, error, warning)
    return FilmSendState("sent", uids, None, warning)
