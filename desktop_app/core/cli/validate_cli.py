"""``python -m desktop_app validate --data PATH [--model DIR] [--report out.pdf] [--json]``.

Measures the installed model (or ``--model DIR``) on a clinic's labelled films
(:func:`desktop_app.core.validation.validation.validate`) and prints a readable table; ``--json``
prints the stored record instead (one JSON object). ``--report`` also writes a PDF and the
per-image CSV next to it. No Qt and no TensorFlow are imported, so the classify-only build runs it.

Exit status: 0 validated, 1 the model or the data could not be used (or the report not
written), 2 usage errors (argparse's convention).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from desktop_app import DISCLAIMER
from desktop_app.core.errors import LungLensError
from desktop_app.core.metrics.figures import KEY_FIGURES, figure_text
from desktop_app.core.metrics.refusals import cautioned_text, refusal_lines

__all__ = ["build_parser", "format_result", "run_validate"]


def build_parser() -> argparse.ArgumentParser:
    """The ``validate`` sub-command's parser."""
    parser = argparse.ArgumentParser(
        prog="python -m desktop_app validate",
        description="Measure the installed model on your own labelled chest X-rays: a folder "
        "per class (NORMAL/, PNEUMONIA/, COVID-19/), a LungLens/CoronaHack metadata.csv "
        "folder or such a CSV (optional columns: age or age_group, source, patient_id).",
        epilog=DISCLAIMER,
    )
    parser.add_argument("--data", required=True, type=Path, metavar="PATH",
                        help="labelled folder or CSV")
    parser.add_argument("--model", type=Path, metavar="DIR",
                        help="model bundle folder (default: the active installed model, else "
                        "the bundled one)")
    parser.add_argument("--report", type=Path, metavar="PDF",
                        help="also write a PDF report there, and the per-image CSV beside it")
    parser.add_argument("--json", action="store_true",
                        help="print the validation record as one JSON object")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="bootstrap resamples (by patient) for the 95 %% intervals "
                        "(default 1000; 0: no intervals)")
    return parser


def _row(label: str, entry: Any, *, percent: bool = True, width: int = 34) -> str:
    return f"  {label:<{width}} {figure_text(entry, percent=percent)}"


def format_result(record: Mapping[str, Any]) -> list[str]:
    """Readable lines of a validation record (:meth:`ValidationResult.to_json`)."""
    metrics = record["metrics"]
    counts = metrics["counts"]
    populations = metrics["populations"]
    classes = list(record["classes"])
    lines = [
        f"Validation of {record['model_id']} on {record['data_path']}",
        f"  {counts.get('labelled', counts['validated'])} labelled films: "
        f"{counts['measured']} measured, {counts['out_of_distribution']} refused as not a "
        f"chest X-ray (excluded), {counts['failed']} unreadable (excluded)"
        + (f", {counts['other_classes']} of classes this model does not have (left out)"
           if counts.get("other_classes") else "") + ".",
        f"  {cautioned_text(counts)}",
        *([f"  Model {record['calibration']['line']} "
           f"(from {record['calibration']['calibrated_from']})."]
          if record.get("calibration") else []),
        f"  Data fingerprint: {record['data_fingerprint']['sha256'][:16]} "
        f"({record['data_fingerprint']['images']} films).",
        "",
        "Overall, at the app's decision: value (95 % CI), n films",
        _row("accuracy", metrics["overall"]["accuracy"]),
        _row("macro AUROC", metrics["overall"]["macro_auroc"], percent=False),
        _row("calibration error (ECE)", metrics["overall"]["ece"], percent=False),
        "",
        "Per class: sensitivity | specificity | AUROC",
    ]
    for name in classes:
        entry = populations["per_class"].get(name, {})
        lines.append(f"  {name} ({entry.get('n', 0)} films): "
                     f"{figure_text(entry.get('sensitivity'))} | "
                     f"{figure_text(entry.get('specificity'))} | "
                     f"{figure_text(entry.get('auroc'), percent=False)}")
    found = refusal_lines(metrics.get("refusals"))
    if found:
        lines += ["", *found[:1], *(f"  {line}" for line in found[1:])]
    for title, key in (("source", "per_source"), ("age group", "per_age_group")):
        lines += ["", f"Per {title}: accuracy | non-COVID films labelled COVID-19"]
        for group, figures in populations[key].items():
            lines.append(f"  {group} ({figures['n']} films): "
                         f"{figure_text(figures.get('accuracy'))} | "
                         f"{figure_text(figures.get('labelled_covid_non_covid'))}")
    measured = [figure for figure in KEY_FIGURES
                if populations["key_figures"].get(figure.key) is not None]
    if measured:
        lines += ["", "Key figures (where the data has the films they need)"]
        for figure in measured:
            entry = populations["key_figures"][figure.key]
            lines.append(f"  {figure.label}: {figure_text(entry, percent=figure.percent)}")
    width = max(len(c) for c in classes) + 2
    lines += ["", "Confusion matrix (rows: true label, columns: the app's label)",
              "  " + " " * width + "".join(f"{c:>{width}}" for c in classes)]
    for name, row in zip(classes, metrics["confusion_matrix"], strict=True):
        lines.append(f"  {name:<{width}}" + "".join(f"{v:>{width}}" for v in row))
    refused = counts.get("out_of_distribution_by_class") or {}
    if refused:
        lines.append("  refused as not a chest X-ray, by true label: "
                     + ", ".join(f"{k} {v}" for k, v in sorted(refused.items())))
    lines += ["", metrics["excluded"]]
    return lines


def run_validate(argv: Sequence[str], stdout: TextIO | None = None,
                 stderr: TextIO | None = None) -> int:
    """Run the validate command; return the exit status."""
    from desktop_app.core.cli.model_choice import resolve_model
    from desktop_app.core.validation.validation import validate, write_images_csv

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = build_parser().parse_args(list(argv))
    if args.bootstrap < 0:
        print(f"error: --bootstrap must be 0 or more, got {args.bootstrap}", file=stderr)
        return 2
    if args.report is not None and args.report.suffix.lower() != ".pdf":
        print(f"error: --report must name a .pdf file, got {str(args.report)!r}", file=stderr)
        return 2
    try:
        active = resolve_model(args.model)
        bundle, warning = active.bundle, active.warning
    except LungLensError as error:
        print(f"error: cannot load the model: {error}", file=stderr)
        return 1
    if warning:
        print(f"warning: {warning}", file=stderr)
    try:
        result = validate(args.data, bundle, bootstrap_rounds=args.bootstrap)
    except LungLensError as error:
        print(f"error: {error}", file=stderr)
        return 1
    if result is None:  # not cancellable from the command line; kept for completeness
        print("error: validation was cancelled", file=stderr)
        return 1
    record = result.to_json()
    if args.report is not None:
        from desktop_app.core.validation.validation_report import write_validation_pdf

        csv_path = args.report.with_suffix(".csv")
        try:
            write_validation_pdf(args.report, result)
            write_images_csv(csv_path, result)
        except OSError as error:
            print(f"error: cannot write the report {str(args.report)!r}: {error}", file=stderr)
            return 1
        record["report"] = {"pdf": str(args.report), "csv": str(csv_path)}
    record["stored"] = {"record": str(result.record_path), "csv": str(result.csv_path)}
    if args.json:
        print(json.dumps(record), file=stdout)
        return 0
    for line in format_result(record):
        print(line, file=stdout)
    print("", file=stdout)
    print(f"Kept in {result.record_path} (per-image CSV: {result.csv_path}).", file=stdout)
    if args.report is not None:
        print(f"Report: {args.report} (per-image CSV: {record['report']['csv']}).", file=stdout)
    print(DISCLAIMER, file=stdout)
    return 0
