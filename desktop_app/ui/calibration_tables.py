"""What a site calibration changed, as table rows and HTML.

The calibration dialog and the model card show the same card section
(:mod:`desktop_app.core.site.site_calibration`); one reader keeps their words and figures equal,
so a figure read in the dialog is the figure printed on the card afterwards. Plain functions
over the JSON section (no widgets), so they are tested without a window.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from desktop_app import DISCLAIMER
from desktop_app.core.metrics.figures import age_group_label, figure_text
from desktop_app.core.model.calibration_line import SITE_CALIBRATION, calibration_line
from desktop_app.core.site.site_figures import FIGURES

__all__ = [
    "AFTER_NOTE",
    "CARD_FIGURES_NOTE",
    "check_set_lines",
    "figure_rows",
    "gate_rows",
    "section_html",
    "threshold_rows",
]

#: How the "after" column was measured, in words a clinician can act on.
AFTER_NOTE = ("\"After\" is cross-validated by patient: every film was answered with "
              "thresholds and limits chosen without that patient's films, so the figures do "
              "not flatter the calibration. \"Before\" is what the model as trained answered. "
              "Each figure: value (95 % interval) n = films it rests on. "
              + DISCLAIMER)
#: Why the rest of a calibrated model's card still describes the model as trained.
CARD_FIGURES_NOTE = ("The test figures elsewhere on this card were measured at the model's "
                     "original operating point (its own thresholds and gate limits), not at "
                     "this site's.")
_SCOPE_ORDER = ("all", "adult", "child")


def _scopes(figures: Mapping[str, Any]) -> list[str]:
    found = set(figures.get("after", {})) | set(figures.get("before", {}))
    return [s for s in _SCOPE_ORDER if s in found] + sorted(found - set(_SCOPE_ORDER))


def figure_rows(section: Mapping[str, Any]) -> list[list[str]]:
    """Rows [figure, before, after]: all films first, then each age group with its own."""
    figures = section["figures"]
    rows = []
    for scope in _scopes(figures):
        before = figures.get("before", {}).get(scope, {})
        after = figures.get("after", {}).get(scope, {})
        where = "" if scope == "all" else f" — {age_group_label(scope).lower()}"
        for key, (words, _who, _what) in FIGURES.items():
            if key in before or key in after:
                rows.append([words + where, figure_text(before.get(key), decimals=0, missing="—"),
                             figure_text(after.get(key), decimals=0, missing="—")])
    return rows


def threshold_rows(section: Mapping[str, Any]) -> list[list[str]]:
    """Rows [finding, model's threshold, site's threshold] (age groups after the rest)."""
    thresholds = section["thresholds"]
    rows = [[name, f"{thresholds['model'].get(name, float('nan')):.3f}", f"{value:.3f}"]
            for name, value in thresholds["site"].items()]
    for group, values in (thresholds.get("site_by_age_group") or {}).items():
        model = (thresholds.get("model_by_age_group") or {}).get(group, {})
        label = age_group_label(group).lower()
        rows += [[f"{name} — {label}",
                  f"{model[name]:.3f}" if name in model else "—", f"{value:.3f}"]
                 for name, value in values.items()]
    return rows


def gate_rows(section: Mapping[str, Any]) -> list[list[str]]:
    """Rows [check, usual limit model→site, refusal limit model→site, how far it moved]."""
    from desktop_app.core.site.site_gate import CHECK_WORDS

    return [[CHECK_WORDS.get(check, check), f"{entry['usual'][0]:.3f} → {entry['usual'][1]:.3f}",
             f"{entry['refusal'][0]:.3f} → {entry['refusal'][1]:.3f}",
             f"{entry['moved']:.0%} of the way the site's films asked"]
            for check, entry in section["gate"].items()]


def check_set_lines(section: Mapping[str, Any]) -> list[str]:
    """The shipped non-chest images refused before and after (both halves)."""
    checks = section.get("non_chest_check_set") or {}
    lines = []
    for half, words in (("development", "development half (braked the gate)"),
                        ("held_out", "held-out half (never used to choose)")):
        entry = checks.get(half)
        if entry:
            lines.append(f"{words}: {entry['refused_before']:.1%} refused before → "
                         f"{entry['refused_after']:.1%} after (n={entry['n']})")
    return lines


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
