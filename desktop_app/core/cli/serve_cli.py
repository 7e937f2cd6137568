"""``python -m desktop_app serve``: LungLens as a headless DICOM node.

Receives C-STORE pushes (and answers C-ECHO), watches a folder when asked, and analyses
every film in order of arrival into the persistent worklist
(:mod:`desktop_app.core.node.dicom_node`). Runs until SIGINT or SIGTERM, then finishes the films
in hand and exits 0. Exit status 1 when the node cannot start (port in use, data folder
served by another node, model unusable), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from desktop_app import DISCLAIMER
from desktop_app.core.classify.analysis import Analyzer, ImageResult
from desktop_app.core.cli.model_choice import resolve_model
from desktop_app.core.cli.parent_watch import end_with_parent
from desktop_app.core.errors import ModelBundleError
from desktop_app.core.locations import user_data_dir
from desktop_app.core.node.data_folder_lock import DataFolderBusyError
from desktop_app.core.node.destination import Destination
from desktop_app.core.node.dicom_node import DicomNode, NodeCallbacks, NodeOptions
from desktop_app.core.node.dicom_receiver import (
    DEFAULT_AE_TITLE,
    DEFAULT_HOST,
    DEFAULT_MAX_BYTES,
    DEFAULT_PORT,
    ReceiverConfig,
)
from desktop_app.core.node.worklist_store import FilmRow

__all__ = ["build_parser", "run_serve"]


def build_parser() -> argparse.ArgumentParser:
    """The ``serve`` sub-command's parser."""
    parser = argparse.ArgumentParser(
        prog="python -m desktop_app serve",
        description="Receive chest X-rays over DICOM (C-STORE) and from a watch folder, "
        "analyse them and keep them in the worklist. Stop with Ctrl+C (SIGINT) or SIGTERM.",
        epilog=DISCLAIMER,
    )
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"interface to listen on (default {DEFAULT_HOST}: this computer "
                        "only; give 0.0.0.0 or an address to accept the network)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"TCP port (default {DEFAULT_PORT})")
    parser.add_argument("--ae-title", default=DEFAULT_AE_TITLE,
                        help=f"this node's AE title (default {DEFAULT_AE_TITLE})")
    parser.add_argument("--allow-ae", nargs="+", default=[], metavar="NAME",
                        help="only these calling AE titles may send (others are rejected at "
                        "association)")
    parser.add_argument("--max-mb", type=float, default=DEFAULT_MAX_BYTES / 1024 / 1024,
                        help="largest dataset accepted, in MB (default %(default).0f)")
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="where the worklist and received films are kept "
                        "(default: the user data folder)")
    parser.add_argument("--watch", type=Path, metavar="FOLDER",
                        help="also queue films written into this folder (never moved)")
    parser.add_argument("--no-listen", action="store_true",
                        help="do not listen on the network (watch folder only)")
    parser.add_argument("--send-to", metavar="AET@HOST:PORT",
                        help="send each film's results (a DICOM Structured Report and, when "
                        "labelled, a Secondary Capture with the heat map) to this destination "
                        "by C-STORE; kept in the outbox until it answers Success")
    parser.add_argument("--model", type=Path, metavar="DIR",
                        help="model bundle folder (default: the active installed model)")
    parser.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--settle", type=float, default=2.0, help=argparse.SUPPRESS)
    # The window's pid: the node ends when the window does, however it ends.
    parser.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--retry-base", type=float, default=2.0, help=argparse.SUPPRESS)
    parser.add_argument("--send-timeout", type=float, default=30.0, help=argparse.SUPPRESS)
    return parser


def _log_answer(row: FilmRow, result: ImageResult) -> None:
    """One log line per answered film, so the operator of a headless node sees its work."""
    if not result.ok:
        answer = f"failed: {result.error}"
    elif result.out_of_distribution:
        answer = f"not labelled: {result.ood.reason if result.ood else 'out of distribution'}"
    else:
        answer = str(result.label)
    logging.getLogger("desktop_app.dicom").info("analysed %s from %s: %s",
                                                row.sop_instance_uid,
                                                row.calling_ae or row.origin, answer)


def run_serve(argv: Sequence[str], stderr: TextIO | None = None) -> int:
    """Run the node until SIGINT/SIGTERM; return the exit status."""
    stderr = stderr or sys.stderr
    args = build_parser().parse_args(list(argv))
    logging.basicConfig(stream=stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    try:
        receiver = None if args.no_listen else ReceiverConfig(
            host=args.host, port=args.port, ae_title=args.ae_title,
            allowed_aes=tuple(args.allow_ae), max_bytes=int(args.max_mb * 1024 * 1024))
        send_to = Destination.parse(args.send_to) if args.send_to else None
    except ValueError as error:
        print(f"error: {error}", file=stderr)
        return 2
    if args.watch is not None and not args.watch.is_dir():
        print(f"error: --watch {str(args.watch)!r} is not a folder", file=stderr)
        return 2
    options = NodeOptions(receiver=receiver, data_dir=args.data_dir or user_data_dir(),
                          watch=args.watch, poll_seconds=args.poll,
                          settle_seconds=args.settle, send_to=send_to,
                          calling_ae=args.ae_title, send_timeout=args.send_timeout,
                          retry_base_seconds=args.retry_base)

    def analyzer() -> Analyzer:
        active = resolve_model(args.model)
        bundle, warning = active.bundle, active.warning
        if warning:
            logging.getLogger("desktop_app.dicom").warning("model: %s", warning)
        return Analyzer(bundle)

    node = DicomNode(options, analyzer, NodeCallbacks(analysed=_log_answer))
    if args.parent_pid is not None:
        def parent_gone() -> None:
            logging.getLogger("desktop_app.dicom").warning(
                "the parent process %d has gone: stopping", args.parent_pid)
            node.stop()

        end_with_parent(args.parent_pid, parent_gone)
    # SIGBREAK: how the window stops its child node on Windows (CTRL_BREAK_EVENT).
    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), lambda *_: node.stop())
    try:
        node.run()
    except (DataFolderBusyError, ModelBundleError, OSError) as error:
        print(f"error: {error}", file=stderr)
        return 1
    return 0
