"""Patient-level, stratified, seeded splits into train / val / test.

Rules:

* Every image of a patient lands in the same subset (no patient leakage).
* A ``split`` of ``TRAIN``/``TEST`` already in the table (CoronaHack's ``Dataset_type``) is
  kept: the test set is the one the data's curators fixed, and results stay comparable.
  Rows without a split are assigned by patient (``test_fraction`` of the patients).
* Validation is carved from TRAIN by patient (about ``val_fraction``), stratified by class
  AND source, so that the few adult Normal / Pneumonia images (the ones that work against the
  pediatric-vs-adult shortcut) are represented in validation too.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

__all__ = ["SUBSETS", "assign_subsets", "patient_leakage"]

SUBSETS: tuple[str, ...] = ("train", "val", "test")


def _patient_strata(table: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Stratum of each patient: their most frequent (label, source)."""
    strata: dict[str, tuple[str, str]] = {}
    for patient, group in table.groupby("patient_id", sort=True):
        pairs = Counter(zip(group["label"].astype(str), group["source"].astype(str), strict=True))
        strata[str(patient)] = sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return strata


def _pick_patients(
    table: pd.DataFrame, fraction: float, rng: np.random.Generator
) -> set[str]:
    """Pick about ``fraction`` of the patients of every (class, source) stratum."""
    by_stratum: dict[tuple[str, str], list[str]] = {}
    for patient, stratum in _patient_strata(table).items():
        by_stratum.setdefault(stratum, []).append(patient)
    chosen: set[str] = set()
    for stratum in sorted(by_stratum):
        patients = sorted(by_stratum[stratum])
        rng.shuffle(patients)
        count = round(fraction * len(patients))
        if count == 0 and len(patients) >= 3:
            count = 1  # keep every reasonably sized stratum represented
        chosen.update(patients[:count])
    return chosen


def assign_subsets(
    table: pd.DataFrame,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.2,
    seed: int = 2026,
) -> pd.DataFrame:
    """Return a copy of ``table`` with a ``subset`` column (``train``, ``val`` or ``test``).

    Args:
        table: A dataset table (:func:`model_training.datasets.read_dataset`).
        val_fraction: Fraction of TRAIN patients moved to validation.
        test_fraction: Fraction of patients put in test, for rows without a ``split``.
        seed: Seed of the random patient draw.

    Returns:
        The table with ``subset``.

    Raises:
        ValueError: If a patient has images in both TRAIN and TEST of the given split,
            naming the patient (the data's own split leaks; fix the data first).
    """
    table = table.copy()
    table["patient_id"] = table["patient_id"].astype(str)
    leaks = patient_leakage(table)
    if leaks:
        raise ValueError(
            f"{len(leaks)} patient(s) have images in both TRAIN and TEST, e.g. {leaks[:5]}; "
            "fix the dataset's split first"
        )
    rng = np.random.default_rng(seed)
    split = table["split"].astype(object)
    subset = pd.Series(np.where(split == "TEST", "test", "train"), index=table.index, dtype=object)
    unassigned = split.isna()
    if unassigned.any():
        # Patients with some rows in a split keep it for their unsplit rows too.
        fixed = table.loc[~unassigned].groupby("patient_id")["split"].first()
        free = table.loc[unassigned & ~table["patient_id"].isin(fixed.index)]
        test_patients = _pick_patients(free, test_fraction, rng) if len(free) else set()
        for index in table.index[unassigned]:
            patient = table.at[index, "patient_id"]
            if patient in fixed.index:
                subset[index] = "test" if fixed[patient] == "TEST" else "train"
            else:
                subset[index] = "test" if patient in test_patients else "train"
    train_rows = table.loc[subset == "train"]
    val_patients = _pick_patients(train_rows, val_fraction, rng)
    subset[(subset == "train") & table["patient_id"].isin(val_patients)] = "val"
    table["subset"] = subset.astype(str)
    return table


def patient_leakage(table: pd.DataFrame, column: str = "split") -> list[str]:
    """Patients whose images fall in more than one value of ``column`` (sorted)."""
    known = table[table[column].notna()]
    counts = known.groupby(known["patient_id"].astype(str))[column].nunique()
    return sorted(str(p) for p in counts[counts > 1].index)
