"""The model card's threshold curves: each finding's trade-off on the model's TEST films.

The card records, per population (adults and children at their own thresholds; every film as
if its age were unknown), each finding's sensitivity against the films wrongly called as its
threshold moves (``metrics.test.threshold_curves``, :mod:`model_training.threshold_curve_card`).
The card dialog shows them as still plots inside its text (one per finding, the operating point
ringed on every curve) followed by the operating points in words, so "Copy as Text" carries
the figures. A card without the section says so in a sentence: older cards do not have it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6 import QtGui

from desktop_app.core.metrics.figures import figure_text
from desktop_app.core.metrics.threshold_curves import (
    POPULATION_COLOURS,
    CurveSeries,
    CurveSet,
    curves_from_section,
)
from desktop_app.ui.threshold_plot import ThresholdPlot

if TYPE_CHECKING:
    from desktop_app.core.model.model_card import ModelCard

__all__ = ["CURVES_ANCHOR", "IMAGE_SCHEME", "NO_CURVES", "curve_images", "curves_html"]

#: Anchor of the section (the dialog can scroll to it).
CURVES_ANCHOR = "threshold-curves"
#: The URL scheme of the plots inside the card's HTML (the dialog's browser serves them).
IMAGE_SCHEME = "lunglens-curve"
#: What a card without curves says.
NO_CURVES = ("This card has no threshold curves: cards made before 2026-12-08 do not record "
             "them (python -m model_training decide adds them to a bundle).")
_IMAGE_SIZE = (420, 430)


def _sets(card: ModelCard) -> dict[str, CurveSet]:
    """The card's TEST curves per population ({} when the card has none or cannot be read)."""
    section = card.metric("test", "threshold_curves")
    if not isinstance(section, Mapping):
        return {}
    try:
        return curves_from_section(section)
    except ValueError:
        return {}


def _findings(sets: Mapping[str, CurveSet]) -> list[str]:
    return list(dict.fromkeys(f for curve_set in sets.values() for f in curve_set.curves))


def curves_html(card: ModelCard) -> str:
    """The section's HTML: the plots (as images the dialog serves) and the points in words."""
    head = f"<h3><a name='{CURVES_ANCHOR}'></a>Threshold curves on the TEST films</h3>"
    sets = _sets(card)
    if not sets:
        return head + f"<p><i>{html.escape(NO_CURVES)}</i></p>"
    images = "".join(
        f"<td><img src='{IMAGE_SCHEME}:{html.escape(finding)}' width='{_IMAGE_SIZE[0]}' "
        f"height='{_IMAGE_SIZE[1]}'></td>" for finding in _findings(sets))
    lines = []
    for finding in _findings(sets):
        for curve_set in sets.values():
            curve = curve_set.curves.get(finding)
            point = curve.operating_point if curve is not None else None
            if point is None:
                continue
            lines.append(
                f"<li>{html.escape(finding)}, {html.escape(curve_set.words.lower())} "
                f"(n={curve_set.films}), at the operating threshold {point.threshold:.2f}: "
                f"{html.escape(curve.positives)} found "
                f"{html.escape(figure_text(point.sensitivity, missing='—'))}; "
                f"{html.escape(curve.negatives)} labelled {html.escape(finding)} "
                f"{html.escape(figure_text(point.false_rate, missing='—'))}</li>")
    return (head + "<p>Each finding's threshold moved from 1 % to 99 % with the other "
            "thresholds at the operating point; every TEST film labelled at each threshold by "
            "the app's own rule. Up: more of the finding's films found; right: more films "
            "without it called it. Ring: the operating point; shaded: 95 % intervals of both "
            "figures (bootstrap by patient). Adults and children at their own age group's "
            "thresholds; \"every film, age not used\": the thresholds a film without an age "
            "gets.</p>"
            f"<table cellspacing='4'><tr>{images}</tr></table><ul>{''.join(lines)}</ul>")


def curve_images(card: ModelCard, font: QtGui.QFont | None = None) -> dict[str, Any]:
    """``{url: QImage}`` of the plots :func:`curves_html` refers to."""
    sets = _sets(card)
    images: dict[str, Any] = {}
    for finding in _findings(sets):
        curves = [CurveSeries(f"{curve_set.words}, n={curve_set.films}",
                            curve_set.curves[finding], POPULATION_COLOURS.get(key, "#CC79A7"))
                  for key, curve_set in sets.items() if finding in curve_set.curves]
        first = curves[0].curve
        plot = ThresholdPlot(finding, first.positives, first.negatives)
        if font is not None:
            plot.setFont(font)
        plot.set_curves(curves)
        images[f"{IMAGE_SCHEME}:{finding}"] = plot.image(*_IMAGE_SIZE)
        plot.deleteLater()
    return images
