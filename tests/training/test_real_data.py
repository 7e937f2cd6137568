"""Checks on the real chest X-ray folder (skipped when it is absent).

The dataset grows over time, so nothing here pins a count: every expectation is derived from
``metadata.csv`` itself with the plain ``csv`` module (an independent reading of the label
rules in the dataset README), and the bundled model's figures are reproduced on the TEST rows
its card was measured on, identified by the card's fingerprint of those rows.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from model_training.datasets import read_dataset
from model_training.splits import assign_subsets, patient_leakage

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLED = REPO_ROOT / "resources" / "model"

pytestmark = pytest.mark.real_data


def _csv_rows(data: Path) -> list[dict[str, str]]:
    with (data / "metadata.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _class3(row: dict[str, str]) -> str:
    """The README's rule: COVID-19 = Label_2 COVID-19; Pneumonia = other Pnemonia; Normal."""
    if row["Label_2_Virus_category"].strip() == "COVID-19":
        return "COVID-19"
    return "Pneumonia" if row["Label"].strip() == "Pnemonia" else "Normal"


def test_real_dataset_counts(cxr_data: Path) -> None:
    rows = _csv_rows(cxr_data)
    table = read_dataset(cxr_data)
    assert len(table) == len(rows)
    expected = Counter((_class3(r), r["Dataset_type"].strip()) for r in rows)
    counts = table.groupby(["label", "split"], observed=True).size().to_dict()
    assert counts == dict(expected)
    assert set(table["source"]) == {r["source"] for r in rows}
    # Age groups are read from the CSV when it has them (child / adult / unknown only).
    if rows and "age_group" in rows[0]:
        by_name = {r["X_ray_image_name"]: r["age_group"].strip() or "unknown" for r in rows}
        read = dict(zip(table["path"].map(lambda p: Path(p).name), table["age_group"],
                        strict=True))
        assert read == by_name
    assert set(table["age_group"]) <= {"child", "adult", "unknown"}
    assert set(table["view"]) <= {"AP", "PA", ""}


def test_real_split_has_no_leakage(cxr_data: Path) -> None:
    table = assign_subsets(read_dataset(cxr_data), seed=2026)
    assert patient_leakage(table, "subset") == []
    assert (table.loc[table["split"] == "TEST", "subset"] == "test").all()
    # Validation is stratified by class and source: every (class, source) stratum with enough
    # TRAIN patients to spare one is represented in it.
    train = table[table["split"] == "TRAIN"]
    patients = train.groupby(["label", "source"], observed=True)["patient_id"].nunique()
    val = table[table["subset"] == "val"]
    in_val = set(zip(val["label"].astype(str), val["source"], strict=True))
    for (label, source), count in patients.items():
        if count >= 3:
            assert (str(label), source) in in_val, f"no {label} from {source} in validation"


@pytest.mark.slow
def test_bundled_model_reproduces_its_card_on_test(cxr_data: Path, tmp_path: Path) -> None:
    from desktop_app.core.model.model_bundle import load_bundle
    from model_training.bundle_evaluation import evaluate_bundle

    if not (BUNDLED / "model_card.json").is_file():
        pytest.skip(f"no bundled model at {BUNDLED}")
    card = load_bundle(BUNDLED).card
    recorded = card.metrics["test"].get("rows_fingerprint")
    assert recorded is not None, (
        f"the card of {card.model_id} does not record which TEST rows it was measured on "
        "(metrics.test.rows_fingerprint); re-export the bundle")
    metrics = evaluate_bundle(BUNDLED, cxr_data, bootstrap_rounds=20, cache_dir=tmp_path)
    found = metrics["rows_fingerprint"]
    if found["sha256"] != recorded["sha256"]:
        pytest.skip(
            f"the TEST rows of {cxr_data} ({found['images']} images, fingerprint "
            f"{found['sha256'][:12]}) differ from those {card.model_id} was measured on "
            f"({recorded['images']} images, {recorded['sha256'][:12]}): the data changed, "
            "so its card's figures cannot be reproduced here; retrain or re-export the bundle "
            "on this data")
    expected = card.metrics["test"]
    assert metrics["n"] == expected["n"]
    assert metrics["overall"]["accuracy"] == pytest.approx(expected["overall"]["accuracy"],
                                                           abs=2e-3)
    assert metrics["overall"]["macro_auroc"] == pytest.approx(
        expected["overall"]["macro_auroc"], abs=1e-3)
    for name, figure in expected["populations"]["key_figures"].items():
        if figure is None:
            assert metrics["populations"]["key_figures"][name] is None
        else:
            assert metrics["populations"]["key_figures"][name]["value"] == pytest.approx(
                figure["value"], abs=3e-3), name
