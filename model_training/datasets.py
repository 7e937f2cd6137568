"""Dataset readers: every supported layout becomes one typed table.

Supported layouts (detected by :func:`read_dataset`):

* **LungLens metadata folder**: ``metadata.csv`` in CoronaHack's columns (plus optional
  ``patient_id`` and ``source``) and an ``images/`` folder (``../shared/datasets/cxr``).
* **Kaggle CoronaHack**: ``Chest_xray_Corona_Metadata.csv`` and
  ``Coronahack-Chest-XRay-Dataset/{train,test}/`` (Kaggle nests that folder twice; both are
  found).
* **Folder per class**: ``NORMAL/``, ``PNEUMONIA/``, ``COVID-19/`` (case-insensitive, common
  synonyms), optionally inside ``train/``, ``test/``, ``val/`` sub-folders.

The table has the columns of :data:`TABLE_COLUMNS`: ``path`` (absolute), ``label`` (a class name
of the task), ``split`` (``"TRAIN"``, ``"TEST"`` or ``None``), ``patient_id``, ``source``,
``age_group`` (``"child"``, ``"adult"`` or ``"unknown"``) and ``view`` (``"AP"``, ``"PA"`` or
``""``). ``age_group`` and ``view`` come from the CSV's optional ``age_group``/``age`` and
``view`` columns; they exist because a model that is right on children and wrong on adults is
wrong for a clinic, and every evaluation reports per age group.

The layouts themselves are read by :mod:`desktop_app.core.validation.labelled_data`
(plain ``csv``, no pandas), which local validation in the classify-only build uses too; this
module turns its rows into the typed table training works on.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from desktop_app.core.validation.labelled_data import (
    AGE_GROUPS,
    CLASSES_3,
    KAGGLE_CSV,
    LUNGLENS_CSV,
    TASK_CLASSES,
    LabelledImage,
    class_from_coronahack,
    class_from_folder_name,
    normalise_age_group,
    normalise_view,
    read_class_folder_rows,
    read_coronahack_rows,
    read_labelled,
)

__all__ = [
    "AGE_GROUPS",
    "CLASSES_3",
    "KAGGLE_CSV",
    "LUNGLENS_CSV",
    "TABLE_COLUMNS",
    "TASK_CLASSES",
    "class_from_coronahack",
    "class_from_folder_name",
    "normalise_age_group",
    "normalise_view",
    "read_class_folders",
    "read_coronahack_csv",
    "read_dataset",
    "table_from_rows",
]

TABLE_COLUMNS: tuple[str, ...] = (
    "path", "label", "split", "patient_id", "source", "age_group", "view",
)


def table_from_rows(rows: list[LabelledImage], task: str = "3class") -> pd.DataFrame:
    """The typed table of ``rows``: the task's classes only, ``label`` categorical.

    Raises:
        ValueError: For an unknown task, quoting it.
    """
    if task not in TASK_CLASSES:
        raise ValueError(f"task must be one of {tuple(TASK_CLASSES)}. Received: task={task!r}")
    classes = TASK_CLASSES[task]
    table = pd.DataFrame([[getattr(row, c) for c in TABLE_COLUMNS] for row in rows],
                         columns=list(TABLE_COLUMNS))
    table = table[table["label"].isin(classes)].reset_index(drop=True)
    table["label"] = pd.Categorical(table["label"], categories=list(classes))
    table["split"] = table["split"].astype(object).where(table["split"].notna(), None)
    return table


def read_coronahack_csv(
    csv_path: Path | str, *, image_root: Path | str | None = None, task: str = "3class"
) -> pd.DataFrame:
    """Read a CSV in CoronaHack's columns (LungLens ``metadata.csv`` or Kaggle's file).

    Args:
        csv_path: The CSV.
        image_root: Where the images are (default: see
            :func:`desktop_app.core.validation.labelled_data.read_coronahack_rows`).
        task: ``"3class"`` or ``"covid-vs-normal"`` (pneumonia rows dropped).

    Returns:
        The table (see module docs).

    Raises:
        ValueError: If a required column is missing or a label is unknown.
    """
    return table_from_rows(read_coronahack_rows(csv_path, image_root=image_root), task)


def read_class_folders(folder: Path | str, *, task: str = "3class") -> pd.DataFrame:
    """Read a folder-per-class layout, optionally inside ``train``/``test``/``val`` folders.

    Raises:
        ValueError: If no class folder is recognised, listing the folder names seen.
    """
    return table_from_rows(read_class_folder_rows(folder), task)


def read_dataset(path: Path | str, *, task: str = "3class") -> pd.DataFrame:
    """Read a dataset in any supported layout (see module docs) into one table.

    Args:
        path: A dataset folder, or a CSV in CoronaHack's columns.
        task: ``"3class"`` or ``"covid-vs-normal"``.

    Returns:
        A table with :data:`TABLE_COLUMNS`; ``label`` is categorical in the task's class order.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the layout is not recognised or the labels are invalid.
    """
    if task not in TASK_CLASSES:
        raise ValueError(f"task must be one of {tuple(TASK_CLASSES)}. Received: task={task!r}")
    return table_from_rows(read_labelled(path), task)
