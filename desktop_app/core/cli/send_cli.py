"""``python -m desktop_app send [--data-dir DIR] [--retry-failed]``: send what the outbox owes.

For a data folder no node is serving (or whose node was started without ``--send-to``):
writes the result objects of films whose results were asked for but not written yet
(analysing them again with the model that answered them, for the heat map), then sends every
pending result once, each to the destination its row names (:mod:`desktop_app.core.node.
outbox_sender`). ``--retry-failed`` first makes the failed ones pending again. When a node is
sending the folder's outbox already, says so and leaves it to the node.

``send --echo [AET@HOST:PORT]`` sends nothing: it tests a destination with a C-ECHO (the one
given, else every destination the data folder's worklist names) and prints what each
answered.

Exit status 0 when nothing is left unsent (``--echo``: every destination answered), 1 when
something is (a destination did not answer, or the worklist cannot be used), 2 on usage
errors.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from desktop_app import DISCLAIMER
from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.cli.model_choice import resolve_model
from desktop_app.core.errors import ModelBundleError
from desktop_app.core.locations import user_data_dir
from desktop_app.core.node.data_folder_lock import DataFolderBusyError
from desktop_app.core.node.destination import Destination
from desktop_app.core.node.dicom_receiver import DEFAULT_AE_TITLE
from desktop_app.core.node.outbox_sender import outbox_lock, send_due
from desktop_app.core.node.outbox_store import Outbox
from desktop_app.core.node.result_sender import echo
from desktop_app.core.node.result_writer import ResultWriter
from desktop_app.core.node.worklist_store import WORKLIST_FILE, WorklistStore

__all__ = ["build_parser", "run_send"]


def build_parser() -> argparse.ArgumentParser:
    """The ``send`` sub-command's parser."""
    parser = argparse.ArgumentParser(
        prog="python -m desktop_app send",
        description="Send the results waiting in the outbox (DICOM SR and Secondary "
        "Capture) to their destinations.", epilog=DISCLAIMER)
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="the node's data folder (default: the user data folder)")
    parser.add_argument("--retry-failed", action="store_true",
                        help="also send again the results a destination refused")
    parser.add_argument("--ae-title", default=DEFAULT_AE_TITLE,
                        help=f"our AE title when sending (default {DEFAULT_AE_TITLE})")
    parser.add_argument("--model", type=Path, metavar="DIR",
                        help="model bundle folder, for films whose results must be written "
                        "first (default: the active installed model)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds before a destination that does not answer is given up")
    parser.add_argument("--echo", nargs="?", const="", metavar="AET@HOST:PORT",
                        help="send nothing: test the destination with a C-ECHO (default: "
                        "every destination the worklist names) and say what it answered")
    return parser


def _echo_targets(text: str, data_dir: Path) -> list[str]:
    """The destinations to test: the one given, else those the worklist names.

    Raises:
        ValueError: Quoting the text, if it is not ``AET@HOST:PORT``.
        LookupError: If none is given and the worklist names none.
    """
    if text:
        return [str(Destination.parse(text))]
    found: list[str] = []
    if (data_dir / WORKLIST_FILE).is_file():
        with WorklistStore.in_folder(data_dir) as store:
            found = Outbox(store).destinations()
    if not found:
        raise LookupError(f"no destination named in the worklist of {str(data_dir)!r}: give "
                          f"one, e.g. send --echo PACS@10.0.0.5:104")
    return found


def _run_echo(args: argparse.Namespace, data_dir: Path, stdout: TextIO,
              stderr: TextIO) -> int:
    """C-ECHO each destination; 0 when every one answered Success."""
    try:
        targets = _echo_targets(args.echo, data_dir)
    except ValueError as error:
        print(f"error: --echo: {error}", file=stderr)
        return 2
    except (LookupError, sqlite3.Error) as error:
        print(f"error: {error}", file=stderr)
        return 1
    failed = 0
    for target in targets:
        started = time.perf_counter()
        problem = echo(Destination.parse(target), args.ae_title, args.timeout)
        if problem is None:
            print(f"C-ECHO to {target}: answered Success in "
                  f"{time.perf_counter() - started:.2f} s (calling AE {args.ae_title})",
                  file=stdout)
        else:
            failed += 1
            print(f"C-ECHO to {target} failed: {problem}", file=stdout)
    return 0 if failed == 0 else 1


def _write_owed(data_dir: Path, outbox: Outbox, model: Path | None) -> None:
    """Write the results asked for but not written (each film is written or noted)."""
    if not outbox.films_owed(1):
        return
    analyzer = Analyzer(resolve_model(model).bundle)
    writer = ResultWriter(outbox, data_dir)
    while outbox.films_owed(1):
        writer.write_owed(analyzer)


def run_send(argv: Sequence[str], stdout: TextIO | None = None,
             stderr: TextIO | None = None) -> int:
    """Run the send command; return the exit status."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = build_parser().parse_args(list(argv))
    logging.basicConfig(stream=stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    data_dir = args.data_dir or user_data_dir()
    if args.echo is not None:
        return _run_echo(args, data_dir, stdout, stderr)
    if not (data_dir / WORKLIST_FILE).is_file():
        print(f"error: no worklist in {str(data_dir)!r} (nothing received yet?)", file=stderr)
        return 1
    lock = outbox_lock(data_dir)
    try:
        lock.acquire()
    except DataFolderBusyError as error:
        print(f"{error}: it sends the outbox itself", file=stdout)
        return 0
    try:
        with WorklistStore.in_folder(data_dir) as store:
            outbox = Outbox(store)
            if args.retry_failed:
                print(f"{outbox.retry_failed()} failed result(s) to send again", file=stdout)
            _write_owed(data_dir, outbox, args.model)
            tally = send_due(outbox, args.ae_title, timeout=args.timeout,
                             rows=outbox.unsent())
            left = len(outbox.unsent())
    except (sqlite3.Error, ModelBundleError, OSError) as error:
        print(f"error: {error}", file=stderr)
        return 1
    finally:
        lock.release()
    print(f"{tally.sent} sent, {tally.retrying} to try again, {tally.failed} failed; "
          f"{left} result(s) not sent yet.", file=stdout)
    return 0 if left == 0 else 1
