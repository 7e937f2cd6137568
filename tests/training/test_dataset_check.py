from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from model_training.confounding import (
    MIN_VIEW_CLASS_IMAGES,
    ConfoundingWarning,
    composition,
    find_confounding,
)
from model_training.dataset_check import CheckCancelled, check_dataset, format_composition
from model_training.datasets import CLASSES_3, read_dataset
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


# -- composition and shortcuts ----------------------------------------------------------------

def _table(rows: list[tuple[str, str, str, str, int]], split: str | None = "TRAIN"
           ) -> pd.DataFrame:
    """A dataset table without files: ``(label, source, age_group, view, images)`` rows."""
    records = []
    for label, source, age_group, view, count in rows:
        for index in range(count):
            records.append({"path": f"/nowhere/{source}_{label}_{view}_{index}.png",
                            "label": label, "split": split,
                            "patient_id": f"{source}_{label}_{age_group}_{view}_{index}",
                            "source": source, "age_group": age_group, "view": view})
    return pd.DataFrame.from_records(records)


def _kinds(warnings: list[ConfoundingWarning]) -> list[str]:
    return [w.kind for w in warnings]


def test_tiny_dataset_reports_age_table_and_source_shortcut(tiny_dataset: Path) -> None:
    # The fixture takes Normal and Pneumonia from Kermany (children) and COVID-19 from
    # ieee8023 (no age): the source gives COVID-19 away completely.
    report = check_dataset(read_dataset(tiny_dataset), list(CLASSES_3), min_images_per_class=2)
    assert [(r.label, r.source, r.age_group, r.per_split, r.total)
            for r in report.per_class_source_age] == [
        ("Normal", "kermany", "child", {"TEST": 2, "TRAIN": 6}, 8),
        ("Pneumonia", "kermany", "child", {"TEST": 2, "TRAIN": 6}, 8),
        ("COVID-19", "ieee8023", "unknown", {"TEST": 2, "TRAIN": 6}, 8),
    ]
    assert report.findings == []  # shortcuts are not file problems and never fatal
    assert not report.fatal

    own = next(w for w in report.confounding if w.kind == "class_only_in_own_sources")
    assert (own.severity, own.strength) == ("warning", "strong")
    assert own.numbers["class"] == "COVID-19"
    assert own.numbers["sources"] == ["ieee8023"]
    assert own.numbers["other_images_in_sources"] == 0
    assert "All 8 COVID-19 images come from source 'ieee8023'" in own.message
    assert "no Normal or Pneumonia images" in own.message
    # ieee8023 holding only COVID-19 is the same fact: said once, not twice.
    assert "single_class_source" not in _kinds(report.confounding)

    source = next(s for s in report.shortcuts if s.factor == "source")
    # kermany -> Normal (8 vs 8: the task's order breaks the tie), ieee8023 -> COVID-19.
    assert source.guess == {"ieee8023": "COVID-19", "kermany": "Normal"}
    assert source.accuracy == pytest.approx(16 / 24)
    assert source.balanced_accuracy == pytest.approx((1 + 0 + 1) / 3)
    assert source.baseline_accuracy == pytest.approx(8 / 24)
    covid = source.per_class["COVID-19"]
    assert (covid.sensitivity, covid.specificity, covid.groups) == (1.0, 1.0, ("ieee8023",))
    assert source.strength == "strong"
    warning = next(w for w in report.confounding if w.kind == "source_predicts_class")
    assert ("gives the right class for 67 % of 24 images (balanced accuracy 0.67; always "
            "guessing the commonest class, Normal: 33 %)") in warning.message
    assert "100 % sensitivity and 100 % specificity" in warning.message
    assert warning.numbers["balanced_accuracy"] == pytest.approx(2 / 3)
    assert "age_group_predicts_class" in _kinds(report.confounding)  # child vs unknown age

    data = json.loads(json.dumps(report.to_dict()))
    assert {"kind", "strength", "severity", "message", "numbers"} <= set(data["confounding"][0])
    assert data["per_class_source_age"][0]["per_split"] == {"TEST": 2, "TRAIN": 6}
    text = report.format()
    assert "images per class, source and age group:" in text
    table_lines = [line.split() for line in text.splitlines()]
    assert ["class", "source", "age", "group", "TEST", "TRAIN", "total"] in table_lines
    assert ["Normal", "kermany", "child", "2", "6", "8"] in table_lines
    assert ["all", "6", "18", "24"] in table_lines
    assert "[warning, strong] class_only_in_own_sources: All 8 COVID-19" in text


def test_source_that_predicts_the_class_perfectly() -> None:
    table = _table([("Normal", "a", "adult", "PA", 30), ("Pneumonia", "b", "adult", "PA", 20),
                    ("COVID-19", "c", "adult", "AP", 10)])
    scores, warnings = find_confounding(table, CLASSES_3)
    source = next(s for s in scores if s.factor == "source")
    assert (source.accuracy, source.balanced_accuracy) == (1.0, 1.0)
    assert source.baseline_accuracy == pytest.approx(0.5)
    assert source.strength == "strong"
    assert [s.factor for s in scores] == ["source"]  # one age group; one class per source
    assert _kinds(warnings).count("class_only_in_own_sources") == 3
    message = next(w for w in warnings if w.kind == "source_predicts_class").message
    assert message.startswith("Knowing only the source of an image gives the right class for "
                              "100 % of 60 images (balanced accuracy 1.00; always guessing the "
                              "commonest class, Normal: 50 %).")


def test_source_that_predicts_the_class_well_but_not_perfectly() -> None:
    table = _table([("Normal", "x", "adult", "PA", 40), ("Pneumonia", "x", "adult", "PA", 10),
                    ("Normal", "y", "adult", "PA", 5), ("Pneumonia", "y", "adult", "PA", 45)])
    scores, warnings = find_confounding(table, CLASSES_3)
    (source,) = scores
    assert source.guess == {"x": "Normal", "y": "Pneumonia"}
    assert source.accuracy == pytest.approx(0.85)
    assert source.balanced_accuracy == pytest.approx((40 / 45 + 45 / 55) / 2)
    assert (source.baseline_class, source.baseline_accuracy) == ("Pneumonia", 0.55)
    # Two classes: one "against the rest" rule, Pneumonia (called in source y) vs Normal.
    assert list(source.per_class) == ["Pneumonia"]
    assert source.per_class["Pneumonia"].sensitivity == pytest.approx(45 / 55)
    assert source.per_class["Pneumonia"].specificity == pytest.approx(40 / 45)
    assert source.strength == "moderate"
    (warning,) = warnings
    assert (warning.kind, warning.severity) == ("source_predicts_class", "warning")
    assert "85 % of 100 images (balanced accuracy 0.85" in warning.message
    assert "separates Pneumonia from Normal with 82 % sensitivity and 89 % specificity" \
        in warning.message


def test_sources_with_the_same_class_mix_give_no_warning() -> None:
    table = _table([("Normal", "a", "adult", "PA", 20), ("Pneumonia", "a", "adult", "PA", 20),
                    ("COVID-19", "a", "adult", "PA", 10), ("Normal", "b", "adult", "PA", 10),
                    ("Pneumonia", "b", "adult", "PA", 10), ("COVID-19", "b", "adult", "PA", 5)])
    scores, warnings = find_confounding(table, CLASSES_3)
    (source,) = scores
    assert source.accuracy == pytest.approx(source.baseline_accuracy) == pytest.approx(0.4)
    assert source.balanced_accuracy == pytest.approx(1 / 3)
    assert all(s.balanced_accuracy == pytest.approx(0.5) for s in source.per_class.values())
    assert source.strength == "none"
    assert warnings == []


def test_age_group_shortcut_counts_unknown_as_a_group() -> None:
    table = _table([("Normal", "s", "adult", "PA", 20), ("Pneumonia", "s", "child", "AP", 20),
                    ("COVID-19", "s", "unknown", "", 10)])
    scores, warnings = find_confounding(table, CLASSES_3)
    age = next(s for s in scores if s.factor == "age_group")
    assert age.guess == {"adult": "Normal", "child": "Pneumonia", "unknown": "COVID-19"}
    assert (age.accuracy, age.balanced_accuracy, age.strength) == (1.0, 1.0, "strong")
    warning = next(w for w in warnings if w.kind == "age_group_predicts_class")
    assert "the age group (child, adult or unknown)" in warning.message
    assert "child: 20 of 20 Pneumonia; adult: 20 of 20 Normal; unknown: 10 of 10 COVID-19" \
        in warning.message
    # Without age information there is nothing to guess from.
    no_age = table.drop(columns=["age_group"])
    assert all(s.factor != "age_group" for s in find_confounding(no_age, CLASSES_3)[0])


def test_view_inside_a_source_is_a_weak_note_below_the_warning_threshold() -> None:
    # NIH-like: Normal mostly AP, Pneumonia mostly PA; Kermany is all AP (nothing to guess).
    table = _table([("Normal", "nih", "adult", "AP", 30), ("Normal", "nih", "adult", "PA", 10),
                    ("Pneumonia", "nih", "adult", "AP", 10),
                    ("Pneumonia", "nih", "adult", "PA", 30),
                    ("Normal", "kermany", "child", "AP", 20),
                    ("Pneumonia", "kermany", "child", "AP", 20),
                    # Too few COVID-19 images in 'nih' to count in its view check.
                    ("COVID-19", "nih", "adult", "PA", MIN_VIEW_CLASS_IMAGES - 1)])
    scores, warnings = find_confounding(table, CLASSES_3)
    views = [s for s in scores if s.factor == "view"]
    assert [s.within_source for s in views] == ["nih"]
    (view,) = views
    assert view.images == 80
    assert view.guess == {"AP": "Normal", "PA": "Pneumonia"}
    assert (view.accuracy, view.balanced_accuracy) == (0.75, 0.75)
    assert view.strength == "weak"
    note = next(w for w in warnings if w.kind == "view_predicts_class")
    assert (note.severity, note.numbers["within_source"]) == ("info", "nih")
    assert note.message.startswith("Inside source 'nih', knowing only the view (AP or PA)")
    assert "AP: 30 of 40 Normal; PA: 30 of 40 Pneumonia" in note.message


def test_single_class_source_strength_follows_its_share_of_the_class() -> None:
    table = _table([("Normal", "big", "adult", "PA", 50), ("Pneumonia", "big", "adult", "PA", 50),
                    ("COVID-19", "big", "adult", "PA", 45), ("COVID-19", "web", "adult", "PA", 5)])
    _, warnings = find_confounding(table, CLASSES_3)
    single = next(w for w in warnings if w.kind == "single_class_source")
    assert single.numbers == {"source": "web", "class": "COVID-19", "images": 5,
                              "class_images": 50, "class_share": 0.1}
    assert (single.strength, single.severity) == ("moderate", "warning")
    assert "Every image from source 'web' (5) is COVID-19; that is 10 % of all COVID-19" \
        in single.message
    assert "class_only_in_own_sources" not in _kinds(warnings)  # 'big' holds every class


def test_composition_orders_classes_and_age_groups_and_totals() -> None:
    table = _table([("COVID-19", "s", "unknown", "", 2), ("Normal", "s", "adult", "PA", 3),
                    ("Normal", "s", "child", "AP", 1)], split=None)
    rows = composition(table, CLASSES_3)
    assert [(r.label, r.age_group, r.per_split, r.total) for r in rows] == [
        ("Normal", "child", {"(none)": 1}, 1), ("Normal", "adult", {"(none)": 3}, 3),
        ("COVID-19", "unknown", {"(none)": 2}, 2)]
    assert format_composition(rows)[-1].split() == ["all", "6", "6"]
