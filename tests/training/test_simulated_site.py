"""A simulated new site, end to end, on real films: train without NIH, calibrate to NIH.

A small leave-one-source-out model (64 px, a few epochs, a subset of the shared films; the
full-scale study is ``benchmarks/site_calibration.py``, docs/site_calibration.md) never sees
an NIH film. Like the real models it calls many unseen adult normals COVID-19. It is
calibrated on half of NIH's patients (the site's labelled export) and the calibrated bundle
classifies the other half through the app's classify path: the figures there, on films that
set nothing, must show what calibration is for.
"""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

import pytest

from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.site.site_calibration import CalibrationSettings, calibrate_site
from desktop_app.core.validation.labelled_data import read_labelled
from model_training.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.real_data]

#: Films per (source, label) in the training subset: enough for a model that ranks films.
_PER_STRATUM = 120


def _half(patient: str) -> str:
    return "A" if int(hashlib.sha256(patient.encode()).hexdigest(), 16) % 2 == 0 else "B"


def _write(folder: Path, rows: list[dict[str, str]], images: Path, header: list[str]) -> Path:
    folder.mkdir(parents=True)
    os.symlink(images, folder / "images")
    with open(folder / "metadata.csv", "w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return folder


def _normals_as_covid(bundle_dir: Path, half: Path) -> tuple[float, float]:
    """Share of the half's normals labelled COVID-19, and of its films refused."""
    rows = read_labelled(half)
    results = list(Analyzer(load_bundle(bundle_dir)).analyse(
        [Path(r.path) for r in rows], age_groups=[r.age_group for r in rows]))
    normals = [res for row, res in zip(rows, results, strict=True) if row.label == "Normal"]
    refused = sum(res.out_of_distribution or not res.ok for res in results)
    return (sum(res.label == "COVID-19" for res in normals) / len(normals),
            refused / len(results))


def test_calibration_at_an_unseen_site_lowers_false_covid_on_its_next_films(
        cxr_data: Path, tmp_path: Path) -> None:
    with open(cxr_data / "metadata.csv", encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    header = list(rows[0])
    images = (cxr_data / "images").resolve()
    training: list[dict[str, str]] = []
    taken: dict[tuple[str, str], int] = {}
    for row in rows:
        if row["source"] == "nih":
            continue
        key = (row["source"], row["Label"] + row["Label_2_Virus_category"])
        if taken.get(key, 0) < _PER_STRATUM:
            taken[key] = taken.get(key, 0) + 1
            training.append(row)
    nih = [row for row in rows if row["source"] == "nih"]
    data = _write(tmp_path / "data", training + nih, images, header)
    run = tmp_path / "loso"
    assert main(["loso", "--holdout-source", "nih", "--out", str(run), "--data", str(data),
                 "--input-size", "64", "--width", "0.5", "--epochs", "4",
                 "--batch-size", "32", "--class-weighting", "class-group",
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    half_a = _write(tmp_path / "A", [r for r in nih if _half(r["patient_id"]) == "A"],
                    images, header)
    half_b = _write(tmp_path / "B", [r for r in nih if _half(r["patient_id"]) == "B"],
                    images, header)

    result = calibrate_site(half_a, load_bundle(run / "bundle"),
                            CalibrationSettings("NIH (simulated)"))
    assert result is not None
    calibrated = result.write_bundle(tmp_path / "calibrated").path
    before, refused_before = _normals_as_covid(run / "bundle", half_b)
    after, refused_after = _normals_as_covid(calibrated, half_b)
    # The site's next films: no more than about the 5 % asked (room for a half of ~190
    # normals), never more than before, and no more films refused.
    assert after <= 0.12
    assert after <= before
    assert refused_after <= refused_before
    section = result.summary
    assert section["non_chest_check_set"]["development"]["refused_after"] >= 0.98
    assert section["figures"]["after_is"].startswith("cross-validated by patient")
