"""Folder expansion: which files under a folder are images (by content or by name)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from desktop_app.core.imaging.sniffing import sniff_format

__all__ = ["IMAGE_SUFFIXES", "iter_image_files"]

#: Suffixes (lower case, with the dot) of files that are named as images. Content still decides
#: the format; :func:`iter_image_files` uses the suffix only to *report* an image-named file
#: that turns out broken instead of silently skipping it. ``""`` is deliberately absent: an
#: extensionless file is yielded only if its content is an image (typical for DICOM).
IMAGE_SUFFIXES: frozenset[str] = frozenset({
    ".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".dib", ".tif", ".tiff", ".gif",
    ".webp", ".dcm", ".dicom", ".dic", ".ima",
})


def iter_image_files(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield the image files under ``folder``, recursively, in sorted order.

    A file is yielded if its content is a supported image (so an extensionless DICOM is found
    and a ``.txt`` is skipped) or if it is *named* as an image (suffix in
    :data:`IMAGE_SUFFIXES`): a broken ``scan.png`` then reaches :func:`load_image`, which says
    what is wrong with it, instead of vanishing from the list. Hidden files and folders (name
    starting with ``"."``, or the Windows hidden attribute) are skipped; symbolic links to
    folders are not followed, to avoid cycles.

    Args:
        folder: The folder to scan.

    Yields:
        Paths of candidate images, sorted by their path components (folders depth-first).

    Raises:
        NotADirectoryError: If ``folder`` is not an existing folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder: {str(root)!r}")
    for file in _walk_files(root):
        if file.suffix.lower() in IMAGE_SUFFIXES or sniff_format(file) is not None:
            yield file



def _is_hidden(entry: os.DirEntry[str]) -> bool:
    if entry.name.startswith("."):
        return True
    attributes = getattr(entry.stat(follow_symlinks=False), "st_file_attributes", 0)
    return bool(attributes & getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 0))


def _walk_files(directory: Path) -> Iterator[Path]:
    """Yield regular files under ``directory`` depth-first, each level sorted by name."""
    try:
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError:
        return  # unreadable folder: nothing to list
    for entry in entries:
        try:
            if _is_hidden(entry):
                continue
            if entry.is_dir(follow_symlinks=False):
                yield from _walk_files(Path(entry.path))
            elif entry.is_file():
                yield Path(entry.path)
        except OSError:
            continue

