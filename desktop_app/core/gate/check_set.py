"""TEMPORARY: replaced by the helper's module at merge."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.errors import LungLensError
from desktop_app.core.locations import resources_dir


@dataclass(frozen=True)
class CheckCase:
    path: Path
    category: str
    description: str
    held_out: bool
    group: str


class CheckSetError(LungLensError):
    pass


def check_set_dir() -> Path:
    return resources_dir() / "non_chest_check"


def load_check_set(folder: Path | None = None, *, verify: bool = True) -> list[CheckCase]:
    folder = Path(folder) if folder is not None else check_set_dir()
    data = json.loads((folder / "manifest.json").read_text())
    return [CheckCase(folder / e["path"], e["category"], e["description"], e["held_out"],
                      e["group"]) for e in data["files"]]
