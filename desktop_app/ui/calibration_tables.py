"""What a site calibration changed, as table rows and HTML.

The calibration dialog and the model card show the same card section
(:mod:`desktop_app.core.site.site_calibration`); the rows come from one reader in the core
(:mod:`desktop_app.core.site.site_tables`, which the PDF report uses too), so a figure read in
the dialog is the figure printed on the card afterwards. Plain functions over the JSON section
(no widgets), so they are tested without a window.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from desktop_app.core.model.calibration_line import SITE_CALIBRATION, calibration_line
from desktop_app.core.site.site_tables import (
    AFTER_NOTE,
    check_set_lines,
    figure_rows,
    gate_rows,
    threshold_rows,
)

__all__ = [
    "AFTER_NOTE",
    "CARD_FIGURES_NOTE",
    "check_set_lines",
    "figure_rows",
    "gate_rows",
    "section_html",
    "threshold_rows",
]

#: Why the rest of a calibrated model's card still describes the model as trained.
CARD_FIGURES_NOTE = ("The test figures elsewhere on this card were measured at the model's "
                     "original operating point (its own thresholds and gate limits), not at "
                     "this site's.")


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return (f"<table class='grid' border='1' cellspacing='0' cellpadding='3'>"
            f"<tr>{head}</tr>{body}</table>")


def section_html(section: Mapping[str, Any], *, figures: bool = True,
                 warnings: bool = True) -> str:
    """Thresholds, gate moves, check set (and the figures and warnings) as HTML.

    Args:
        section: The card's ``site_calibration`` section.
        figures: Include the before/after table (the dialog shows it as a table widget).
        warnings: Include the warnings (the dialog keeps them always visible on their own).
    """
    films = section.get("films", {})
    parts = [f"<p><b>{html.escape(_line(section))}</b> ({films.get('given', '?')} given, "
             f"{films.get('unreadable', 0)} unreadable; films by label: "
             + html.escape(", ".join(f"{k} {v}" for k, v in
                                     (films.get("by_class") or {}).items()))
             + f"). Model calibrated: {html.escape(str(section.get('model_id', '?')))}.</p>"]
    if figures:
        parts.append(_grid(["", "before", "after"], figure_rows(section)))
        parts.append(f"<p><small>{html.escape(AFTER_NOTE)}</small></p>")
    parts.append("<p><b>Thresholds</b> (model → site)</p>")
    parts.append(_grid(["finding", "model", "site"], threshold_rows(section)))
    parts.append("<p><b>Gate limits</b> (model → site)</p>")
    parts.append(_grid(["check", "usual", "refusal", "moved"], gate_rows(section)))
    parts.append("<p><b>Non-chest check set</b></p><ul>"
                 + "".join(f"<li>{html.escape(t)}</li>" for t in check_set_lines(section))
                 + "</ul>")
    shown = (section.get("warnings") or []) if warnings else []
    if shown:
        parts.append("<p><b>Warnings</b></p><ul>"
                     + "".join(f"<li>{html.escape(w)}</li>" for w in shown) + "</ul>")
    return "".join(parts)


def _line(section: Mapping[str, Any]) -> str:
    line = calibration_line({SITE_CALIBRATION: section}) or ""
    return line[:1].upper() + line[1:]
