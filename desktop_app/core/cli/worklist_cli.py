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
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from desktop_app import DISCLAIMER
from desktop_app.core.locations import user_data_dir
from desktop_app.core.node.outbox_store import FilmSendState, Outbox
from desktop_app.core.node.worklist_store import (
    WORKLIST_FILE,
    FilmRow,
    WorklistStore,
    start_of_local_day,
)

__all__ = ["build_parser", "parse_date", "run_worklist"]


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


def run_worklist(argv: Sequence[str], stdout: TextIO | None = None,
                 stderr: TextIO | None = None) -> int:
    """Run the worklist command; return the exit status."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = build_parser().parse_args(list(argv))
    data_dir = args.data_dir or user_data_dir()
    if not (data_dir / WORKLIST_FILE).is_file():
        print(f"error: no worklist in {str(data_dir)!r} (nothing received yet?)", file=stderr)
        return 1
    since = start_of_local_day(args.since) if args.since else None
    try:
        with WorklistStore.in_folder(data_dir) as store:
            rows = store.films(since)
            counts = store.counts()
            sending = Outbox(store).film_states()
    except sqlite3.Error as error:
        print(f"error: cannot read the worklist in {str(data_dir)!r}: {error}", file=stderr)
        return 1
    for row in rows:
        send = sending.get(row.sop_instance_uid, _NOT_CONFIGURED)
        print(_json(row, send) if args.json else _line(row, send), file=stdout)
    summary = (f"{len(rows)} film(s) listed; in the worklist: {counts['queued']} queued, "
               f"{counts['analysed']} analysed, {counts['failed']} failed.")
    print(summary, file=stderr if args.json else stdout)
    return 0
