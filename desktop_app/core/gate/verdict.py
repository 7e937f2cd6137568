"""The gate's answer for one image, shared by every check, and the two-tier rule of a check.

A check whose value is beyond its usual limit used to refuse the film. Real frontal films from
a hospital the model never saw (portable AP films with lines and tubes, a little rotation, the
upper abdomen in the field) land just beyond those limits: refusing them turns away the
sickest patients. A check may therefore have a second, wider *refusal limit*: between the two
the film gets its label **with a caution**, beyond the refusal limit it is refused as before.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["OodVerdict", "Tier", "tier"]


@dataclass(frozen=True)
class OodVerdict:
    """Outcome of the gate (or of one check) for one image.

    Attributes:
        out_of_distribution: True when the image must not be labelled.
        reason: Why, in plain words (``None`` when in distribution).
        distance: Mahalanobis distance of its features (``None`` if the model did not run).
        caution: Why an accepted image is unusual, in plain words (``None`` when it is not);
            never set together with ``out_of_distribution``: a refusal needs no caution.
        values: Each check's measured value (``"frontal_probability"``, ``"layout"``,
            ``"orientation"`` (the score), ``"global"``, ``"texture"``, ``"features"``), so a
            benchmark can count which tier a film falls in without recomputing them.
        if_frontal: For a refusal by a distance check (the film is unlike the training
            films, which does not say it is not a chest film): the caution it becomes when
            the view check is confident the film is a whole frontal chest film
            (:meth:`desktop_app.core.gate.gate.Gate.combine`). ``None`` for other verdicts.
        refused_by: The distance checks past their refusal limit (``"layout"``,
            ``"orientation"``, ``"global"``, ``"texture"``, ``"features"``): the agreement
            rule counts the voices against a film, not only the first.
    """

    out_of_distribution: bool
    reason: str | None
    distance: float | None = None
    caution: str | None = None
    values: Mapping[str, float] = field(default_factory=dict, compare=False)
    if_frontal: str | None = field(default=None, compare=False)
    refused_by: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.out_of_distribution and self.caution is not None:
            raise ValueError(f"a refused image carries no caution. Received: {self.caution!r}")


class Tier(enum.Enum):
    """Where a check's value lies: within the usual limit, between the limits, beyond."""

    PASS = "pass"
    CAUTION = "caution"
    REFUSE = "refuse"


def tier(value: float, limit: float, refusal_limit: float | None) -> Tier:
    """The tier of a "larger is more unusual" value (negate scores where smaller is worse).

    Args:
        value: The check's value (a non-finite value always refuses: nothing was measured).
        limit: The usual limit (a value above it is unusual).
        refusal_limit: The limit above which the image is refused; ``None`` refuses at
            ``limit`` (cards without refusal limits behave as before).
    """
    if not math.isfinite(value):
        return Tier.REFUSE
    if value <= limit:
        return Tier.PASS
    if refusal_limit is not None and value <= refusal_limit:
        return Tier.CAUTION
    return Tier.REFUSE
