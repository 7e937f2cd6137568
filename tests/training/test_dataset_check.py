from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from model_training.dataset_check import CheckCancelled, check_dataset
from model_training.datasets import read_dataset
from tests.training.conftest import write_metadata_dataset


def _codes(report: object) -> dict[str, str]:
    return {f.code: f.severity for f in report.findings}  # type: ignore[attr-defined]


def test_clean_small_dataset_reports_counts(tiny_dataset: Path) -> None:
    calls: list[tuple[int, int]] = []
    report = check_dataset(read_dataset(tiny_dataset), progress=lambda d, t: calls.append((d, t)),
                           min_images_per_class=2)
    assert report.images == 24
    assert report.readable == 24
    assert report.per_class == {"COVID-19": 8, "Normal": 8, "Pneumonia": 8}
    assert report.per_split == {"TEST": 6, "TRAIN": 18}
    assert report.per_class_split["Normal"] == {"TEST": 2, "TRAIN": 6}
    assert report.findings == []
    assert not report.fatal
    assert calls[-1] == (24, 24)


def test_crafted_problems(tmp_path: Path) -> None:
    folder = write_metadata_dataset(tmp_path / "bad")
    images = folder / "images"
    (images / "normal_000.png").unlink()  # missing
    (images / "normal_001.png").write_bytes(b"not an image at all")  # unreadable
    # A TRAIN image copied over a TEST image: duplicate across splits.
    shutil.copy(images / "pneumonia_000.png", images / "pneumonia_007.png")
    csv = folder / "metadata.csv"
    text = csv.read_text(encoding="utf-8")
    # Patient leakage: a TEST image of patient p_COVID-19_7 re-labelled as the TRAIN patient 0.
    text = text.replace("p_COVID-19_7", "p_COVID-19_0")
    csv.write_text(text, encoding="utf-8")
    report = check_dataset(read_dataset(folder), min_images_per_class=7)
    codes = _codes(report)
    assert codes["missing_file"] == "warning"
    assert codes["unreadable_file"] == "warning"
    assert codes["duplicate_across_splits"] == "warning"
    assert codes["patient_leakage"] == "warning"
    # Normal keeps 4 readable TRAIN images (< 7): fatal; Pneumonia and COVID-19 have 6 (< 7).
    assert codes["class_too_small"] == "fatal"
    assert report.fatal
    assert report.findings[0].severity == "fatal"
    unreadable = next(f for f in report.findings if f.code == "unreadable_file")
    assert "normal_001.png" in unreadable.message
    duplicate = next(f for f in report.findings if f.code == "duplicate_across_splits")
    assert {Path(p).name for p in duplicate.paths} == {"pneumonia_000.png", "pneumonia_007.png"}
    assert "p_COVID-19_0" in next(f for f in report.findings
                                  if f.code == "patient_leakage").message
    assert "fatal" in report.format()


def test_check_can_be_cancelled(tiny_dataset: Path) -> None:
    with pytest.raises(CheckCancelled):
        check_dataset(read_dataset(tiny_dataset), cancelled=lambda: True)
