"""Entry point: ``python -m desktop_app`` / ``lunglens``.

* ``classify [--json] [--model DIR] PATH...`` — the command-line classifier (no window);
* ``validate --data PATH [--model DIR] [--report out.pdf] [--json]`` — measure the model on
  labelled films (no window);
* ``calibrate --data PATH --out DIR [--model DIR] [--site NAME] [--threshold CLASS=VALUE ...]
  [--report out.pdf] [--install] [--json]`` — calibrate the model's thresholds and gate to a
  site's films (no window);
* ``serve [--host H] [--port P] [--ae-title T] [--allow-ae NAME ...] [--data-dir DIR]
  [--watch FOLDER]`` — a headless DICOM node (receive, watch, analyse into the worklist);
* ``worklist [--data-dir DIR] [--json] [--since DATE]`` — print the persistent worklist;
* ``send [--data-dir DIR] [--retry-failed]`` — send the results waiting in the outbox;
* ``audit [--data-dir DIR] [--since DATE] [--json]`` — print the audit trail;
* ``--self-test`` — verify the installation headlessly, exit 0 or 1;
* ``[FILES...]`` — open the main window, optionally with images.

Only the module needed for the chosen mode is imported, so the CLI never loads Qt and
nothing here imports TensorFlow.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from desktop_app import DISCLAIMER, __version__

__all__ = ["main"]


def _gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lunglens",
        description="LungLens: offline decision support for chest X-rays. "
        "Sub-commands: 'classify', 'validate', 'calibrate', 'serve', 'worklist', 'send' "
        "and 'audit' (run 'lunglens classify --help').",
        epilog=DISCLAIMER,
    )
    parser.add_argument("files", nargs="*", help="images or folders to open")
    parser.add_argument("--model", metavar="DIR", default=None,
                        help="use this model bundle folder instead of the installed model "
                        "(also: environment variable LUNGLENS_MODEL_DIR)")
    parser.add_argument("--self-test", action="store_true",
                        help="verify the bundled model and classify a generated image, then exit")
    parser.add_argument("--version", action="version", version=f"LungLens {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to the CLI, the self-test or the GUI; return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "classify":
        from desktop_app.core.cli.classify_cli import run_classify

        return run_classify(args[1:])
    if args and args[0] == "validate":
        from desktop_app.core.cli.validate_cli import run_validate

        return run_validate(args[1:])
    if args and args[0] == "calibrate":
        from desktop_app.core.cli.calibrate_cli import run_calibrate

        return run_calibrate(args[1:])
    if args and args[0] == "serve":
        from desktop_app.core.cli.serve_cli import run_serve

        return run_serve(args[1:])
    if args and args[0] == "worklist":
        from desktop_app.core.cli.worklist_cli import run_worklist

        return run_worklist(args[1:])
    if args and args[0] == "audit":
        from desktop_app.core.cli.audit_cli import run_audit

        return run_audit(args[1:])
    if args and args[0] == "send":
        from desktop_app.core.cli.send_cli import run_send

        return run_send(args[1:])
    options = _gui_parser().parse_args(args)
    if options.self_test:
        from desktop_app.core.cli.self_test import run_self_test

        return run_self_test(model_dir=options.model)
    from desktop_app.ui.application import run_gui

    return run_gui(options.files, model_dir=options.model)


if __name__ == "__main__":
    sys.exit(main())
