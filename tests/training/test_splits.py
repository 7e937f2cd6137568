from __future__ import annotations

import pandas as pd
import pytest

from model_training.splits import assign_subsets, patient_leakage


def _table(n_patients: int = 60, images_per_patient: int = 2, split: bool = True) -> pd.DataFrame:
    rows = []
    for p in range(n_patients):
        label = ("Normal", "Pneumonia", "COVID-19")[p % 3]
        source = "kermany" if label != "COVID-19" else ("ieee8023" if p % 2 else "figure1")
        for i in range(images_per_patient):
            rows.append({"path": f"/x/{p}_{i}.png", "label": label,
                         "split": ("TEST" if p % 5 == 0 else "TRAIN") if split else None,
                         "patient_id": f"pat{p}", "source": source})
    return pd.DataFrame(rows)


def test_split_keeps_train_test_and_has_no_leakage() -> None:
    table = assign_subsets(_table(), seed=1)
    assert (table.loc[table["split"] == "TEST", "subset"] == "test").all()
    assert set(table.loc[table["split"] == "TRAIN", "subset"]) == {"train", "val"}
    assert patient_leakage(table, "subset") == []
    val = table[table["subset"] == "val"]
    assert set(val["label"]) == {"Normal", "Pneumonia", "COVID-19"}
    train_patients = table.loc[table["split"] == "TRAIN", "patient_id"].nunique()
    assert 0.1 <= val["patient_id"].nunique() / train_patients <= 0.25


def test_split_is_seeded() -> None:
    a = assign_subsets(_table(), seed=3)["subset"].tolist()
    b = assign_subsets(_table(), seed=3)["subset"].tolist()
    c = assign_subsets(_table(), seed=4)["subset"].tolist()
    assert a == b
    assert a != c


def test_split_without_dataset_type_creates_test_by_patient() -> None:
    table = assign_subsets(_table(split=False), test_fraction=0.2, seed=0)
    assert set(table["subset"]) == {"train", "val", "test"}
    assert patient_leakage(table, "subset") == []


def test_leaking_input_split_is_refused() -> None:
    table = _table()
    table.loc[0, "split"] = "TEST"
    table.loc[1, "split"] = "TRAIN"
    with pytest.raises(ValueError, match="pat0"):
        assign_subsets(table)
