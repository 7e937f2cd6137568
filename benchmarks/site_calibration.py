"""A simulated new site: calibrate on half of an unseen source's patients, measure the other.

``python benchmarks/site_calibration.py --loso-runs RUN_DIR... [--data ../shared/datasets/cxr]
[--laterals ../shared/datasets/views/lateral] [--markdown out.md] [--json out.json]``

Each run (``python -m model_training loso``, or ``scripts/loso_study.sh``) holds a model
trained, with its gate, **without** one source S: S is a hospital the model never saw. S's
patients are split in two halves by a hash of the patient id (the same split every time):

* one half (A) is the site's labelled export: ``calibrate`` (the core function the CLI and the
  window run, :func:`desktop_app.core.site.site_calibration.calibrate_site`) sets thresholds and
  gate limits from it;
* the other half (B) is the site's next films: the model before and the calibrated bundle
  after classify them through the app's classify path, and the figures of issue 19's target
  table are counted on them (not on the films that set anything).

Then the halves swap roles: how far the figures move between the two directions shows how
much a figure rests on which patients happened to be in the calibration half.

The non-chest check set's held-out half and the real lateral films are put through both
bundles too. The view model is the one shipped with LungLens (trained on every source's
TRAIN films, S's included: the one part of the gate not held out here).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktop_app.core.classify.analysis import Analyzer, ImageResult
from desktop_app.core.gate.check_set import load_check_set
from desktop_app.core.metrics.figures import figure_text
from desktop_app.core.model.model_bundle import ModelBundle, load_bundle
from desktop_app.core.site.site_calibration import (
    CalibrationError,
    CalibrationSettings,
    calibrate_site,
)
from desktop_app.core.site.site_figures import FilmOutcome, site_figures
from desktop_app.core.validation.labelled_data import read_labelled

REPO = Path(__file__).resolve().parents[1]

#: Rows of the table: (key in the figures, words).
ROWS = (
    ("adult_normal_as_covid", "the site's adult normals labelled COVID-19 (children at Kermany)"),
    ("adult_normal_as_normal", "the site's adult normals labelled Normal (children at Kermany)"),
    ("refused", "the site's frontal films refused"),
    ("covid_found", "the site's COVID-19 films found"),
    ("pneumonia_found", "the site's pneumonia films found"),
    ("non_covid_as_covid", "the site's non-COVID films labelled COVID-19"),
    ("non_chest_refused", "non-chest check set (held-out half) refused"),
    ("laterals_refused", "real lateral films refused"),
)


def half_of(patient: str) -> str:
    """``"A"`` or ``"B"``: a stable split of patients (sha256 of the id)."""
    return "A" if int(hashlib.sha256(patient.encode("utf-8")).hexdigest(), 16) % 2 == 0 \
        else "B"


def write_half(data: Path, source: str, half: str, folder: Path) -> Path:
    """A LungLens metadata folder with the films of ``source`` in ``half`` (images linked)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(data / "metadata.csv", encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    chosen = [row for row in rows
              if row.get("source") == source and half_of(row["patient_id"]) == half]
    with open(folder / "metadata.csv", "w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(chosen)
    if not (folder / "images").exists():
        os.symlink((data / "images").resolve(), folder / "images")
    return folder


def _outcomes(results: Sequence[ImageResult], truths: Sequence[str | None],
              ages: Sequence[str]) -> list[FilmOutcome]:
    return [FilmOutcome(truth, age, r.label, r.out_of_distribution or not r.ok,
                        r.caution is not None)
            for r, truth, age in zip(results, truths, ages, strict=True)]


def _share(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if entry is None else {k: entry[k] for k in ("value", "ci95", "n")}


def measure_half(bundle: ModelBundle, half: Path, laterals: list[Path],
                 non_chest: list[Path]) -> dict[str, Any]:
    """Issue 19's figures for ``bundle`` on the films of ``half`` (see module docs)."""
    rows = read_labelled(half)
    analyzer = Analyzer(bundle)
    results = list(analyzer.analyse([Path(r.path) for r in rows],
                                    age_groups=[r.age_group for r in rows]))
    ages = [r.age_group for r in results]
    outcomes = _outcomes(results, [r.label for r in rows], ages)
    figures = site_figures(outcomes)["all"]
    adults = site_figures([o for o in outcomes if o.age_group == "adult"] or outcomes)["all"]
    out = {key: _share(figures.get(key)) for key in
           ("refused", "covid_found", "pneumonia_found", "non_covid_as_covid")}
    out["adult_normal_as_covid"] = _share(adults.get("normal_as_covid"))
    out["adult_normal_as_normal"] = _share(adults.get("normal_as_normal"))
    for key, paths in (("non_chest_refused", non_chest), ("laterals_refused", laterals)):
        refused = [r.out_of_distribution or not r.ok for r in analyzer.analyse(paths)]
        out[key] = {"value": sum(refused) / len(refused), "n": len(refused)} if refused \
            else None
    return out


def run_one(run: Path, data: Path, laterals: list[Path], non_chest: list[Path],
            work: Path, calibrate_on: str = "A") -> dict[str, Any]:
    """Calibrate the run's model on one half of its held-out source; measure on the other."""
    source = json.loads((run / "holdout.json").read_text(encoding="utf-8"))["source"]
    bundle = load_bundle(run / "bundle")
    measure_on = "B" if calibrate_on == "A" else "A"
    half_a = write_half(data, source, calibrate_on, work / source / calibrate_on)
    half_b = write_half(data, source, measure_on, work / source / measure_on)
    record: dict[str, Any] = {"source": source, "model_id": bundle.model_id,
                              "calibrated_on": calibrate_on, "measured_on": measure_on,
                              "films_a": len(read_labelled(half_a)),
                              "films_b": len(read_labelled(half_b))}
    record["before"] = measure_half(bundle, half_b, laterals, non_chest)
    started = time.perf_counter()
    try:
        result = calibrate_site(half_a, bundle, CalibrationSettings(f"{source} (simulated)"))
    except CalibrationError as error:
        record["cannot_calibrate"] = str(error)
        return record
    record["calibrate_seconds"] = time.perf_counter() - started
    assert result is not None
    calibrated = result.write_bundle(work / source / f"calibrated-on-{calibrate_on}")
    record["after"] = measure_half(calibrated, half_b, laterals, non_chest)
    record["thresholds"] = result.summary["thresholds"]["site"]
    record["model_thresholds"] = result.summary["thresholds"]["model"]
    record["gate_moved"] = {k: v["moved"] for k, v in result.summary["gate"].items()}
    record["cross_validated_after"] = result.summary["figures"]["after"]["all"]
    record["warnings"] = result.warnings
    return record


def markdown(records: Sequence[dict[str, Any]]) -> str:
    """The table of docs/site_calibration.md."""
    lines = []
    for record in records:
        lines.append(f"### Unseen source: {record['source']}, calibrated on half "
                     f"{record['calibrated_on']} ({record['films_a']} films), measured on half "
                     f"{record['measured_on']} ({record['films_b']} films); model "
                     f"{record['model_id']}")
        lines.append("")
        if "cannot_calibrate" in record:
            lines.append(f"`calibrate` refused: {record['cannot_calibrate']}")
            lines.append("")
            continue
        lines.append(f"| figure (on half {record['measured_on']}) | before | after "
                     "calibration |")
        lines.append("|---|---|---|")
        for key, words in ROWS:
            before, after = record["before"].get(key), record["after"].get(key)
            if before or after:
                lines.append(f"| {words} | {figure_text(before, decimals=1, missing='—')} | "
                             f"{figure_text(after, decimals=1, missing='—')} |")
        lines.append("")
        lines.append("Thresholds (model → site): " + ", ".join(
            f"{k} {record['model_thresholds'][k]:.3f} → {v:.3f}"
            for k, v in record["thresholds"].items())
            + f"; `calibrate` took {record['calibrate_seconds']:.1f} s.")
        if record["warnings"]:
            lines.append("")
            lines.append("Warnings `calibrate` gave:")
            lines.extend(f"- {warning}" for warning in record["warnings"])
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loso-runs", nargs="+", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "datasets" / "cxr")
    parser.add_argument("--laterals", type=Path,
                        default=REPO.parent / "shared" / "datasets" / "views" / "lateral")
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    laterals = sorted(p for p in (args.laterals / "images").iterdir() if p.is_file()) \
        if (args.laterals / "images").is_dir() else []
    non_chest = [case.path for case in load_check_set() if case.held_out]
    records = []
    with tempfile.TemporaryDirectory(prefix="lunglens-site-") as work:
        for run in args.loso_runs:
            if not (run / "holdout.json").is_file():
                continue
            for half in ("A", "B"):  # both ways: how much rests on the split
                record = run_one(run, args.data, laterals, non_chest, Path(work), half)
                records.append(record)
                print(markdown([record]), flush=True)
    if args.markdown:
        args.markdown.write_text(markdown(records) + "\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
