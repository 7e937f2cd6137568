"""Checks on the real chest X-ray folder (skipped when it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_training.datasets import read_dataset
from model_training.splits import assign_subsets, patient_leakage

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLED = REPO_ROOT / "resources" / "model"

pytestmark = pytest.mark.real_data


def test_real_dataset_counts(cxr_data: Path) -> None:
    table = read_dataset(cxr_data)
    assert len(table) == 3048
    counts = table.groupby(["label", "split"], observed=True).size().to_dict()
    assert counts[("COVID-19", "TRAIN")] == 324
    assert counts[("COVID-19", "TEST")] == 82
    assert counts[("Normal", "TEST")] == 231
    assert set(table["source"]) == {"kermany", "ieee8023", "actualmed", "figure1"}


def test_real_split_has_no_leakage(cxr_data: Path) -> None:
    table = assign_subsets(read_dataset(cxr_data), seed=2026)
    assert patient_leakage(table, "subset") == []
    assert (table.loc[table["split"] == "TEST", "subset"] == "test").all()
    val = table[table["subset"] == "val"]
    assert set(val["source"]) == {"kermany", "ieee8023", "actualmed", "figure1"}


@pytest.mark.slow
def test_bundled_model_reproduces_its_card_on_test(cxr_data: Path, tmp_path: Path) -> None:
    from desktop_app.core.model_bundle import load_bundle
    from model_training.bundle_evaluation import evaluate_bundle

    if not (BUNDLED / "model_card.json").is_file():
        pytest.skip(f"no bundled model at {BUNDLED}")
    card = load_bundle(BUNDLED).card
    metrics = evaluate_bundle(BUNDLED, cxr_data, bootstrap_rounds=50, cache_dir=tmp_path)
    expected = card.metrics["test"]["overall"]
    assert metrics["n"] == card.metrics["test"]["n"]
    assert metrics["overall"]["accuracy"] == pytest.approx(expected["accuracy"], abs=2e-3)
    assert metrics["overall"]["macro_auroc"] == pytest.approx(expected["macro_auroc"], abs=1e-3)
