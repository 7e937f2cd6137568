"""``python -m desktop_app calibrate --data PATH --out DIR [--model DIR] [--site NAME] ...``.

Calibrates the installed model (or ``--model DIR``) to a site's films
(:func:`desktop_app.core.site.site_calibration.calibrate_site`) and writes a complete calibrated
bundle into ``--out``; ``--install`` also installs it into the model store (atomically; the
model in use before stays one click away: *Models… › Roll back*, or the store's ``rollback``).
Prints a before/after table and the warnings; ``--json`` prints the card's
``site_calibration`` section instead; ``--report`` also writes them, with each finding's
threshold curve on the site's films, as a PDF. ``--threshold COVID-19=0.6`` sets a finding's
threshold by hand (for every age group) instead of choosing it from the targets; the
figures and warnings are those of that threshold. No Qt and no TensorFlow are imported, so the
classify-only build runs it.

Exit status: 0 calibrated, 1 cannot calibrate (the message says why: unreadable data, too
few frontal films, the output folder is taken, the model cannot be loaded), 2 usage errors
(a threshold outside (0, 1] or for a class the model has no threshold for, a report that is
not a .pdf).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from desktop_app import DISCLAIMER
from desktop_app.core.errors import LungLensError
from desktop_app.core.metrics.figures import figure_text

__all__ = ["build_parser", "format_calibration", "run_calibrate"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

#: Figure rows of the table, in order: (key, words).
_ROWS = (
    ("refused", "films refused (no answer)"),
    ("cautioned", "films answered with a caution"),
    ("normal_as_normal", "normal films -> Normal"),
    ("normal_as_covid", "normal films -> COVID-19"),
    ("normal_as_pneumonia", "normal films -> Pneumonia"),
    ("non_covid_as_covid", "non-COVID films -> COVID-19"),
    ("covid_found", "COVID-19 films found"),
    ("pneumonia_found", "pneumonia films found"),
)


def _fraction(text: str) -> float:
    """A share given as 0.05 or 5 %% (``5%`` or ``5``): both mean five in a hundred."""
    raw = text.strip().rstrip("%").strip()
    try:
        value = float(raw)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from error
    if value > 1.0 or text.strip().endswith("%"):
        value /= 100.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (or 0 %% and 100 %%): "
                                         f"{text!r}")
    return value


def _threshold(text: str) -> tuple[str, float]:
    """``COVID-19=0.6``: a finding and its threshold, in (0, 1] as the card's thresholds are."""
    name, sep, raw = text.partition("=")
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not sep or not name.strip() or not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(
            f"must be CLASS=VALUE with VALUE above 0 and at most 1 (e.g. COVID-19=0.6): "
            f"{text!r}")
    return name.strip(), value


def build_parser() -> argparse.ArgumentParser:
    """The ``calibrate`` sub-command's parser."""
    parser = argparse.ArgumentParser(
        prog="python -m desktop_app calibrate",
        description="Calibrate the model to this site's films: the same weights, thresholds "
        "and out-of-distribution limits set from your films, with before/after figures "
        "cross-validated by patient. Labelled films (a folder per class, a LungLens/"
        "CoronaHack metadata.csv folder or such a CSV) set thresholds and the gate; a plain "
        "folder of films adapts the gate only.",
        epilog=DISCLAIMER,
    )
    parser.add_argument("--data", required=True, type=Path, metavar="PATH",
                        help="the site's films: labelled folder or CSV, or any folder")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="new folder for the calibrated model bundle")
    parser.add_argument("--model", type=Path, metavar="DIR",
                        help="model bundle to calibrate (default: the active installed model, "
                        "else the bundled one); never modified")
    parser.add_argument("--site", default="this site", metavar="NAME",
                        help="the site's name, shown wherever the model is "
                        "(default: 'this site')")
    parser.add_argument("--max-false-covid", type=_fraction, default=0.05, metavar="F",
                        help="largest share of the site's non-COVID films called COVID-19 "
                        "(default 0.05)")
    parser.add_argument("--target-sensitivity", type=_fraction, default=0.90, metavar="S",
                        help="share of each finding's films the thresholds aim to find "
                        "(default 0.90)")
    parser.add_argument("--max-false-pneumonia", type=_fraction, default=0.10, metavar="F",
                        help="largest share of the site's normal films called Pneumonia "
                        "(default 0.10)")
    parser.add_argument("--threshold", type=_threshold, action="append", default=[],
                        metavar="CLASS=VALUE",
                        help="set a finding's threshold by hand, for every age group, instead "
                        "of choosing it from the targets (e.g. --threshold COVID-19=0.6 "
                        "--threshold Pneumonia=0.4); the figures are measured at it")
    parser.add_argument("--report", type=Path, metavar="PDF",
                        help="also write a PDF report (figures, thresholds, each finding's "
                        "threshold curve on the site's films, gate, warnings)")
    parser.add_argument("--install", action="store_true",
                        help="also install the calibrated model and make it active (the "
                        "current one can be restored)")
    parser.add_argument("--json", action="store_true",
                        help="print the card's site_calibration section as one JSON object")
    return parser


def _cell(entry: Any) -> str:
    """A figure in a before/after table: whole percentages (the table is narrow)."""
    return figure_text(entry, decimals=0, missing="—")


def format_calibration(section: Mapping[str, Any], model_id: str) -> list[str]:
    """Readable lines of a ``site_calibration`` section."""
    from desktop_app.core.site.site_gate import CHECK_WORDS

    films = section["films"]
    lines = [f"{model_id}: calibrated for {section['site']} on {section['date']} from "
             f"{films['used']} films (of {films['given']}; {films['site_look']} frontal "
             f"films made the site's look) — {section['by']}",
             f"  films by label: {json.dumps(films['by_class'])}"]
    thresholds = section["thresholds"]
    by_hand = (section.get("settings") or {}).get("thresholds_set_by_hand") or {}
    lines.append("  thresholds (model -> site): " + ", ".join(
        f"{name} {thresholds['model'][name]:.3f} -> {value:.3f}"
        + (" (set by hand, every age group)" if name in by_hand else "")
        for name, value in thresholds["site"].items()))
    for group, values in thresholds.get("site_by_age_group", {}).items():
        model = thresholds["model_by_age_group"].get(group, {})
        lines.append(f"    {group}: " + ", ".join(
            f"{name} {model.get(name, float('nan')):.3f} -> {value:.3f}"
            for name, value in values.items()))
    lines.append("  gate limits (usual / refusal, model -> site; moved = share of the way "
                 "the site's films asked; orientation is a minimum score):")
    for check, entry in section["gate"].items():
        (u0, u1), (r0, r1) = entry["usual"], entry["refusal"]
        lines.append(f"    {CHECK_WORDS.get(check, check):<32} {u0:8.3f} -> {u1:8.3f}   /  "
                     f"{r0:8.3f} -> {r1:8.3f}   moved {entry['moved']:.0%}")
    checks = section["non_chest_check_set"]
    lines.append(
        "  non-chest check set refused (before -> after): development half "
        f"{checks['development']['refused_before']:.1%} -> "
        f"{checks['development']['refused_after']:.1%} (n={checks['development']['n']}, "
        f"floor {checks['floor']:.1%}); held-out half "
        f"{checks['held_out']['refused_before']:.1%} -> "
        f"{checks['held_out']['refused_after']:.1%} (n={checks['held_out']['n']})")
    figures = section["figures"]
    lines.append(f"  before (as the model answered) / after ({figures['after_is']}), "
                 "95 % intervals:")
    for scope, after in figures["after"].items():
        before = figures["before"].get(scope, {})
        lines.append(f"   {scope}:")
        for key, words in _ROWS:
            if key in after or key in before:
                lines.append(f"    {words:<32} {_cell(before.get(key)):<26} "
                             f"{_cell(after.get(key))}")
    for warning in section.get("warnings", []):
        lines.append(f"  warning: {warning}")
    return lines


def _usage_error(parser: argparse.ArgumentParser, err: TextIO, message: str) -> int:
    """Print a usage error as argparse does (to ``err``) and return the usage exit status."""
    parser.print_usage(err)
    print(f"{parser.prog}: error: {message}", file=err)
    return EXIT_USAGE


def _fixed_thresholds(pairs: Sequence[tuple[str, float]], bundle: Any
                      ) -> tuple[dict[str, float], str | None]:
    """The thresholds set by hand, or why they cannot be (a class named twice or unknown)."""
    from desktop_app.core.site.site_thresholds import check_fixed

    fixed: dict[str, float] = {}
    for name, value in pairs:
        if name in fixed:
            return {}, f"{name!r} is given twice ({fixed[name]:g} and {value:g})"
        fixed[name] = value
    try:
        check_fixed(fixed, bundle.card.decision, list(bundle.card.classes))
    except ValueError as error:
        return {}, str(error)
    return fixed, None


def _progress(err: TextIO) -> Callable[[int, int], None]:
    """Prints "measured done/total films" at every tenth of the way."""
    last = [-1]

    def progress(done: int, total: int) -> None:
        percent = done * 100 // max(total, 1)
        if percent // 10 != last[0] // 10:
            last[0] = percent
            print(f"calibrate: measured {done}/{total} films", file=err, flush=True)

    return progress


def run_calibrate(argv: Sequence[str], stdout: TextIO | None = None,
                  stderr: TextIO | None = None) -> int:
    """Run the sub-command; return the exit status (see module docs)."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as error:
        return EXIT_USAGE if error.code not in (0, None) else EXIT_OK
    if args.report is not None and args.report.suffix.lower() != ".pdf":
        return _usage_error(parser, err, "argument --report: must name a .pdf file: "
                            f"{str(args.report)!r}")
    from desktop_app.core.cli.model_choice import resolve_model
    from desktop_app.core.model.model_store import ModelStore
    from desktop_app.core.site.calibration_report import write_calibration_pdf
    from desktop_app.core.site.site_calibration import (
        CalibrationSettings,
        calibrate_site,
        require_new_folder,
    )
    from desktop_app.core.site.site_thresholds import ThresholdSettings

    try:
        store = ModelStore()
        bundle = resolve_model(args.model, store=store).bundle
    except (LungLensError, ValueError, OSError) as error:
        print(f"lunglens calibrate: cannot calibrate: {error}", file=err)
        return EXIT_FAILED
    fixed, problem = _fixed_thresholds(args.threshold, bundle)
    if problem is not None:
        return _usage_error(parser, err, f"argument --threshold: {problem}")
    try:
        settings = CalibrationSettings(args.site, ThresholdSettings(
            args.max_false_covid, args.target_sensitivity, args.max_false_pneumonia, fixed))
        require_new_folder(args.out, bundle.path)  # fail now, not after measuring the films
        result = calibrate_site(args.data, bundle, settings, progress=_progress(err))
        assert result is not None  # never cancelled here
        written = result.write_bundle(args.out)
        if args.report is not None:
            write_calibration_pdf(args.report, result.summary, result.model_id)
        installed = store.install(written.path, result.model_id) if args.install else None
    except (LungLensError, ValueError, OSError) as error:
        print(f"lunglens calibrate: cannot calibrate: {error}", file=err)
        return EXIT_FAILED
    _print_result(out, args, result, installed)
    return EXIT_OK


def _print_result(out: TextIO, args: argparse.Namespace, result: Any, installed: Any) -> None:
    """The section as JSON, or the readable table, where the bundle (and report) went."""
    if args.json:
        out.write(json.dumps({"model_id": result.model_id, "bundle": str(args.out.resolve()),
                              "installed": installed.key if installed else None,
                              "report": str(args.report) if args.report else None,
                              "site_calibration": result.summary}) + "\n")
        return
    for line in format_calibration(result.summary, result.model_id):
        out.write(line + "\n")
    out.write(f"wrote the calibrated model to {args.out}\n")
    if args.report is not None:
        out.write(f"wrote the report to {args.report}\n")
    if installed is not None:
        out.write(f"installed it as {installed.key!r} and made it active (the model in "
                  "use before can be restored: Models… › Roll back)\n")
    out.write(DISCLAIMER + "\n")
