"""Turning calibrated probabilities into a decision at the model's operating point.

The card's ``decision`` section holds::

    {
      "priority": ["COVID-19", "Pneumonia"],     # checked in this order
      "thresholds": {"COVID-19": 0.31, "Pneumonia": 0.45},
      "min_confidence": 0.55,                      # below: "uncertain"
      "strict_thresholds": true,                   # optional (cards from 2026-12-06 on)
      "operating_point": {...},                    # measured figures, for display only
      "by_age_group": {                            # optional: thresholds per age group
        "child": {"thresholds": {"COVID-19": 0.6, "Pneumonia": 0.5}},
        "adult": {"thresholds": {"COVID-19": 0.42}}
      }
    }

An operating point chosen on one population fails another (children's pneumonias called
COVID-19, unseen adult normals called COVID-19), so a card may give each age group its own
thresholds. Only the thresholds vary (priority and ``min_confidence`` are shared); a group's
thresholds replace the top-level ones class by class. When the patient's age group is not
known (no DICOM age, no age in the data) or has no entry, the top-level thresholds apply:
they are the rule for an unknown age. Cards without ``by_age_group`` decide exactly as before.

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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["AGE_GROUP_WORDS", "Decision", "decide", "thresholds_for", "validate_decision_spec"]

#: The age groups a card may give thresholds for, as the reason names them.
AGE_GROUP_WORDS = {"child": "children", "adult": "adults"}
_GROUP_ADJECTIVES = {"child": "children's", "adult": "adult"}


@dataclass(frozen=True)
class Decision:
    """The model's answer for one image.

    Attributes:
        label: The class chosen at the operating point.
        uncertain: True when no class is confidently ahead (see module docs).
        reason: One sentence explaining the choice, shown in the UI.
        age_group: The age group whose thresholds applied (``None``: the top-level ones).
        thresholds: The operating thresholds that applied, per finding.
        grouped: True when the card has thresholds per age group (so which set applied,
            and why, is part of the answer).
    """

    label: str
    uncertain: bool
    reason: str
    age_group: str | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)
    grouped: bool = False

    def thresholds_words(self) -> str:
        """``"adult thresholds (COVID-19 34 %, Pneumonia 52 %)"``: which set decided."""
        values = ", ".join(f"{name} {value:.0%}" for name, value in self.thresholds.items())
        if self.age_group is not None:
            which = f"{_GROUP_ADJECTIVES.get(self.age_group, self.age_group)} thresholds"
        elif self.grouped:
            which = "thresholds for all ages"
        else:
            which = "operating thresholds"
        return f"{which} ({values})" if values else which


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
    _validate_thresholds(spec["thresholds"], classes, "decision threshold")
    groups = spec.get("by_age_group")
    if groups is not None:
        if not isinstance(groups, Mapping):
            raise ValueError(f"decision by_age_group must map an age group to its thresholds. "
                             f"Received: {groups!r}")
        for group, entry in groups.items():
            if group not in AGE_GROUP_WORDS:
                raise ValueError(f"decision by_age_group names unknown age group {group!r}; "
                                 f"known: {list(AGE_GROUP_WORDS)}")
            if not isinstance(entry, Mapping) or set(entry) != {"thresholds"} \
                    or not isinstance(entry["thresholds"], Mapping):
                raise ValueError(f"decision by_age_group[{group!r}] must be "
                                 f"{{'thresholds': {{class: value}}}} (only thresholds vary "
                                 f"by age group). Received: {entry!r}")
            _validate_thresholds(entry["thresholds"], classes,
                                 f"decision threshold for {AGE_GROUP_WORDS[group]}")
    confidence = spec["min_confidence"]
    if not isinstance(confidence, int | float) or not 0.0 <= float(confidence) < 1.0:
        raise ValueError(f"decision min_confidence must be in [0, 1): {confidence!r}")
    strict = spec.get("strict_thresholds", False)
    if not isinstance(strict, bool):
        raise ValueError(f"decision strict_thresholds must be true or false: {strict!r}")
    if strict and not [c for c in classes if c not in spec["thresholds"]]:
        raise ValueError("decision strict_thresholds needs a class without a threshold to "
                         f"fall back to; thresholds: {sorted(spec['thresholds'])}")


def _validate_thresholds(thresholds: Mapping[str, Any], classes: Sequence[str],
                         what: str) -> None:
    unknown = [c for c in thresholds if c not in classes]
    if unknown:
        raise ValueError(f"{what} names unknown class(es) {unknown}; classes: {classes}")
    for name, value in thresholds.items():
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not 0.0 < float(value) <= 1.0:
            raise ValueError(f"{what} for {name!r} must be in (0, 1]: {value!r}")


def thresholds_for(spec: Mapping[str, Any], age_group: str | None
                   ) -> tuple[dict[str, float], str | None]:
    """The thresholds that apply to a patient of ``age_group``, and the group they are for.

    Returns:
        ``(thresholds, group)``: the group's thresholds over the top-level ones and the
        group, or the top-level thresholds and ``None`` when the card has none for it
        (unknown age, or a card without ``by_age_group``).
    """
    thresholds = {k: float(v) for k, v in spec["thresholds"].items()}
    groups = spec.get("by_age_group") or {}
    if age_group in groups:
        thresholds.update({k: float(v) for k, v in groups[age_group]["thresholds"].items()})
        return thresholds, age_group
    return thresholds, None


def decide(
    probabilities: Sequence[float] | np.ndarray,
    classes: Sequence[str],
    spec: Mapping[str, Any],
    age_group: str | None = None,
) -> Decision:
    """Apply the operating point in ``spec`` to one image's calibrated probabilities.

    Args:
        probabilities: Calibrated probabilities in the order of ``classes``.
        classes: Class names.
        spec: The card's ``decision`` section (validated by :func:`validate_decision_spec`).
        age_group: The patient's age group (``"child"``, ``"adult"``; ``None`` or
            ``"unknown"`` when not known): picks the card's thresholds for it, if any.

    Returns:
        The decision (its reason says which thresholds applied when the card has
        thresholds per age group).
    """
    probs = {name: float(p) for name, p in zip(classes, probabilities, strict=True)}
    thresholds, group = thresholds_for(spec, age_group)
    grouped = bool(spec.get("by_age_group"))
    if group is not None:
        which = f" for {AGE_GROUP_WORDS[group]}"
    elif spec.get("by_age_group"):
        which = " (age unknown: the threshold for all ages)"
    else:
        which = ""
    min_confidence = float(spec["min_confidence"])
    ranked = sorted(probs, key=probs.__getitem__, reverse=True)
    top = ranked[0]
    for name in spec["priority"]:
        if name in thresholds and probs[name] >= thresholds[name]:
            uncertain = probs[name] < min_confidence
            if group is not None:
                reason = (f"{name} probability {probs[name]:.0%} reaches the operating "
                          f"threshold{which} {thresholds[name]:.0%}")
            else:
                reason = (f"{name} probability {probs[name]:.0%} reaches the operating "
                          f"threshold {thresholds[name]:.0%}{which}")
            if uncertain:
                reason += f", but is below {min_confidence:.0%}: treat as uncertain"
            return Decision(label=name, uncertain=uncertain, reason=reason, age_group=group,
                            thresholds=thresholds, grouped=grouped)
    if spec.get("strict_thresholds", False):
        top = next(name for name in ranked if name not in thresholds)
        missed = ", ".join(f"{name} {probs[name]:.0%} < {thresholds[name]:.0%}"
                           for name in spec["priority"] if name in thresholds)
        uncertain = probs[top] < min_confidence
        reason = f"no finding reaches its operating threshold{which} — {missed}: {top}"
        if uncertain:
            reason += f" ({probs[top]:.0%}, below the {min_confidence:.0%} needed to be " \
                      "confident)"
        return Decision(label=top, uncertain=uncertain, reason=reason, age_group=group,
                        thresholds=thresholds, grouped=grouped)
    uncertain = probs[top] < min_confidence
    reason = f"{top} is the most probable class ({probs[top]:.0%})"
    if uncertain:
        reason += f", below the {min_confidence:.0%} needed to be confident"
    if group is not None:
        reason += f"; no finding reaches its threshold{which}"
    return Decision(label=top, uncertain=uncertain, reason=reason, age_group=group,
                    thresholds=thresholds, grouped=grouped)
