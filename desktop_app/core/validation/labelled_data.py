"""Labelled chest X-rays in the layouts LungLens reads, as plain rows (csv module, no pandas).

Supported layouts (detected by :func:`read_labelled`):

* **LungLens metadata folder**: ``metadata.csv`` in CoronaHack's columns (plus optional
  ``patient_id``, ``source``, ``age_group``/``age`` and ``view``) and an ``images/`` folder.
* **Kaggle CoronaHack**: ``Chest_xray_Corona_Metadata.csv`` and
  ``Coronahack-Chest-XRay-Dataset/{train,test}/`` (Kaggle nests that folder twice; both are
  found).
* **Folder per class**: ``NORMAL/``, ``PNEUMONIA/``, ``COVID-19/`` (case-insensitive, common
  synonyms), optionally inside ``train/``, ``test/``, ``val/`` sub-folders.
* **A CSV** in CoronaHack's columns anywhere (images next to it, or in ``images/``).

The layouts live in the core because a clinic validates the installed model on its own films
in the classify-only build, which ships neither pandas nor ``model_training``;
:mod:`model_training.datasets` builds its table from these rows, so the wizard, training and
local validation read a folder identically. ``age_group`` exists because a model that is
right on children and wrong on adults is wrong for a clinic; it is optional (``"unknown"``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.validation.patient_ids import derive_patient_id

__all__ = [
    "ADULT_AGE",
    "AGE_GROUPS",
    "CLASSES_3",
    "KAGGLE_CSV",
    "KAGGLE_FOLDER",
    "LUNGLENS_CSV",
    "TASK_CLASSES",
    "LabelledImage",
    "class_from_coronahack",
    "class_from_folder_name",
    "guess_source",
    "normalise_age_group",
    "normalise_view",
    "read_class_folder_rows",
    "read_coronahack_rows",
    "read_labelled",
]

CLASSES_3: tuple[str, ...] = ("Normal", "Pneumonia", "COVID-19")
TASK_CLASSES: dict[str, tuple[str, ...]] = {
    "3class": CLASSES_3,
    "covid-vs-normal": ("Normal", "COVID-19"),
}
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


@dataclass(frozen=True)
class LabelledImage:
    """One labelled film.

    Attributes:
        path: Absolute path of the image file.
        label: Class name (one of :data:`CLASSES_3`).
        split: ``"TRAIN"``, ``"TEST"`` or None (the layout did not say).
        patient_id: Patient key (all films of a patient resample together).
        source: Where the film comes from (a CSV's ``source`` column, else a guess).
        age_group: ``"child"``, ``"adult"`` or ``"unknown"``.
        view: ``"AP"``, ``"PA"`` or ``""``.
    """

    path: str
    label: str
    split: str | None
    patient_id: str
    source: str
    age_group: str
    view: str


def _norm_key(name: str) -> str:
    return re.sub(r"[\s_]+", "-", name.strip().lower())


def _clean(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return ""
    return str(value).strip()


def class_from_folder_name(name: str) -> str | None:
    """Map a class folder name (``NORMAL``, ``Covid19``, ``viral pneumonia``...) to a class."""
    return _FOLDER_SYNONYMS.get(_norm_key(name))


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


def guess_source(name: str) -> str:
    """Kermany names are recognisable; anything else is from an unnamed source."""
    return "kermany" if derive_patient_id(name, fallback=False) else "unknown"


def _known_age(rows: Iterable[LabelledImage]) -> list[LabelledImage]:
    """Kermany is the pediatric Guangzhou set (ages 1-5): its file names say so."""
    return [
        LabelledImage(r.path, r.label, r.split, r.patient_id, r.source, "child", r.view)
        if r.age_group == "unknown" and r.source == "kermany" else r
        for r in rows
    ]


def read_coronahack_rows(csv_path: Path | str, *,
                         image_root: Path | str | None = None) -> list[LabelledImage]:
    """Read a CSV in CoronaHack's columns (LungLens ``metadata.csv`` or Kaggle's file).

    Args:
        csv_path: The CSV (UTF-8, a byte-order mark is accepted).
        image_root: Where the images are. Default: ``images/`` next to the CSV if it exists,
            else the Kaggle folders ``Coronahack-Chest-XRay-Dataset/{train,test}`` (where the
            ``Dataset_type`` column picks the sub-folder), else the CSV's folder.

    Returns:
        One row per CSV line, in file order.

    Raises:
        ValueError: If a required column is missing, a label is unknown or the file is not
            text, naming the file.
    """
    csv_path = Path(csv_path).resolve()
    records = _coronahack_records(csv_path)
    names = [record["X_ray_image_name"] for record in records]
    labels = []
    for number, record in enumerate(records, start=2):
        try:
            labels.append(class_from_coronahack(record["Label"],
                                                record.get("Label_2_Virus_category", "")))
        except ValueError as error:
            raise ValueError(f"{csv_path}, line {number}: {error}") from None
    splits = [
        (_clean(s).upper() or None) if _clean(s).upper() in ("TRAIN", "TEST", "") else "TRAIN"
        for s in (record.get("Dataset_type", "") for record in records)
    ]
    paths = _resolve_image_paths(csv_path, names, splits, image_root)
    rows = [
        LabelledImage(
            path=path,
            label=label,
            split=split,
            patient_id=_clean(record.get("patient_id")) or derive_patient_id(name),
            source=_clean(record.get("source")) or guess_source(name),
            age_group=normalise_age_group(record.get("age_group", ""), record.get("age", "")),
            view=normalise_view(record.get("view", "")),
        )
        for record, name, label, split, path in zip(records, names, labels, splits, paths,
                                                    strict=True)
    ]
    return _known_age(rows)


def _coronahack_records(csv_path: Path) -> list[dict[str, str]]:
    """The CSV's non-empty lines as column -> value (short lines padded with "")."""
    try:
        with open(csv_path, encoding="utf-8-sig", newline="") as stream:
            reader = csv.reader(stream)
            header = [name.strip() for name in next(reader, [])]
            lines = [line for line in reader if any(cell.strip() for cell in line)]
    except UnicodeDecodeError as error:
        raise ValueError(f"{csv_path} is not a UTF-8 text CSV ({error.reason} at byte "
                         f"{error.start})") from error
    except csv.Error as error:
        raise ValueError(f"{csv_path} is not a readable CSV: {error}") from error
    missing = [c for c in ("X_ray_image_name", "Label") if c not in header]
    if missing:
        raise ValueError(
            f"{csv_path} lacks column(s) {missing}; found {header} "
            "(expected CoronaHack's columns)"
        )
    return [dict(zip(header, line + [""] * (len(header) - len(line)), strict=False))
            for line in lines]


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


def read_class_folder_rows(folder: Path | str) -> list[LabelledImage]:
    """Read a folder-per-class layout, optionally inside ``train``/``test``/``val`` folders.

    Raises:
        ValueError: If no class folder with images is recognised, listing the folder names
            seen.
    """
    from desktop_app.core.imaging import iter_image_files

    folder = Path(folder).resolve()
    rows: list[LabelledImage] = []
    seen: list[str] = []

    def scan(base: Path, split: str | None) -> None:
        for child in sorted(p for p in base.iterdir() if p.is_dir()):
            seen.append(child.name)
            label = class_from_folder_name(child.name)
            if label is None:
                continue
            for file in iter_image_files(child):
                rows.append(LabelledImage(
                    path=str(file), label=label, split=split,
                    patient_id=derive_patient_id(file.name) or file.stem,
                    source=guess_source(file.name), age_group="unknown", view="",
                ))

    split_dirs = [p for p in folder.iterdir() if p.is_dir() and p.name.lower() in _SPLIT_FOLDERS]
    for split_dir in sorted(split_dirs):
        scan(split_dir, _SPLIT_FOLDERS[split_dir.name.lower()])
    scan(folder, None)
    if not rows:
        raise ValueError(
            f"no class folders with images found in {folder}; folders seen: {sorted(set(seen))} "
            f"(expected e.g. NORMAL/, PNEUMONIA/, COVID-19/)"
        )
    return _known_age(rows)


def read_labelled(path: Path | str) -> list[LabelledImage]:
    """Read labelled films in any supported layout (see module docs).

    Args:
        path: A dataset folder, or a CSV in CoronaHack's columns.

    Returns:
        The rows, every class included (a task filters its own classes).

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
        return read_coronahack_rows(path)
    if (path / LUNGLENS_CSV).is_file():
        return read_coronahack_rows(path / LUNGLENS_CSV)
    if (path / KAGGLE_CSV).is_file():
        return read_coronahack_rows(path / KAGGLE_CSV)
    return read_class_folder_rows(path)
