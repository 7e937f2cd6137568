"""Loading a verified model folder: the folder, its card, every listed file's sha256.

The classifier bundle (:func:`desktop_app.core.model.model_bundle.load_bundle`) and the lung
segmenter (:func:`desktop_app.core.classify.lung_fields.load_lung_segmenter`) load their
folders through :func:`load_model_folder`, so the steps (the folder exists, the card reads and
validates, the card's own checks pass, each listed file is there with the recorded sha256) and
their messages are written once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol, TypeVar

from desktop_app.core.errors import ModelBundleError
from desktop_app.core.litert.file_hashes import verify_listed_files

__all__ = ["load_model_folder"]


class _Card(Protocol):
    @property
    def files(self) -> Mapping[str, str]: ...


CardT = TypeVar("CardT", bound=_Card)


def load_model_folder(
    path: Path | str,
    *,
    card_file: str,
    read_card: Callable[[Path], CardT],
    what: str,
    card_name: str,
    check: Callable[[Path, CardT], None] | None = None,
    verify_hashes: bool = True,
) -> tuple[Path, CardT]:
    """Read and verify a model folder; return the folder and its card.

    Args:
        path: The folder.
        card_file: The card's file name in the folder.
        read_card: Reads and validates the card file (raises :class:`ModelBundleError`).
        what: How messages name the folder ("model", "lung segmenter").
        card_name: How messages name the card ("model card").
        check: The card's further checks, run before any file is hashed.
        verify_hashes: Check each listed file's sha256 (False: existence only).

    Raises:
        ModelBundleError: If the folder, the card or a listed file is missing, invalid or
            altered.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ModelBundleError(folder, f"{what} folder does not exist or is not a folder")
    card = read_card(folder / card_file)
    if check is not None:
        check(folder, card)
    verify_listed_files(folder, card.files, card=card_name, verify_hashes=verify_hashes)
    return folder, card
