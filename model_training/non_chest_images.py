"""The shared real CT, MR and ultrasound images, split by case into trained and held out.

``../shared/datasets/views/non_chest/`` holds real images LungLens must refuse. The view model
learns from part of them; the rest are the development estimate of how the gate does on such
images. One split, used by training (:mod:`model_training.view_model`) and by the
measurements (``benchmarks/ood_eval.py``), so a figure is never measured on a trained case:

* rows whose ``use`` is ``evaluation only`` (CC BY-NC licences) are never trained on and never
  ship, weights included: they are always held out;
* the other rows are split by ``case_id`` (slices of one patient stay together): within each
  (source, kind, body region) the cases are ordered by a seeded hash and two of every five
  are held out, so every kind of image has held-out cases; all slices of a case (axial and
  reformats) fall on the same side.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CATEGORY_OF_KIND",
    "NonChestImage",
    "family_of",
    "read_non_chest",
]

#: Uses that allow training (and shipping derived weights or images).
_TRAINABLE_USE = "training or evaluation"
#: Of every five cases of a group, these positions are held out.
_HELD_OUT_POSITIONS = (0, 2)
#: The per-category table's name for each kind (CT chest vs other regions: see category).
CATEGORY_OF_KIND = {"CT slice": "CT", "MR slice": "MR", "ultrasound": "ultrasound"}


@dataclass(frozen=True)
class NonChestImage:
    """One real non-chest image.

    Attributes:
        path: The image file.
        kind: ``CT slice``, ``MR slice`` or ``ultrasound``.
        family: ``ct``, ``mr`` or ``us`` (what leave-one-category-out leaves out).
        category: ``CT chest``, ``CT other``, ``MR`` or ``ultrasound`` (the report's rows).
        case_id: Patient or case key.
        plane: ``axial``, ``coronal reformat``, ``sagittal reformat`` or ``lung ultrasound``.
        source: The collection.
        trainable: The licence allows training on it (and shipping it).
        licence: The image's licence as its source states it.
        notes: The metadata's notes (for ultrasound: the per-file source to attribute).
        held_out: Never trained on (evaluation-only rows always are).
        description: Kind, plane, region and source in words.
    """

    path: Path
    kind: str
    family: str
    category: str
    case_id: str
    plane: str
    source: str
    trainable: bool
    held_out: bool
    licence: str
    description: str
    notes: str = ""


def family_of(kind: str) -> str:
    """``ct``, ``mr`` or ``us`` for a metadata ``kind``.

    Raises:
        ValueError: For a kind this program does not know.
    """
    families = {"CT slice": "ct", "MR slice": "mr", "ultrasound": "us"}
    if kind not in families:
        raise ValueError(f"unknown non-chest image kind {kind!r}; expected one of "
                         f"{sorted(families)}")
    return families[kind]


def _fraction(key: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def read_non_chest(folder: Path | str, *, seed: int = 2026) -> list[NonChestImage]:
    """Read ``metadata.csv`` of a non-chest folder and split it by case.

    Args:
        folder: The folder with ``metadata.csv`` and ``images/``.
        seed: Seed of the case order (the same seed gives the same split).

    Returns:
        One entry per row, in the file's order.

    Raises:
        ValueError: If the metadata file is missing, lacks a column or names a missing image.
    """
    folder = Path(folder)
    metadata = folder / "metadata.csv"
    try:
        with metadata.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError as error:
        raise ValueError(f"{metadata}: metadata file not found") from error
    needed = ("X_ray_image_name", "kind", "use", "source", "case_id", "plane", "body_region")
    for row in rows[:1]:
        missing = [name for name in needed if name not in row]
        if missing:
            raise ValueError(f"{metadata}: missing columns {missing}")
    # A case belongs to the group of its first row: all slices of a patient (axial and
    # reformats) fall on one side of the split.
    groups: dict[tuple[str, str, str], list[str]] = {}
    grouped: set[str] = set()
    for row in rows:
        if row["use"].strip() == _TRAINABLE_USE and row["case_id"] not in grouped:
            grouped.add(row["case_id"])
            key = (row["source"], row["kind"], row["body_region"])
            groups.setdefault(key, []).append(row["case_id"])
    held_cases = set()
    for cases in groups.values():
        ordered = sorted(cases, key=lambda case: _fraction(case, seed))
        held_cases.update(case for position, case in enumerate(ordered)
                          if position % 5 in _HELD_OUT_POSITIONS)
    images = []
    for row in rows:
        path = folder / "images" / row["X_ray_image_name"]
        if not path.is_file():
            raise ValueError(f"{metadata}: image {row['X_ray_image_name']!r} is missing")
        kind = row["kind"].strip()
        trainable = row["use"].strip() == _TRAINABLE_USE
        region = row["body_region"].strip()
        category = CATEGORY_OF_KIND.get(kind, kind)
        if category == "CT":
            category = "CT chest" if region.startswith("chest") else "CT other"
        images.append(NonChestImage(
            path=path, kind=kind, family=family_of(kind), category=category,
            case_id=row["case_id"], plane=row["plane"].strip(), source=row["source"],
            trainable=trainable,
            licence=row.get("license", "").strip() or "licence not stated",
            notes=row.get("notes", "").strip(),
            held_out=not trainable or row["case_id"] in held_cases,
            description=f"{kind}, {row['plane']}, {region or 'unknown region'} "
                        f"({row['source']})"))
    return images
