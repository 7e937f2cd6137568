#!/usr/bin/env python3
"""Print the recipe ablation table from the ``report.json`` of several training runs.

Usage (from the repository root)::

    .venv/bin/python scripts/ablation_table.py NAME=REPORT_DIR [NAME=REPORT_DIR ...]

Each ``REPORT_DIR`` is the ``--report-dir`` of a ``python -m model_training train`` run (it
holds ``report.json``). The table has one block for the **validation** figures (the only ones
a recipe is chosen by) and one for the **TEST** figures (recorded, never used to choose), with
the per-population figures at the app's decision (see
``model_training/population_metrics.py``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COLUMNS: tuple[tuple[str, str, bool], ...] = (
    # (key figure, column title, shown as a percentage)
    ("adult_false_covid_rate", "adult non-COVID called COVID-19", True),
    ("adult_covid_sensitivity", "adult COVID-19 found", True),
    ("nih_adult_normal_vs_pneumonia_auroc", "NIH adult N-vs-P AUROC", False),
    ("child_accuracy", "child accuracy", True),
    ("ece", "ECE", False),
)


def _figure(entry: dict[str, Any] | None, percent: bool) -> str:
    if entry is None:
        return "n/a"
    value = entry["value"]
    ci = entry.get("ci95")
    if percent:
        text = f"{100 * value:.1f} %"
        return text + (f" ({100 * ci[0]:.0f}-{100 * ci[1]:.0f})" if ci else "")
    text = f"{value:.3f}"
    return text + (f" ({ci[0]:.2f}-{ci[1]:.2f})" if ci else "")


def rows(name: str, report: dict[str, Any], subset: str) -> str:
    """One Markdown row for ``subset`` (``validation`` or ``test``) of a run."""
    metrics = report["metrics"][subset]
    populations = metrics["populations"]
    accuracy = populations["overall"]["accuracy"]
    cells = [name, f"{metrics['overall']['macro_auroc']:.4f}", _figure(accuracy, True)]
    cells += [_figure(populations["key_figures"].get(key), percent)
              for key, _title, percent in COLUMNS]
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str]) -> int:
    """Print both tables; exit 2 on bad arguments."""
    if not argv or any("=" not in arg for arg in argv):
        print(__doc__)
        return 2
    runs = []
    for arg in argv:
        name, folder = arg.split("=", 1)
        path = Path(folder) / "report.json"
        if not path.is_file():
            print(f"error: {str(path)!r} does not exist", file=sys.stderr)
            return 2
        runs.append((name, json.loads(path.read_text(encoding="utf-8"))))
    header = ("| recipe | macro AUROC | accuracy (decision) | "
              + " | ".join(title for _key, title, _percent in COLUMNS) + " |")
    rule = "|" + "---|" * (3 + len(COLUMNS))
    for subset, title in (("validation", "Validation (chooses the recipe)"),
                          ("test", "TEST (recorded only)")):
        print(f"\n{title}\n\n{header}\n{rule}")
        for name, report in runs:
            if subset in report["metrics"]:
                print(rows(name, report, subset))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
