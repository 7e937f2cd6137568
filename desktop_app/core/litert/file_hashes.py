"""Reading a model's card, and checking a folder against its card (sha256 of every file).

The classifier bundle, the view model and the lung segmenter are all verified at load against
the sha256 their card records, so a corrupted download, a half-copied install or a replaced
file is refused with the file named instead of producing wrong answers. One implementation
serves all three.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from desktop_app.core.errors import ModelBundleError
from desktop_app.core.hashing import sha256_file

__all__ = ["read_card_json", "verify_listed_files"]


def read_card_json(path: Path, *, card_format: str, what: str) -> dict[str, Any]:
    """Read a card file that must be a JSON object of the given ``format``.

    Args:
        path: The card file.
        card_format: The ``format`` value this version reads.
        what: How messages name the card ("view model card").

    Raises:
        ModelBundleError: Naming the file, if it is missing, unreadable, not an object or of
            another format.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ModelBundleError(path, f"{what} is missing") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelBundleError(path, f"{what} cannot be read: {error}") from error
    if not isinstance(data, dict):
        raise ModelBundleError(path, f"{what} is not a JSON object")
    if data.get("format") != card_format:
        raise ModelBundleError(
            path, f"{what} format is {data.get('format')!r}, this LungLens version reads "
                  f"{card_format!r}")
    return data


def verify_listed_files(
    folder: Path, files: Mapping[str, str], *, card: str, verify_hashes: bool = True
) -> None:
    """Check that every file a card lists sits in ``folder`` with the recorded sha256.

    Args:
        folder: The model folder.
        files: The card's ``files`` section: file name -> hex sha256.
        card: How messages name the card ("model card", "view card").
        verify_hashes: Also hash the files (False: existence only, for quick listings).

    Raises:
        ModelBundleError: Naming the file, if a listed name leaves the folder, a file is
            missing, or its sha256 differs from the card's.
    """
    for name, expected in files.items():
        file_path = folder / name
        if Path(name).name != name:
            raise ModelBundleError(folder, f"{card} lists a file outside the folder: {name!r}")
        if not file_path.is_file():
            raise ModelBundleError(file_path, f"file {name!r} listed in the {card} is missing")
        if verify_hashes:
            actual = sha256_file(file_path)
            if actual != expected:
                raise ModelBundleError(
                    file_path,
                    f"sha256 of {name!r} is {actual[:16]}..., the {card} records "
                    f"{expected[:16]}...: the file is corrupted or was replaced",
                )
