"""A fingerprint of the labelled images a figure was measured on.

Figures are only reproducible on the same images with the same labels. When a dataset grows
or is relabelled, yesterday's figures no longer describe today's files; comparing
fingerprints tells "the model changed" apart from "the data changed". The model card's TEST
figures and every local validation are fingerprinted the same way, so a clinic can tell
whether two validations ran on the same films.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["FINGERPRINT_OF", "file_sha1", "images_fingerprint"]

FINGERPRINT_OF = ("sha256 of the sorted lines 'file name<TAB>class<TAB>sha1 of the file' of "
                  "the evaluated images")
_CHUNK = 1 << 20


def file_sha1(path: Path | str) -> str:
    """sha1 of a file's content (read in 1 MB chunks, so large DICOMs cost no memory)."""
    digest = hashlib.sha1()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def images_fingerprint(paths: Sequence[str | Path], labels: Sequence[str],
                       file_hashes: Sequence[str]) -> dict[str, Any]:
    """Fingerprint of labelled images, independent of their order and folder.

    Args:
        paths: The image files (only the file name counts: a copied folder keeps its print).
        labels: Class name per image.
        file_hashes: sha1 of each file's content (:func:`file_sha1`), aligned with ``paths``.

    Returns:
        ``{"images", "sha256", "of"}``.

    Raises:
        ValueError: If the lengths differ, quoting them.
    """
    if not len(paths) == len(labels) == len(file_hashes):
        raise ValueError(f"{len(paths)} paths, {len(labels)} labels and {len(file_hashes)} file "
                         "hashes: they must be aligned")
    lines = sorted(
        f"{Path(str(path)).name}\t{label}\t{sha}"
        for path, label, sha in zip(paths, labels, file_hashes, strict=True)
    )
    digest = hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
    return {"images": len(lines), "sha256": digest, "of": FINGERPRINT_OF}
