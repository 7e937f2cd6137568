"""Turning calibrated probabilities into a decision at the model's operating point.

The card's ``decision`` section holds::

    {
      "priority": ["COVID-19", "Pneumonia"],     # checked in this order
      "thresholds": {"COVID-19": 0.31, "Pneumonia": 0.45},
      "min_confidence": 0.55,                      # below: "uncertain"
      "strict_thresholds": true,                   # optional (cards from 2026-12-06 on)
      "operating_point": {...}                     # measured figures, for display only
    }

A finding whose probability reaches its threshold wins, in ``priority`` order (so the operating
point favours sensitivity for disease, as chosen on the validation split); otherwise the most
probable class. With ``strict_thresholds`` a finding below its threshold is never the answer,
even when it is the most probable class: the most probable class *without* a threshold is
(Normal, for the three classes). That is the one-vs-rest rule the thresholds are chosen by, and
the only way a threshold above one third can bind: a COVID-19 threshold raised for sites the
model never saw (docs/operating_point.md) must not be undone by "COVID-19 is still the most
probable class". The result is *uncertain* when the chosen class is not confidently ahead.
Uncertainty is shown, never hidden: an uncertain result still carries its label and all
probabilities, so a clinician sees why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Decision", "decide", "validate_decision_spec"]


@dataclass(frozen=True)
class Decision:
    """The model's answer for one image.

    Attributes:
        label: The class chosen at the operating point.
        uncertain: True when no class is confidently ahead (see module docs).
        reason: One sentence explaining the choice, shown in the UI.
    """

    label: str
    uncertain: bool
    reason: str


def validate_decision_spec(spec: Mapping[str, Any], classes: Sequence[str]) -> None:
    """Check a card's ``decision`` section against its classes.

    Raises:
        ValueError: Naming the bad key or value.
    """
    for key in ("priority", "thresholds", "min_confidence"):
        if key not in spec:
            raise ValueError(f"decision section is missing {key!r}")
    unknown = [c for c in spec["priority"] if c not in classes]
    unknown += [c for c in spec["thresholds"] if c not in classes]
    if unknown:
        raise ValueError(f"decision section names unknown class(es) {unknown}; classes: {classes}")
    for name, value in spec["thresholds"].items():
        if not isinstance(value, int | float) or not 0.0 < float(value) <= 1.0:
            raise ValueError(f"decision threshold for {name!r} must be in (0, 1]: {value!r}")
    confidence = spec["min_confidence"]
    if not isinstance(confidence, int | float) or not 0.0 <= float(confidence) < 1.0:
        raise ValueError(f"decision min_confidence must be in [0, 1): {confidence!r}")
    strict = spec.get("strict_thresholds", False)
    if not isinstance(strict, bool):
        raise ValueError(f"decision strict_thresholds must be true or false: {strict!r}")
    if strict and not [c for c in classes if c not in spec["thresholds"]]:
        raise ValueError("decision strict_thresholds needs a class without a threshold to "
                         f"fall back to; thresholds: {sorted(spec['thresholds'])}")


def decide(
    probabilities: Sequence[float] | np.ndarray,
    classes: Sequence[str],
    spec: Mapping[str, Any],
) -> Decision:
    """Apply the operating point in ``spec`` to one image's calibrated probabilities.

    Args:
        probabilities: Calibrated probabilities in the order of ``classes``.
        classes: Class names.
        spec: The card's ``decision`` section (validated by :func:`validate_decision_spec`).

    Returns:
        The decision.
    """
    probs = {name: float(p) for name, p in zip(classes, probabilities, strict=True)}
    thresholds = {k: float(v) for k, v in spec["thresholds"].items()}
    min_confidence = float(spec["min_confidence"])
    ranked = sorted(probs, key=probs.__getitem__, reverse=True)
    top = ranked[0]
    for name in spec["priority"]:
        if name in thresholds and probs[name] >= thresholds[name]:
            uncertain = probs[name] < min_confidence
            reason = (
                f"{name} probability {probs[name]:.0%} reaches the operating threshold "
                f"{thresholds[name]:.0%}"
            )
            if uncertain:
                reason += f", but is below {min_confidence:.0%}: treat as uncertain"
            return Decision(label=name, uncertain=uncertain, reason=reason)
    if spec.get("strict_thresholds", False):
        top = next(name for name in ranked if name not in thresholds)
        missed = ", ".join(f"{name} {probs[name]:.0%} < {thresholds[name]:.0%}"
                           for name in spec["priority"] if name in thresholds)
        uncertain = probs[top] < min_confidence
        reason = f"no finding reaches its operating threshold ({missed}): {top}"
        if uncertain:
            reason += f" ({probs[top]:.0%}, below the {min_confidence:.0%} needed to be " \
                      "confident)"
        return Decision(label=top, uncertain=uncertain, reason=reason)
    uncertain = probs[top] < min_confidence
    reason = f"{top} is the most probable class ({probs[top]:.0%})"
    if uncertain:
        reason += f", below the {min_confidence:.0%} needed to be confident"
    return Decision(label=top, uncertain=uncertain, reason=reason)
