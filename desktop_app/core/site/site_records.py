"""What a site calibration records of its thresholds and gate limits, before and after.

The card's ``site_calibration`` section keeps the model's and the site's thresholds (overall
and per age group, and how each was set) and, per gate check, both limits before and after and
how far each moved: the calibrate command, the dialog, the model card and the PDF read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from desktop_app.core.site.site_gate import GateLimits, card_value

__all__ = ["gate_record", "thresholds_record"]


def thresholds_record(model: Mapping[str, Any], decision: Mapping[str, Any],
                       how: Mapping[str, Any] | None) -> dict[str, Any]:
    """The model's and the site's thresholds (overall and by age group), and how chosen."""
    return {"model": model["decision"]["thresholds"],
            "site": decision["thresholds"],
            "model_by_age_group": {k: v["thresholds"] for k, v in
                                   (model["decision"].get("by_age_group") or {}).items()},
            "site_by_age_group": {k: v["thresholds"] for k, v in
                                  (decision.get("by_age_group") or {}).items()},
            "how": how or {}}


def gate_record(before_limits: GateLimits, gate: Mapping[str, Any]) -> dict[str, Any]:
    """Per check: the usual and refusal limits before and after, how far they moved."""
    limits: GateLimits = gate["limits"]
    return {check: {"usual": [card_value(check, before_limits.usual[check]),
                              card_value(check, limits.usual[check])],
                    "refusal": [card_value(check, before_limits.refusal[check]),
                                card_value(check, limits.refusal[check])],
                    "moved": gate["moved"][check],
                    "site_wanted_refusal": card_value(check, gate["wanted"].refusal[check])}
            for check in limits.usual}
