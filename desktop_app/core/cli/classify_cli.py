"""``python -m desktop_app classify [--json] [--model DIR] PATH...``.

The output format is a contract other tools depend on: with ``--json`` one JSON object per
line per image (see :meth:`desktop_app.core.classify.analysis.ImageResult.to_json`); without it a
readable table. Exit status 0 when every input was analysed, 1 when any failed (or the model
could not be loaded), 2 on usage errors (argparse's convention).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from desktop_app import DISCLAIMER
from desktop_app.core.classify.analysis import Analyzer, ImageResult, expand_inputs
from desktop_app.core.cli.model_choice import resolve_model
from desktop_app.core.errors import ModelBundleError

__all__ = ["build_parser", "run_classify"]


def build_parser() -> argparse.ArgumentParser:
    """The ``classify`` sub-command's parser."""
    parser = argparse.ArgumentParser(
        prog="python -m desktop_app classify",
        description="Classify chest X-rays (files or folders, recursive) with LungLens.",
        epilog=DISCLAIMER,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image file or folder")
    parser.add_argument("--json", action="store_true", help="one JSON object per line per image")
    parser.add_argument(
        "--model", type=Path, metavar="DIR",
        help="model bundle folder (default: the active installed model, else the bundled one)",
    )
    parser.add_argument("--batch-size", type=int, default=16, help=argparse.SUPPRESS)
    return parser


def _format_row(result: ImageResult, classes: Sequence[str], width: int) -> str:
    name = str(result.path)
    if len(name) > width:
        name = "..." + name[-(width - 3):]
    if not result.ok:
        return f"{name:<{width}}  ERROR  {result.error}"
    probs = "  ".join(f"{result.probabilities[c]:>9.1%}" for c in classes)
    if result.out_of_distribution:
        status, note = "NOT A CXR?", result.ood.reason or ""
    else:
        decision = result.decision
        status = decision.label + (" (uncertain)" if decision.uncertain else "")
        note = f"CAUTION: {result.caution}" if result.caution else ""
    return f"{name:<{width}}  {probs}  {status:<24} {note}".rstrip()


def run_classify(argv: Sequence[str], stdout: TextIO | None = None,
                 stderr: TextIO | None = None) -> int:
    """Run the classify command; return the exit status."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = build_parser().parse_args(list(argv))
    if args.batch_size < 1:
        print(f"error: --batch-size must be at least 1, got {args.batch_size}", file=stderr)
        return 2
    try:
        active = resolve_model(args.model)
        bundle, warning = active.bundle, active.warning
        analyzer = Analyzer(bundle)
    except ModelBundleError as error:
        print(f"error: cannot load the model: {error}", file=stderr)
        return 1
    if warning:
        print(f"warning: {warning}", file=stderr)
    inputs = expand_inputs(args.paths)
    classes = list(bundle.card.classes)
    width = min(60, max([len(str(p)) for p in inputs.files] + [4]))
    if not args.json:
        header = "  ".join(f"{c:>9}" for c in classes)
        print(f"{'file':<{width}}  {header}  result", file=stdout)
    counts = {"ok": 0, "ood": 0, "caution": 0, "error": 0}
    decoder = None
    if len(inputs.files) > 1:
        # JPEG 2000 and pylibjpeg's decoders hold the interpreter lock: for several files they
        # run in two worker processes (started only if such a file comes up), the rest here.
        from desktop_app.core.imaging.process_decoder import ProcessDecoder

        decoder = analyzer.decode = ProcessDecoder(2)
    for result in analyzer.analyse(inputs.files, batch_size=args.batch_size):
        counts["ok" if result.ok else "error"] += 1
        counts["ood"] += int(result.out_of_distribution)
        counts["caution"] += int(result.caution is not None)
        if args.json:
            print(json.dumps(result.to_json()), file=stdout, flush=True)
        else:
            print(_format_row(result, classes, width), file=stdout, flush=True)
    if decoder is not None:
        decoder.close()
    summary = (
        f"{len(inputs.files)} file(s): {counts['ok']} analysed "
        f"({counts['ood']} not labelled: out of distribution; {counts['caution']} labelled "
        f"with a caution: unusual film), {counts['error']} failed"
    )
    if inputs.skipped:
        summary += f"; {len(inputs.skipped)} non-image file(s) in folders skipped"
    summary += f". Model: {bundle.model_id}."
    # The summary goes to stderr with --json so that stdout stays pure JSON lines.
    print(summary, file=stderr if args.json else stdout)
    if not args.json:
        print(DISCLAIMER, file=stdout)
    if not inputs.files:
        print("error: no image files found in the given path(s)", file=stderr)
        return 1
    return 0 if counts["error"] == 0 else 1
