"""Measure how much of the app's heat map falls inside the lungs, on films with expert lung masks.

``python benchmarks/heatmap_lungs.py --model resources/model [--model OTHER ...]
--masks PATH [--data ../shared/datasets/cxr] [--subset test [all ...]] [--out FILE]``

For every dataset image of the chosen ``Dataset_type`` rows that has a lung mask, runs the app's
own path (loader, preprocessing from the card, LiteRT, the card's operating point, the heat map
of the class the app shows) and measures the share of the heat map's mass inside the lungs
(:mod:`model_training.lung_heatmap`). Prints a markdown table with one row per true class and
model, so several ``--model`` values compare side by side, and optionally writes it to a doc.

``--masks`` is the torchxrayvision wheel, the ``semantic_masks_v7labs_lungs.zip`` inside it, or
a folder of the extracted masks. The wheel is only needed for this measurement, never by the
app; get it without installing anything: ``pip download --no-deps torchxrayvision==1.5.7``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model_training.lung_heatmap import SUBSETS, LungMasks, audit, load_lung_masks

__all__ = ["main", "render_markdown", "run"]

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "datasets" / "cxr"
DEFAULT_MODEL = REPO / "resources" / "model"
#: Films listed per model and subset where the least of the map is inside the lungs.
WORST = 5


def _pct(value: float) -> str:
    return "–" if value != value else f"{value:.1%}"  # NaN -> dash


def run(models: Sequence[Path], data_dir: Path, masks: LungMasks, subsets: Sequence[str]
        ) -> dict[str, list[dict[str, Any]]]:
    """``{subset: [audit result per model]}``; progress goes to stderr."""
    results: dict[str, list[dict[str, Any]]] = {}
    for subset in subsets:
        for model in models:
            def progress(done: int, total: int, label: str = f"{model} / {subset}") -> None:
                print(f"\r{label}: {done}/{total}", end="", file=sys.stderr, flush=True)

            results.setdefault(subset, []).append(
                audit(model, data_dir, masks, subset=subset, progress=progress))
            print(file=sys.stderr)
    return results


def _summary_row(label: str, model_id: str, summary: Mapping[str, Any]) -> str:
    return (f"| {label} | `{model_id}` | {summary['n']} ({summary['patients']}) | "
            f"{_pct(summary['mean_lung_area'])} | {_pct(summary['mean_reference_share'])} | "
            f"**{_pct(summary['mean_share'])}** | {_pct(summary['median_share'])} | "
            f"{_pct(summary['majority_inside'])} |")


def render_table(audits: Sequence[Mapping[str, Any]]) -> list[str]:
    """One subset's table, models side by side within each group of films.

    Groups: all films, then per true class, then per class the app shows.
    """
    lines = [
        "| films | model | images (patients) | lung area = uniform map | lung-shaped map at CAM "
        "resolution | mean share inside lungs | median | films with > 50 % inside |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in audits:
        lines.append(_summary_row("all", result["model_id"], result["summary"]["all"]))
    groups = [("true", "by_true_class"), ("shown", "by_shown_class")]
    for word, key in groups:
        names = list(dict.fromkeys(name for result in audits for name in result["summary"][key]))
        for name in names:
            for result in audits:
                summary = result["summary"][key].get(name)
                if summary is not None:
                    lines.append(_summary_row(f"{word} {name}", result["model_id"], summary))
    return lines


def render_markdown(results: Mapping[str, Sequence[Mapping[str, Any]]], command: str,
                    masks: LungMasks, seconds: float) -> str:
    """The report: what was measured, one table per subset, the worst films, how to rerun."""
    model_ids = list(dict.fromkeys(r["model_id"] for audits in results.values() for r in audits))
    cams = sorted({f"{r['cam_shape'][0]}x{r['cam_shape'][1]}" for audits in results.values()
                   for r in audits if r["cam_shape"]})
    lines = [
        "# Heat map inside the lungs",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with model(s) "
        + ", ".join(f"`{m}`" for m in model_ids)
        + f" on {platform.machine()} ({os.cpu_count()} cores), {seconds:.0f} s. "
        f"Lung masks: {len(masks)} from `{masks.source.name}`. Reproduce with:",
        "",
        "```",
        command,
        "```",
        "",
        "**Share inside the lungs** = the part of the heat map's mass (the map the app draws for "
        "the class it shows, on the original film) that lies inside the expert lung mask. A "
        "model that bases its answer on lung findings scores high; one that learned shortcuts "
        "(mediastinum, abdomen, borders, burnt-in text, hospital) scores low. Read it against "
        "two references on the same films: **lung area** is what a map spread evenly over the "
        "film would score, and **lung-shaped map at CAM resolution** is what a map that is the "
        f"lung mask itself scores once seen through the model's coarse CAM grid ({', '.join(cams)}"
        " cells) and upsampled the way the app does (it spills over the lung borders; it is a "
        "guide, not a strict upper bound).",
        "",
        "Images (patients): films measured (distinct patients). *true* rows group by the "
        "dataset's label, *shown* rows by the class the app shows. The out-of-distribution "
        "gate is not applied: every masked film is measured.",
        "",
    ]
    for subset, audits in results.items():
        split = SUBSETS[subset]
        title = f"{split} split" if split else "TRAIN and TEST splits"
        lines += [f"## {title} (`--subset {subset}`)", "", *render_table(audits), ""]
        for result in audits:
            if result["skipped"]:
                lines += [f"Not measured for `{result['model_id']}` ({len(result['skipped'])}):",
                          ""]
                lines += [f"- `{s['name']}`: {s['reason']}" for s in result["skipped"]]
                lines.append("")
        for result in audits:
            worst = sorted((r for r in result["rows"] if r["share"] == r["share"]),
                           key=lambda r: r["share"])[:WORST]
            if worst:
                lines += [f"Least inside the lungs, `{result['model_id']}`: " + "; ".join(
                    f"`{r['name']}` {_pct(r['share'])} (lung area {_pct(r['lung_area'])}, "
                    f"shown {r['shown_class']})" for r in worst), ""]
    lines += [
        "## How this was measured",
        "",
        "- Films: the dataset's `ieee8023` images that have a mask in torchxrayvision's "
        "`semantic_masks_v7labs_lungs.zip` (Apache-2.0; 517 lung masks at the original "
        "resolution for images of the ieee8023 COVID-19 image data collection). Masks are "
        "matched by name: the dataset calls an image `ieee8023_<original stem, characters other "
        "than letters, digits, - and _ replaced by _>.jpg`. The masks were drawn for a COVID-19 "
        "collection, so these are (nearly) all COVID-19 films from that one collection (the "
        "*true* rows say which): the figure describes that population, not every film the app "
        "sees.",
        "- Mask pixels of 255 are lung; 127 marks a few other regions (pacemakers, arrows, "
        "burnt-in labels on the films we looked at) and counts as outside. A mask is resized "
        "to the film with nearest neighbour; a mask whose aspect ratio differs from the film's "
        "by more than 2 % is not used.",
        "- Heat map: the app's own path, `desktop_app.core` loader, the card's preprocessing, "
        "LiteRT, `decide()` at the card's operating point and `heatmap_for_original()` for the "
        "decided class (negative evidence is clipped to zero there). Films whose map is all "
        "zero are left out of the share figures.",
        "- Code: `model_training/lung_heatmap.py` (`audit()`), this script "
        "`benchmarks/heatmap_lungs.py`.",
        "",
        "## Getting the masks (offline-safe)",
        "",
        "The masks ship inside the torchxrayvision wheel. Download the wheel without installing "
        "it or any dependency, then pass the wheel itself (or the zip inside it, or a folder of "
        "the extracted masks) to `--masks`; nothing is extracted to disk:",
        "",
        "```",
        "pip download --no-deps torchxrayvision==1.5.7 -d /tmp/txv",
        "python benchmarks/heatmap_lungs.py --model resources/model "
        "--masks /tmp/txv/torchxrayvision-1.5.7-py3-none-any.whl --subset test all",
        "```",
        "",
        "The wheel is needed only for this measurement, never by the app or its tests. The "
        "masks and the images are never committed to this repository.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; exit 0 when every model measured at least one film."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", metavar="DIR",
                        help="model bundle; repeat to compare models (default: the bundled one)")
    parser.add_argument("--masks", type=Path, required=True, metavar="PATH",
                        help="torchxrayvision wheel, semantic_masks_v7labs_lungs.zip, or a folder")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, metavar="DIR",
                        help="the dataset (metadata.csv + images/)")
    parser.add_argument("--subset", nargs="+", choices=tuple(SUBSETS), default=["test"],
                        help="Dataset_type rows to measure; several give one table each")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="also write the markdown report here")
    args = parser.parse_args(argv)
    models: list[Path] = args.model or [DEFAULT_MODEL]
    started = time.perf_counter()
    masks = load_lung_masks(args.masks)
    results = run(models, args.data, masks, list(dict.fromkeys(args.subset)))
    command = "python benchmarks/heatmap_lungs.py " + " ".join(
        sys.argv[1:] if argv is None else list(argv))
    report = render_markdown(results, command.strip(), masks, time.perf_counter() - started)
    print(report)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")
    measured = all(r["summary"]["all"]["n"] > 0 for audits in results.values() for r in audits)
    return 0 if measured else 1


if __name__ == "__main__":
    raise SystemExit(main())
