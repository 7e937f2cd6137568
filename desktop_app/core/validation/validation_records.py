"""Stored validation records: where they live and how they are read back.

Kept apart from :mod:`desktop_app.core.validation.validation` (which imports the whole
classify path) so that the model card, opened with the main window, can list a model's
validations without loading Pillow, pydicom or LiteRT at start-up.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop_app.core.locations import user_data_dir

__all__ = ["RECORD_FORMAT", "StoredValidation", "stored_validations", "validations_dir"]

_log = logging.getLogger(__name__)

#: Version of the record's layout
#(:meth:`desktop_app.core.validation.validation.ValidationResult.to_json`).
RECORD_FORMAT = 1


def validations_dir() -> Path:
    """Where validation records are kept (per user, never in the install folder)."""
    return user_data_dir() / "validations"


@dataclass(frozen=True)
class StoredValidation:
    """A validation record read back from the user data folder.

    Attributes:
        path: The JSON file.
        record: Its content (see :meth:`ValidationResult.to_json`).
    """

    path: Path
    record: dict[str, Any] = field(repr=False)

    @property
    def created(self) -> str:
        """ISO 8601 time of the validation."""
        return str(self.record.get("created", ""))

    @property
    def dataset(self) -> str:
        """The folder or CSV's name."""
        return Path(str(self.record.get("data_path", ""))).name or "?"


def stored_validations(model_id: str | None = None) -> list[StoredValidation]:
    """Stored validations, newest first (of ``model_id`` only, when given).

    A record that cannot be read (edited by hand, a disk error) is skipped and logged: a
    broken record must not stop the model card from opening.
    """
    folder = validations_dir()
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            _log.warning("skipping unreadable validation record %s: %s", path, error)
            continue
        if not isinstance(record, dict) or not isinstance(record.get("metrics"), dict):
            _log.warning("skipping validation record %s: not a LungLens validation", path)
            continue
        if model_id is None or record.get("model_id") == model_id:
            found.append(StoredValidation(path, record))
    found.sort(key=lambda stored: stored.created, reverse=True)
    return found
