"""A fingerprint of the rows a figure was measured on.

The rows are fingerprinted by :mod:`desktop_app.core.validation.data_fingerprint`.

A model card's test figures are only reproducible on the same images with the same labels.
The fingerprint itself is computed in the core (2026-12-01), where local validation of the
installed model computes the same print without pandas; this adapts a dataset table to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from desktop_app.core.validation.data_fingerprint import (
    FINGERPRINT_OF,
    images_fingerprint,
)

__all__ = ["FINGERPRINT_OF", "rows_fingerprint"]


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
    return images_fingerprint(rows["path"].tolist(), rows["label"].astype(str).tolist(),
                              file_sha1)
