"""The gate's answer for one image, shared by every check."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OodVerdict"]


@dataclass(frozen=True)
class OodVerdict:
    """Outcome of the gate for one image.

    Attributes:
        out_of_distribution: True when the image must not be labelled.
        reason: Why, in plain words (``None`` when in distribution).
        distance: Mahalanobis distance of its features (``None`` if the model did not run).
    """

    out_of_distribution: bool
    reason: str | None
    distance: float | None = None

