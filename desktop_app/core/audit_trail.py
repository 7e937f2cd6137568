"""The audit trail: what LungLens did, one append-only row per event, in the worklist database.

A clinic must be able to say, afterwards, which film arrived when, what LungLens answered
with which model, which result objects it wrote and whether the PACS took them (with the
DICOM status), and when a model or a site calibration was installed or rolled back. Each of
those is a row of the ``audit`` table of ``worklist.sqlite3``, written in the same
transaction as the change it records where there is one (a film's row, its answer, an
outbox row), so the trail and the worklist never disagree. SQLite triggers refuse any
``UPDATE`` or ``DELETE`` of the table: rows are only ever added.

It sits at the core's root because rooms at several levels write to it (the node's
worklist and outbox, the model store).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["AUDIT_SCHEMA", "DATABASE_FILE", "EVENTS", "AuditEvent", "append", "append_to_folder",
           "read_events"]

LOGGER = logging.getLogger("desktop_app.audit")
#: The one database of a data folder (the worklist, the outbox and the audit trail).
DATABASE_FILE = "worklist.sqlite3"
#: What an event may be.
EVENTS = ("received", "analysed", "result written", "sent", "send failed", "model installed",
          "calibration installed", "model activated", "model rolled back")

AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    what TEXT NOT NULL,
    film_uid TEXT,
    model_id TEXT,
    outcome TEXT NOT NULL,
    detail TEXT
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""


@dataclass(frozen=True)
class AuditEvent:
    """One row of the trail.

    Attributes:
        seq: Order of the events.
        time: When (ISO 8601 with offset).
        what: One of :data:`EVENTS`.
        film_uid: The film's SOP Instance UID, for film events.
        model_id: The model concerned.
        outcome: The result in a few words (the label, ``stored``, a DICOM status...).
        detail: More, when there is more to say (an error, the destination, a file).
    """

    seq: int
    time: str
    what: str
    film_uid: str | None
    model_id: str | None
    outcome: str
    detail: str | None

    def to_json(self) -> str:
        """One ``audit --json`` line."""
        return json.dumps(asdict(self))


def append(connection: sqlite3.Connection, what: str, outcome: str, *,
           film_uid: str | None = None, model_id: str | None = None,
           detail: str | None = None) -> None:
    """Add an event inside the caller's transaction (it commits with the change it records).

    Raises:
        ValueError: Quoting ``what``, if it is not one of :data:`EVENTS`.
    """
    if what not in EVENTS:
        raise ValueError(f"unknown audit event {what!r}; known: {EVENTS}")
    connection.execute(
        "INSERT INTO audit (time, what, film_uid, model_id, outcome, detail) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (dt.datetime.now().astimezone().isoformat(timespec="seconds"), what, film_uid,
         model_id, outcome, detail))


def append_to_folder(data_dir: Path, what: str, outcome: str, *, model_id: str | None = None,
                     detail: str | None = None) -> bool:
    """Add an event to a data folder's trail from outside the worklist (the model store).

    A trail that cannot be written (read-only folder, locked database) must not stop a model
    from being installed: the failure is logged and False returned.
    """
    try:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(Path(data_dir) / DATABASE_FILE, timeout=30.0)
        try:
            with connection:
                connection.executescript(AUDIT_SCHEMA)
                append(connection, what, outcome, model_id=model_id, detail=detail)
        finally:
            connection.close()
    except (sqlite3.Error, OSError) as error:
        LOGGER.warning("audit trail in %s not written (%s %s): %s", data_dir, what, outcome,
                       error)
        return False
    return True


def read_events(connection: sqlite3.Connection, since: dt.datetime | None = None
                ) -> list[AuditEvent]:
    """The trail in order (events at or after ``since`` when given)."""
    rows = connection.execute("SELECT seq, time, what, film_uid, model_id, outcome, detail "
                              "FROM audit ORDER BY seq").fetchall()
    events = [AuditEvent(*row) for row in rows]
    if since is None:
        return events
    return [event for event in events if dt.datetime.fromisoformat(event.time) >= since]
