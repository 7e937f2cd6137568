"""A fingerprint of the rows a figure was measured on.

A model card's test figures are only reproducible on the same images with the same labels.
When the dataset grows or is relabelled, the split's TEST rows change and yesterday's figures
no longer describe today's TEST split; comparing fingerprints tells "the model changed" apart
from "the data changed", and says so instead of failing with a puzzling difference.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["FINGERPRINT_OF", "rows_fingerprint"]

FINGERPRINT_OF = ("sha256 of the sorted lines 'file name<TAB>class<TAB>sha1 of the file' of "
                  "the evaluated images")


def rows_fingerprint(rows: pd.DataFrame, file_sha1: Sequence[str]) -> dict[str, Any]:
    """Fingerprint of ``rows`` (a dataset table) whose files hash to ``file_sha1``.

    Args:
        rows: Table rows with ``path`` and ``label``, in any order.
        file_sha1: sha1 of each row's file content, aligned with ``rows``.

    Returns:
        ``{"images", "sha256", "of"}``.

    Raises:
        ValueError: If the lengths differ, quoting both.
    """
    if len(rows) != len(file_sha1):
        raise ValueError(f"{len(rows)} rows but {len(file_sha1)} file hashes")
    lines = sorted(
        f"{Path(str(path)).name}\t{label}\t{sha}"
        for path, label, sha in zip(rows["path"], rows["label"].astype(str), file_sha1,
                                    strict=True)
    )
    digest = hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
    return {"images": len(lines), "sha256": digest, "of": FINGERPRINT_OF}
