"""A site calibration's section as table rows: one reader for the dialog, the card and the PDF.

The calibration dialog, the model card and the calibration's PDF report show the same card
section (:mod:`desktop_app.core.site.site_calibration`); one reader keeps their words and
figures equal, so a figure read in the dialog is the figure printed on the card and in the
report afterwards. Plain functions over the JSON section, in the core because the PDF is
written by the command line too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from desktop_app import DISCLAIMER
from desktop_app.core.metrics.figures import age_group_label, figure_text
from desktop_app.core.site.site_figures import FIGURES

__all__ = ["AFTER_NOTE", "check_set_lines", "figure_rows", "gate_rows", "threshold_rows"]

#: How the "after" column was measured, in words a clinician can act on.
AFTER_NOTE = ("\"After\" is cross-validated by patient: every film was answered with "
              "thresholds and limits chosen without that patient's films (a threshold set by "
              "hand is the same for every film), so the figures do not flatter the "
              "calibration. \"Before\" is what the model as trained answered. Each figure: "
              "value (95 % interval) n = films it rests on. " + DISCLAIMER)
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
    by_hand = (section.get("settings") or {}).get("thresholds_set_by_hand") or {}

    def site(name: str, value: float) -> str:
        return f"{value:.3f}" + (" (set by hand)" if name in by_hand else "")

    rows = [[name, f"{thresholds['model'].get(name, float('nan')):.3f}", site(name, value)]
            for name, value in thresholds["site"].items()]
    for group, values in (thresholds.get("site_by_age_group") or {}).items():
        model = (thresholds.get("model_by_age_group") or {}).get(group, {})
        label = age_group_label(group).lower()
        rows += [[f"{name} — {label}",
                  f"{model[name]:.3f}" if name in model else "—", site(name, value)]
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
