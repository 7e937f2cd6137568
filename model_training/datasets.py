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
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from model_training.patient_ids import derive_patient_id

__all__ = [
    "AGE_GROUPS",
    "CLASSES_3",
    "TABLE_COLUMNS",
    "TASK_CLASSES",
    "class_from_coronahack",
    "class_from_folder_name",
    "normalise_age_group",
    "normalise_view",
    "read_class_folders",
    "read_coronahack_csv",
    "read_dataset",
]

CLASSES_3: tuple[str, ...] = ("Normal", "Pneumonia", "COVID-19")
TASK_CLASSES: dict[str, tuple[str, ...]] = {
    "3class": CLASSES_3,
    "covid-vs-normal": ("Normal", "COVID-19"),
}
TABLE_COLUMNS: tuple[str, ...] = (
    "path", "label", "split", "patient_id", "source", "age_group", "view",
)
AGE_GROUPS: tuple[str, ...] = ("child", "adult", "unknown")
ADULT_AGE = 18
LUNGLENS_CSV = "metadata.csv"
KAGGLE_CSV = "Chest_xray_Corona_Metadata.csv"
KAGGLE_FOLDER = "Coronahack-Chest-XRay-Dataset"

# Folder-name synonyms, compared after lower-casing and turning " " and "_" into "-".
_FOLDER_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(
        ("normal", "normals", "healthy", "no-finding", "nofinding", "negative", "0-normal"),
        "Normal",
    ),
    **dict.fromkeys(
        (
            "pneumonia", "pnemonia", "pneumonias", "bacterial", "bacteria", "viral", "virus",
            "bacterial-pneumonia", "viral-pneumonia", "pneumonia-bacteria", "pneumonia-virus",
            "pneumonia-bacterial", "pneumonia-viral", "non-covid", "non-covid-pneumonia",
            "other-pneumonia", "lung-opacity", "1-pneumonia",
        ),
        "Pneumonia",
    ),
    **dict.fromkeys(
        ("covid-19", "covid19", "covid", "covid-positive", "sars-cov-2", "coronavirus",
         "2-covid-19", "covid-19-pneumonia"),
        "COVID-19",
    ),
}
_SPLIT_FOLDERS: dict[str, str] = {
    "train": "TRAIN", "training": "TRAIN",
    # A pre-made validation folder is merged into TRAIN: validation is re-carved by patient,
    # stratified by class and source, which a folder made elsewhere does not guarantee.
    "val": "TRAIN", "valid": "TRAIN", "validation": "TRAIN",
    "test": "TEST", "testing": "TEST",
}


def _norm_key(name: str) -> str:
    return re.sub(r"[\s_]+", "-", name.strip().lower())


def class_from_folder_name(name: str) -> str | None:
    """Map a class folder name (``NORMAL``, ``Covid19``, ``viral pneumonia``...) to a class."""
    return _FOLDER_SYNONYMS.get(_norm_key(name))


def _clean(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value).strip()


def class_from_coronahack(label: object, label_2: object) -> str:
    """Map CoronaHack's ``Label`` / ``Label_2_Virus_category`` to a 3-class name.

    COVID-19 is ``Label_2 == "COVID-19"``; every other ``Pnemonia`` (CoronaHack's spelling; the
    correct spelling is accepted too) is Pneumonia; ``Normal`` is Normal.

    Raises:
        ValueError: For a label that is neither, quoting it.
    """
    main = _clean(label).lower()
    detail = _clean(label_2).upper().replace(" ", "")
    if main == "normal":
        return "Normal"
    if main in ("pnemonia", "pneumonia"):
        return "COVID-19" if detail in ("COVID-19", "COVID19") else "Pneumonia"
    raise ValueError(
        f"unknown Label {label!r} (expected 'Normal' or CoronaHack's 'Pnemonia')"
    )


def normalise_age_group(age_group: object, age: object = "") -> str:
    """Return ``"child"``, ``"adult"`` or ``"unknown"`` from an ``age_group`` and/or ``age`` cell.

    An explicit ``age_group`` wins; otherwise an age in years decides (adult from 18, the
    cut-off the dataset README uses). Anything unreadable is ``"unknown"``, never a guess.
    """
    group = _clean(age_group).lower()
    if group in ("child", "children", "pediatric", "paediatric"):
        return "child"
    if group in ("adult", "adults"):
        return "adult"
    text = _clean(age)
    try:
        years = float(text)
    except ValueError:
        return "unknown"
    if not 0 <= years < 130:
        return "unknown"
    return "adult" if years >= ADULT_AGE else "child"


def normalise_view(view: object) -> str:
    """Map ``AP``, ``AP Supine``, ``AP erect``, ``PA`` ... to ``"AP"``/``"PA"``; else ``""``."""
    text = _clean(view).upper()
    if text.startswith("AP"):
        return "AP"
    if text.startswith("PA"):
        return "PA"
    return ""


def _finish(table: pd.DataFrame, task: str) -> pd.DataFrame:
    if task not in TASK_CLASSES:
        raise ValueError(f"task must be one of {tuple(TASK_CLASSES)}. Received: task={task!r}")
    classes = TASK_CLASSES[task]
    table = table[table["label"].isin(classes)].reset_index(drop=True)
    table["label"] = pd.Categorical(table["label"], categories=list(classes))
    table["split"] = table["split"].astype(object).where(table["split"].notna(), None)
    if "age_group" not in table.columns:
        table["age_group"] = "unknown"
    if "view" not in table.columns:
        table["view"] = ""
    # Kermany is the pediatric Guangzhou set (ages 1-5): its file names say so.
    table.loc[(table["age_group"] == "unknown") & (table["source"] == "kermany"),
              "age_group"] = "child"
    return table.loc[:, list(TABLE_COLUMNS)]


def read_coronahack_csv(
    csv_path: Path | str, *, image_root: Path | str | None = None, task: str = "3class"
) -> pd.DataFrame:
    """Read a CSV in CoronaHack's columns (LungLens ``metadata.csv`` or Kaggle's file).

    Args:
        csv_path: The CSV.
        image_root: Where the images are. Default: ``images/`` next to the CSV if it exists,
            else the Kaggle folders ``Coronahack-Chest-XRay-Dataset/{train,test}`` (where the
            ``Dataset_type`` column picks the sub-folder), else the CSV's folder.
        task: ``"3class"`` or ``"covid-vs-normal"`` (pneumonia rows dropped).

    Returns:
        The table (see module docs).

    Raises:
        ValueError: If a required column is missing or a label is unknown.
    """
    csv_path = Path(csv_path).resolve()
    frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    frame.columns = [c.strip() for c in frame.columns]
    required = ("X_ray_image_name", "Label")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{csv_path} lacks column(s) {missing}; found {list(frame.columns)} "
            "(expected CoronaHack's columns)"
        )
    if "Unnamed: 0" in frame.columns:
        frame = frame.drop(columns="Unnamed: 0")
    label_2 = frame.get("Label_2_Virus_category", pd.Series([""] * len(frame)))
    labels = [class_from_coronahack(a, b) for a, b in zip(frame["Label"], label_2, strict=True)]
    splits = [
        (_clean(s).upper() or None) if _clean(s).upper() in ("TRAIN", "TEST", "") else "TRAIN"
        for s in frame.get("Dataset_type", pd.Series([""] * len(frame)))
    ]
    paths = _resolve_image_paths(csv_path, frame["X_ray_image_name"].tolist(), splits, image_root)
    names = frame["X_ray_image_name"].tolist()
    if "patient_id" in frame.columns:
        patients = [_clean(p) or derive_patient_id(n) for p, n in zip(frame["patient_id"], names,
                                                                       strict=True)]
    else:
        patients = [derive_patient_id(n) for n in names]
    if "source" in frame.columns:
        sources = [_clean(s) or _guess_source(n) for s, n in zip(frame["source"], names,
                                                                 strict=True)]
    else:
        sources = [_guess_source(n) for n in names]
    empty = pd.Series([""] * len(frame))
    age_groups = [normalise_age_group(g, a) for g, a in
                  zip(frame.get("age_group", empty), frame.get("age", empty), strict=True)]
    views = [normalise_view(v) for v in frame.get("view", empty)]
    table = pd.DataFrame({
        "path": paths, "label": labels, "split": splits, "patient_id": patients,
        "source": sources, "age_group": age_groups, "view": views,
    })
    return _finish(table, task)


def _guess_source(name: str) -> str:
    """Kermany names are recognisable; anything else is from an unnamed source."""
    return "kermany" if derive_patient_id(name, fallback=False) else "unknown"


def _resolve_image_paths(
    csv_path: Path, names: list[str], splits: list[str | None], image_root: Path | str | None
) -> list[str]:
    folder = csv_path.parent
    if image_root is not None:
        root = Path(image_root).resolve()
        return [str(root / name) for name in names]
    if (folder / "images").is_dir():
        return [str(folder / "images" / name) for name in names]
    kaggle = _find_kaggle_folder(folder)
    if kaggle is not None:
        return [
            str(kaggle / ("test" if split == "TEST" else "train") / name)
            for name, split in zip(names, splits, strict=True)
        ]
    return [str(folder / name) for name in names]


def _find_kaggle_folder(folder: Path) -> Path | None:
    """Find ``Coronahack-Chest-XRay-Dataset`` holding ``train``/``test`` (nested once or twice)."""
    candidate = folder / KAGGLE_FOLDER
    for _ in range(3):
        if not candidate.is_dir():
            return None
        if (candidate / "train").is_dir() or (candidate / "test").is_dir():
            return candidate
        candidate = candidate / KAGGLE_FOLDER
    return None


def read_class_folders(folder: Path | str, *, task: str = "3class") -> pd.DataFrame:
    """Read a folder-per-class layout, optionally inside ``train``/``test``/``val`` folders.

    Raises:
        ValueError: If no class folder is recognised, listing the folder names seen.
    """
    from desktop_app.core.image_loading import iter_image_files

    folder = Path(folder).resolve()
    rows: list[dict[str, object]] = []
    seen: list[str] = []

    def scan(base: Path, split: str | None) -> None:
        for child in sorted(p for p in base.iterdir() if p.is_dir()):
            seen.append(child.name)
            label = class_from_folder_name(child.name)
            if label is None:
                continue
            for file in iter_image_files(child):
                source = _guess_source(file.name)
                rows.append({
                    "path": str(file), "label": label, "split": split,
                    "patient_id": derive_patient_id(file.name),
                    "source": source,
                    "age_group": "unknown",
                    "view": "",
                })

    split_dirs = [p for p in folder.iterdir() if p.is_dir() and p.name.lower() in _SPLIT_FOLDERS]
    if split_dirs:
        for split_dir in sorted(split_dirs):
            scan(split_dir, _SPLIT_FOLDERS[split_dir.name.lower()])
    scan(folder, None)
    if not rows:
        raise ValueError(
            f"no class folders with images found in {folder}; folders seen: {sorted(set(seen))} "
            f"(expected e.g. NORMAL/, PNEUMONIA/, COVID-19/)"
        )
    return _finish(pd.DataFrame(rows, columns=list(TABLE_COLUMNS)), task)


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
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset path does not exist: {str(path)!r}")
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise ValueError(f"expected a dataset folder or a .csv file. Received: {str(path)!r}")
        return read_coronahack_csv(path, task=task)
    if (path / LUNGLENS_CSV).is_file():
        return read_coronahack_csv(path / LUNGLENS_CSV, task=task)
    if (path / KAGGLE_CSV).is_file():
        return read_coronahack_csv(path / KAGGLE_CSV, task=task)
    return read_class_folders(path, task=task)
