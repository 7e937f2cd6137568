"""The one sentence that says a model was calibrated to a site.

"calibrated for <site> on <date> from <n> films" appears wherever a model shows (result panel,
status bar, card, PDF and CSV exports, validation records), so it is written in one place.
Standard library only: the window imports it at start-up, before any image or model code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["SITE_CALIBRATION", "calibration_line"]

#: The card section of a bundle calibrated to a site
#(:mod:`desktop_app.core.site.site_calibration`).
SITE_CALIBRATION = "site_calibration"


def calibration_line(card: Any) -> str | None:
    """"calibrated for <site> on <date> from <n> films", or ``None`` for a model as trained.

    Args:
        card: A :class:`~desktop_app.core.model.model_card.ModelCard`, a card dict (or a dict
            holding only the section), or ``None``.
    """
    if card is None:
        return None
    section = (card.get(SITE_CALIBRATION) if isinstance(card, Mapping)
               else getattr(card, SITE_CALIBRATION, None))
    if not section:
        return None
    return (f"calibrated for {section['site']} on {section['date']} from "
            f"{section['films']['used']} films")
