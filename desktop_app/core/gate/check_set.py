"""The non-chest check set shipped with LungLens: images the gate must refuse.

Site calibration has to show, on the workstation itself, that the out-of-distribution gate
still refuses photos, screenshots, documents, CT/MR slices and other radiographs. A clinic
workstation has no network and the classify-only build has neither scikit-image nor
matplotlib to draw such images, so a reduced copy of the generated set
(:mod:`model_training.non_chest`) ships in ``resources/non_chest_check/`` with a
``manifest.json`` that names, describes and hashes every file. This module only reads that
manifest (stdlib only), so it works in every build; the images are opened by whoever uses
the cases, through the normal image loader.

A damaged installation must not silently calibrate on fewer or altered images, so
:func:`load_check_set` verifies every file's sha256 by default and raises
:class:`CheckSetError` naming the file and what is wrong with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.errors import LungLensError
from desktop_app.core.hashing import sha256_file
from desktop_app.core.locations import resources_dir

__all__ = [
    "MANIFEST_FILE",
    "CheckCase",
    "CheckSetError",
    "check_set_dir",
    "load_check_set",
]

#: The manifest's file name inside the check-set folder.
MANIFEST_FILE = "manifest.json"
_CASE_KEYS = ("path", "category", "description", "held_out", "group", "sha256")


@dataclass(frozen=True)
class CheckCase:
    """One image of the check set.

    Attributes:
        path: The image file (absolute: inside the check-set folder).
        category: One of :data:`model_training.non_chest.CATEGORIES`.
        description: What the image is, for a report.
        held_out: True for the half that is reported and never used to tune anything.
        group: The image's source; all images of a group share a half.
    """

    path: Path
    category: str
    description: str
    held_out: bool
    group: str


class CheckSetError(LungLensError):
    """The shipped check set is missing, unreadable or damaged.

    Attributes:
        path: The manifest or image file at fault.
        reason: What is wrong with it, quoting the bad value.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"non-chest check set at {self.path}: {reason}")


def check_set_dir() -> Path:
    """The check set shipped with the program (inside the frozen build's resources too)."""
    return resources_dir() / "non_chest_check"


def load_check_set(folder: Path | None = None, *, verify: bool = True) -> list[CheckCase]:
    """Read the check set's manifest and, by default, verify every file against it.

    Args:
        folder: The check-set folder (default: :func:`check_set_dir`).
        verify: Check that each file exists and has the manifest's sha256. Off only where the
            caller verifies otherwise (a hash of ~200 small files takes a few milliseconds,
            so there is rarely a reason).

    Returns:
        One case per manifest entry, in the manifest's order.

    Raises:
        CheckSetError: If the manifest is missing or not valid JSON, an entry is malformed or
            points outside the folder, or (with ``verify``) a file is missing or its sha256
            differs from the manifest's.
    """
    folder = Path(folder) if folder is not None else check_set_dir()
    manifest = folder / MANIFEST_FILE
    try:
        text = manifest.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CheckSetError(manifest, "the manifest is missing") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CheckSetError(manifest, f"the manifest cannot be read ({error})") from error
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise CheckSetError(manifest, f"the manifest is not valid JSON ({error})") from error
    entries = document.get("files") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise CheckSetError(manifest, "the manifest has no non-empty 'files' list")
    root = folder.resolve()
    cases = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or any(key not in entry for key in _CASE_KEYS):
            raise CheckSetError(manifest, f"entry {index} needs the keys {list(_CASE_KEYS)}. "
                                          f"Received: {entry!r}")
        relative = str(entry["path"])
        path = folder / relative
        if Path(relative).is_absolute() or root not in path.resolve().parents:
            raise CheckSetError(manifest, f"entry {index} points outside the folder: "
                                          f"{relative!r}")
        if verify:
            if not path.is_file():
                raise CheckSetError(path, f"the file {relative!r} listed in the manifest is "
                                          "missing")
            actual = sha256_file(path)
            if actual != entry["sha256"]:
                raise CheckSetError(path, f"the file {relative!r} is damaged: sha256 {actual} "
                                          f"differs from the manifest's {entry['sha256']!r}")
        cases.append(CheckCase(path, str(entry["category"]), str(entry["description"]),
                               bool(entry["held_out"]), str(entry["group"])))
    return cases
