"""The persistent worklist: one SQLite row per film (SOP Instance UID), queue included.

Films received over DICOM, found in a watch folder or opened in the window all become rows
here. A row is committed *before* the sender is told the film is stored, and analysis takes
its work from the rows still ``queued`` (in order of arrival), so a crash loses nothing and a
restart resumes exactly the films whose result was never committed. A result is written
only onto a ``queued`` row, in the same transaction that marks it done, which is what makes
"analysed exactly once" hold across restarts; ``analyses`` counts the committed results so
tests and benchmarks can check it.

The result is stored as the ``classify --json`` record itself (the ``record`` column), with
the fields people filter on copied into their own columns. Fields added to that record later
flow through without this module naming them.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit is on disk when it returns, and
the receiver's threads and the analysis thread read and write concurrently. One connection
serves every thread of a process behind a lock (statements are short).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app.core import audit_trail
from desktop_app.core.audit_trail import AUDIT_SCHEMA, DATABASE_FILE, AuditEvent

__all__ = [
    "FILM_STATUSES",
    "ORIGIN_OPEN",
    "WORKLIST_FILE",
    "FilmRow",
    "WorklistStore",
    "start_of_local_day",
]

WORKLIST_FILE = DATABASE_FILE
#: What ``status`` may hold: waiting for analysis, answered, or could not be read.
FILM_STATUSES = ("queued", "analysed", "failed")
#: The ``origin`` of a film opened or dropped in the window (the others: ``dicom``, ``watch``).
ORIGIN_OPEN = "open"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS films (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sop_instance_uid TEXT NOT NULL UNIQUE,
    received TEXT NOT NULL,
    origin TEXT NOT NULL,
    calling_ae TEXT,
    stored_file TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    model_id TEXT,
    label TEXT,
    probabilities TEXT,
    caution TEXT,
    refusal TEXT,
    record TEXT,
    analyses INTEGER NOT NULL DEFAULT 0,
    thumbnail BLOB
);
CREATE INDEX IF NOT EXISTS films_status ON films (status, seq);
CREATE INDEX IF NOT EXISTS films_received ON films (received);
CREATE TABLE IF NOT EXISTS watched (
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sop_instance_uid TEXT,
    PRIMARY KEY (path, size, mtime_ns)
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    film_uid TEXT NOT NULL,
    kind TEXT NOT NULL,
    sop_class_uid TEXT NOT NULL,
    sop_instance_uid TEXT NOT NULL,
    file TEXT NOT NULL,
    destination TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_error TEXT,
    warning TEXT,
    created TEXT NOT NULL,
    sent TEXT,
    UNIQUE (sop_instance_uid, destination)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt);
CREATE INDEX IF NOT EXISTS outbox_film ON outbox (film_uid);
"""
#: Columns added to ``films`` after its first release: (name, SQL type), added on opening.
_ADDED_FILM_COLUMNS = (
    # Where the film's results are to be sent (``AET@HOST:PORT``), set with its answer.
    ("send_to", "TEXT"),
    # Why no result objects can be made for the film (e.g. not a DICOM file).
    ("results_note", "TEXT"),
)


def start_of_local_day(day: dt.date) -> dt.datetime:
    """Local midnight starting ``day``, timezone-aware (what "today's films" means)."""
    return dt.datetime.combine(day, dt.time()).astimezone()


@dataclass(frozen=True)
class FilmRow:
    """One film of the worklist.

    Attributes:
        seq: Order of arrival (increasing).
        sop_instance_uid: The film's SOP Instance UID (for non-DICOM files a UID derived
            from the content's sha256 under the ``2.25`` root).
        received: When it arrived (timezone-aware).
        origin: ``"dicom"`` (C-STORE), ``"watch"`` (watch folder) or ``"open"`` (the window).
        calling_ae: The sender's AE title (DICOM only).
        stored_file: The file analysed: the received copy, or the watched/opened file itself.
        sha256: Hex digest of that file's bytes when it arrived.
        status: One of :data:`FILM_STATUSES`.
        model_id: The model that answered (``None`` while queued).
        label: The label, ``None`` when refused, failed or queued.
        probabilities: Calibrated probabilities per class.
        caution: The caution given with an unusual-but-accepted film, if any.
        refusal: Why no label was given (out-of-distribution reason or read error).
        record: The ``classify --json`` record of the result (``None`` while queued).
        analyses: How many results were committed (0 or 1).
        thumbnail_png: What the model saw, small, as PNG bytes (``None`` while queued).
        send_to: Where the film's results are to be sent (``AET@HOST:PORT``), if anywhere.
        results_note: Why no result objects could be made for it, if so.
    """

    seq: int
    sop_instance_uid: str
    received: dt.datetime
    origin: str
    calling_ae: str | None
    stored_file: Path
    sha256: str
    status: str
    model_id: str | None
    label: str | None
    probabilities: dict[str, float] | None
    caution: str | None
    refusal: str | None
    record: dict[str, Any] | None
    analyses: int
    thumbnail_png: bytes | None = None
    send_to: str | None = None
    results_note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``worklist --json`` object: the classify record plus where the film came from."""
        record = dict(self.record) if self.record is not None else {"path": str(self.stored_file)}
        record.update(
            sop_instance_uid=self.sop_instance_uid,
            received=self.received.isoformat(timespec="seconds"),
            calling_ae=self.calling_ae,
            status=self.status,
        )
        return record


def _row(values: sqlite3.Row) -> FilmRow:
    return FilmRow(
        seq=values["seq"],
        sop_instance_uid=values["sop_instance_uid"],
        received=dt.datetime.fromisoformat(values["received"]),
        origin=values["origin"],
        calling_ae=values["calling_ae"],
        stored_file=Path(values["stored_file"]),
        sha256=values["sha256"],
        status=values["status"],
        model_id=values["model_id"],
        label=values["label"],
        probabilities=json.loads(values["probabilities"]) if values["probabilities"] else None,
        caution=values["caution"],
        refusal=values["refusal"],
        record=json.loads(values["record"]) if values["record"] else None,
        analyses=values["analyses"],
        thumbnail_png=values["thumbnail"],
        send_to=values["send_to"],
        results_note=values["results_note"],
    )


class WorklistStore:
    """The worklist database of one data folder; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        """Open (creating when needed) the database at ``path``.

        Raises:
            sqlite3.Error: If the file exists but is not a usable database.
        """
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(self.path, check_same_thread=False,
                                           isolation_level=None, timeout=30.0)
        self._connection.row_factory = sqlite3.Row
        with self._lock:
            self._connection.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit survives a power cut, which is what the success status promises.
            self._connection.execute("PRAGMA synchronous=FULL")
            self._connection.executescript(_SCHEMA)
            self._connection.executescript(AUDIT_SCHEMA)
            present = {row["name"] for row in
                       self._connection.execute("PRAGMA table_info(films)").fetchall()}
            for name, kind in _ADDED_FILM_COLUMNS:
                if name not in present:  # a worklist written by an earlier version
                    self._add_column(name, kind)

    def _add_column(self, name: str, kind: str) -> None:
        """Add a column of a later version, unless another opener just added it.

        The node, the window and the commands open the same file; two of them opening a new
        or older worklist at once both find the column missing, and the second ALTER fails
        with "duplicate column name": that means the column is there, which is the goal.
        """
        try:
            self._connection.execute(f"ALTER TABLE films ADD COLUMN {name} {kind}")
        except sqlite3.OperationalError as error:
            if "duplicate column name" not in str(error):
                raise

    @classmethod
    def in_folder(cls, data_dir: Path) -> WorklistStore:
        """The worklist kept in ``data_dir`` (the user data folder or ``--data-dir``)."""
        return cls(Path(data_dir) / WORKLIST_FILE)

    def close(self) -> None:
        """Close the connection (the rows are already on disk)."""
        with self._lock:
            self._connection.close()

    def __enter__(self) -> WorklistStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction under the store's lock (for the outbox and the like)."""
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Run one read statement under the store's lock; its rows."""
        with self._lock:
            return self._connection.execute(sql, parameters).fetchall()

    # -- arrivals ------------------------------------------------------------------------------

    def add_film(self, sop_instance_uid: str, *, origin: str, stored_file: Path, sha256: str,
                 calling_ae: str | None = None, received: dt.datetime | None = None) -> bool:
        """Queue a film; return False (and change nothing) when its UID is already a row.

        The row is committed when this returns: only then may a sender be told "stored".
        A UID seen before keeps its first row and result, so a sender that repeats a push
        (e.g. after losing the answer to a crash) never causes a second analysis.
        """
        received = received or dt.datetime.now().astimezone()
        with self.transaction() as connection:
            cursor = connection.execute(
                "INSERT OR IGNORE INTO films (sop_instance_uid, received, origin, calling_ae, "
                "stored_file, sha256) VALUES (?, ?, ?, ?, ?, ?)",
                (sop_instance_uid, received.isoformat(), origin, calling_ae, str(stored_file),
                 sha256),
            )
            if cursor.rowcount != 1:
                return False
            audit_trail.append(connection, "received", f"queued ({origin})",
                               film_uid=sop_instance_uid,
                               detail=f"from {calling_ae}" if calling_ae else str(stored_file))
            return True

    def has_film(self, sop_instance_uid: str) -> bool:
        """True when a row with this UID exists."""
        return bool(self.query("SELECT 1 FROM films WHERE sop_instance_uid = ?",
                                (sop_instance_uid,)))

    # -- the queue -----------------------------------------------------------------------------

    def queued(self, limit: int = 16) -> list[FilmRow]:
        """The oldest films still waiting for a result, in order of arrival."""
        rows = self.query("SELECT * FROM films WHERE status = 'queued' ORDER BY seq LIMIT ?",
                           (limit,))
        return [_row(r) for r in rows]

    def record_result(self, sop_instance_uid: str, record: Mapping[str, Any],
                      thumbnail_png: bytes | None = None, *,
                      replace_other_model: bool = False, send_to: str | None = None) -> bool:
        """Store a ``classify --json`` record (and the row's thumbnail) as the film's result.

        Args:
            sop_instance_uid: The film.
            record: Its ``classify --json`` record.
            thumbnail_png: What the model saw, small.
            replace_other_model: Also replace the answer of an *opened* film (origin
                ``open``) when another model gave it: the window answers its opened films
                again when the user changes models, and that answer is what it shows.
                Received and watched films keep their first answer whatever this says.
            send_to: The destination (``AET@HOST:PORT``) the film's results are for, set in
                the same transaction as the answer: a crash between the answer and the
                result files leaves a film the outbox knows it still owes.

        Returns:
            False when the film was not queued (already answered, or unknown): the result
            is then dropped, so no film is ever answered twice (by the same model).
        """
        ok = bool(record.get("ok"))
        refusal = record.get("ood_reason") if ok else record.get("error")
        probabilities = record.get("probabilities")
        with self.transaction() as connection:
            cursor = connection.execute(
                "UPDATE films SET status = ?, model_id = ?, label = ?, probabilities = ?, "
                "caution = ?, refusal = ?, record = ?, thumbnail = ?, analyses = analyses + 1, "
                "send_to = COALESCE(?, send_to) WHERE sop_instance_uid = ? AND "
                "(status = 'queued' OR (? AND origin = 'open' AND model_id IS NOT ?))",
                ("analysed" if ok else "failed", record.get("model"), record.get("label"),
                 json.dumps(probabilities) if probabilities is not None else None,
                 record.get("caution"), refusal, json.dumps(dict(record)), thumbnail_png,
                 send_to, sop_instance_uid, replace_other_model, record.get("model")),
            )
            if cursor.rowcount != 1:
                return False
            answer = (record.get("label") or f"not labelled: {refusal}") if ok \
                else f"failed: {refusal}"
            audit_trail.append(connection, "analysed", answer, film_uid=sop_instance_uid,
                               model_id=record.get("model"), detail=record.get("caution"))
            return True

    def requeue(self, sop_instance_uids: list[str]) -> int:
        """Put answered films back in the queue (e.g. to answer them with a new model)."""
        with self.transaction() as connection:
            cursor = connection.executemany(
                "UPDATE films SET status = 'queued' WHERE sop_instance_uid = ?",
                [(uid,) for uid in sop_instance_uids],
            )
            return cursor.rowcount

    # -- reading -------------------------------------------------------------------------------

    def films(self, since: dt.datetime | None = None) -> list[FilmRow]:
        """Every film (received at or after ``since`` when given), in order of arrival."""
        if since is None:
            rows = self.query("SELECT * FROM films ORDER BY seq")
        else:
            # Stored times carry their offset, so compare as instants, not as text.
            rows = [r for r in self.query("SELECT * FROM films ORDER BY seq")
                    if dt.datetime.fromisoformat(r["received"]) >= since]
        return [_row(r) for r in rows]

    def films_after(self, seq: int) -> list[FilmRow]:
        """Films that arrived after the one numbered ``seq``, in order of arrival."""
        rows = self.query("SELECT * FROM films WHERE seq > ? ORDER BY seq", (seq,))
        return [_row(r) for r in rows]

    def answered(self, sop_instance_uids: list[str]) -> list[FilmRow]:
        """Those of the given films that have their answer now."""
        found: list[FilmRow] = []
        for start in range(0, len(sop_instance_uids), 500):  # SQLite's parameter limit
            part = sop_instance_uids[start:start + 500]
            marks = ", ".join("?" * len(part))
            found += [_row(r) for r in self.query(
                f"SELECT * FROM films WHERE status != 'queued' AND sop_instance_uid IN ({marks})"
                " ORDER BY seq", tuple(part))]
        return found

    def film(self, sop_instance_uid: str) -> FilmRow | None:
        """The row of one film, or ``None``."""
        rows = self.query("SELECT * FROM films WHERE sop_instance_uid = ?",
                           (sop_instance_uid,))
        return _row(rows[0]) if rows else None

    def counts(self) -> dict[str, int]:
        """Films per status (every status present, zero included)."""
        counts = dict.fromkeys(FILM_STATUSES, 0)
        for row in self.query("SELECT status, COUNT(*) AS n FROM films GROUP BY status"):
            counts[row["status"]] = row["n"]
        return counts

    def audit_events(self, since: dt.datetime | None = None) -> list[AuditEvent]:
        """The audit trail (:mod:`desktop_app.core.audit_trail`), in order."""
        with self._lock:
            return audit_trail.read_events(self._connection, since)

    # -- the watch folder's memory -------------------------------------------------------------

    def was_watched(self, path: Path, size: int, mtime_ns: int) -> bool:
        """True when this version of a watched file was taken before (restart included)."""
        return bool(self.query(
            "SELECT 1 FROM watched WHERE path = ? AND size = ? AND mtime_ns = ?",
            (str(path), size, mtime_ns)))

    def mark_watched(self, path: Path, size: int, mtime_ns: int,
                     sop_instance_uid: str | None) -> None:
        """Remember a watched file's version (``None``: seen, not an image)."""
        with self.transaction() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO watched (path, size, mtime_ns, sop_instance_uid) "
                "VALUES (?, ?, ?, ?)", (str(path), size, mtime_ns, sop_instance_uid))
