"""``python -m desktop_app audit [--data-dir DIR] [--since DATE] [--json]``: the audit trail.

Prints the append-only trail of the data folder (:mod:`desktop_app.core.audit_trail`): every
film received and analysed, every result object written, sent or failed (with the DICOM
status), every model or site calibration installed, switched to or rolled back. With
``--json`` one object per event and line: ``seq``, ``time``, ``what``, ``film_uid``,
``model_id``, ``outcome``, ``detail``. Exit status 0, 1 when there is no worklist or it
cannot be read, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from desktop_app import DISCLAIMER
from desktop_app.core.audit_trail import AuditEvent
from desktop_app.core.cli.worklist_cli import parse_date, read_worklist
from desktop_app.core.node.worklist_store import start_of_local_day

__all__ = ["build_parser", "run_audit"]


def build_parser() -> argparse.ArgumentParser:
    """The ``audit`` sub-command's parser."""
    parser = argparse.ArgumentParser(
        prog="python -m desktop_app audit",
        description="Print the audit trail: films received and analysed, results written, "
        "sent or failed, models and calibrations installed or rolled back.",
        epilog=DISCLAIMER)
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="the data folder (default: the user data folder)")
    parser.add_argument("--since", type=parse_date, metavar="DATE",
                        help="only events on or after DATE (YYYY-MM-DD or 'today')")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    return parser


def _line(event: AuditEvent) -> str:
    subject = event.film_uid or event.model_id or ""
    detail = f"  ({event.detail})" if event.detail else ""
    return f"{event.time}  {event.what:<21}  {event.outcome:<24}  {subject}{detail}".rstrip()


def run_audit(argv: Sequence[str], stdout: TextIO | None = None,
              stderr: TextIO | None = None) -> int:
    """Run the audit command; return the exit status."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = build_parser().parse_args(list(argv))
    since = start_of_local_day(args.since) if args.since else None
    events = read_worklist(args.data_dir, lambda store: store.audit_events(since),
                           what="the audit trail", nothing="nothing recorded yet?",
                           stderr=stderr)
    if events is None:
        return 1
    for event in events:
        print(event.to_json() if args.json else _line(event), file=stdout)
    print(f"{len(events)} event(s).", file=stderr if args.json else stdout)
    return 0
