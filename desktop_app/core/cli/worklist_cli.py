"""``python -m desktop_app worklist [--data-dir DIR] [--json] [--since DATE]``.

Prints the persistent worklist (:mod:`desktop_app.core.node.worklist_store`). With ``--json``
one object per film and line: the ``classify --json`` fields of its result plus
``sop_instance_uid``, ``received``, ``calling_ae`` and ``status`` (``queued`` | ``analysed``
| ``failed``), and what became of its results: ``send_status`` (``not configured`` |
``pending`` | ``sent`` | ``failed``), ``result_uids`` (the SR's and the SC's SOP Instance
UIDs), ``send_error`` (the last failure, or why no result could be made) and
``send_warning`` (a warning status the destination stored them with). Exit status 0, 1
when the worklist cannot be read, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO, TypeVar

from desktop_app import DISCLAIMER
from desktop_app.core.locations import user_data_dir
from desktop_app.core.node.outbox_store import FilmSendState, Outbox
from desktop_app.core.node.worklist_store import (
    WORKLIST_FILE,
    FilmRow,
    WorklistStore,
    start_of_local_day,
)

_T = TypeVar("_T")

__all__ = ["build_parser", "parse_date", "read_worklist", "run_worklist"]


def parse_date(text: str) -> dt.date:
    """A ``--since`` value: ``YYYY-MM-DD`` or ``today``."""
    if text == "today":
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date as YYYY-MM-DD or 'today', got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The ``worklist`` sub-command's parser."""
    parser = argparse.ArgumentParser(
        prog="python -m desktop_app worklist",
        description="Print the films received, watched or opened, with their results.",
        epilog=DISCLAIMER,
    )
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="the node's data folder (default: the user data folder)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line per film")
    parser.add_argument("--since", type=parse_date, metavar="DATE",
                        help="only films received on or after DATE (YYYY-MM-DD or 'today'; "
                        "default: all)")
    return parser


_NOT_CONFIGURED = FilmSendState("not configured", [])


def _json(row: FilmRow, send: FilmSendState) -> str:
    record = row.to_json()
    record.update(send_status=send.status, result_uids=send.result_uids,
                  send_error=send.error, send_warning=send.warning)
    return json.dumps(record)


def _line(row: FilmRow, send: FilmSendState) -> str:
    result = row.label or row.refusal or ""
    if row.label and row.caution:
        result += f" (caution: {row.caution})"
    line = (f"{row.received.strftime('%Y-%m-%d %H:%M:%S')}  {row.calling_ae or row.origin:<16}  "
            f"{row.status:<8}  {result:<24}  {row.sop_instance_uid}")
    if send.status != "not configured":
        line += f"  results {send.status}" + (f": {send.error}" if send.error else "")
    return line.rstrip()


def read_worklist(data_dir: Path | None, read: Callable[[WorklistStore], _T], *, what: str,
                  nothing: str, stderr: TextIO) -> _T | None:
    """``read(store)`` on the data folder's worklist; ``None`` after saying why it cannot be.

    One way for every command that reads the worklist (``worklist``, ``audit``): a folder
    without one, or a database that cannot be read, is an error naming the folder.

    Args:
        data_dir: The data folder (``None``: the user data folder).
        read: Reads what the command prints, inside one open store.
        what: What is read, for the error ("the audit trail").
        nothing: Why there may be no worklist yet, for the error.
        stderr: Where errors go.
    """
    folder = data_dir or user_data_dir()
    if not (folder / WORKLIST_FILE).is_file():
        print(f"error: no worklist in {str(folder)!r} ({nothing})", file=stderr)
        return None
    try:
        with WorklistStore.in_folder(folder) as store:
            return read(store)
    except sqlite3.Error as error:
        print(f"error: cannot read {what} in {str(folder)!r}: {error}", file=stderr)
        return None


def run_worklist(argv: Sequence[str], stdout: TextIO | None = None,
                 stderr: TextIO | None = None) -> int:
    """Run the worklist command; return the exit status."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = build_parser().parse_args(list(argv))
    since = start_of_local_day(args.since) if args.since else None
    read = read_worklist(args.data_dir, lambda store: (store.films(since), store.counts(),
                                                       Outbox(store).film_states()),
                         what="the worklist", nothing="nothing received yet?", stderr=stderr)
    if read is None:
        return 1
    rows, counts, sending = read
    for row in rows:
        send = sending.get(row.sop_instance_uid, _NOT_CONFIGURED)
        print(_json(row, send) if args.json else _line(row, send), file=stdout)
    summary = (f"{len(rows)} film(s) listed; in the worklist: {counts['queued']} queued, "
               f"{counts['analysed']} analysed, {counts['failed']} failed.")
    print(summary, file=stderr if args.json else stdout)
    return 0
