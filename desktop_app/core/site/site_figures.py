"""Before/after figures of a site calibration, and the plain-word warnings that go with them.

A calibration chosen on the site's films and measured on the same films would flatter
itself, so the "after" figures are cross-validated by patient
(:mod:`desktop_app.core.site.site_calibration`): each film is measured with limits and thresholds
chosen on the other patients' films. The "before" figures are the model's answers as the app
gave them. Every figure carries its n and a Wilson 95 % interval, which stays honest for
small n and for rates near 0 or 1 (where a normal approximation says "0 % ± 0").
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from desktop_app.core.metrics.intervals import wilson_figure, wilson_interval

__all__ = [
    "FIGURES", "FilmOutcome", "few_films_warnings", "site_figures",
    "wilson_interval",
]

COVID = "COVID-19"
PNEUMONIA = "Pneumonia"
NORMAL = "Normal"
#: An age group gets its own figures only with at least this many films.
MIN_SCOPE_FILMS = 10
#: A figure whose 95 % interval is wider than this on either side gets a warning.
WARN_HALF_WIDTH = 0.05

#: Figure key -> (what it counts, in words; films counted; answer counted).
FIGURES: dict[str, tuple[str, str, str]] = {
    "refused": ("films refused (no answer)", "all", "refused"),
    "cautioned": ("films answered with a caution", "all", "cautioned"),
    "normal_as_normal": ("normal films labelled Normal", NORMAL, NORMAL),
    "normal_as_covid": ("normal films labelled COVID-19", NORMAL, COVID),
    "normal_as_pneumonia": ("normal films labelled Pneumonia", NORMAL, PNEUMONIA),
    "non_covid_as_covid": ("non-COVID films labelled COVID-19", "non-covid", COVID),
    "covid_found": ("COVID-19 films labelled COVID-19", COVID, COVID),
    "pneumonia_found": ("pneumonia films labelled Pneumonia", PNEUMONIA, PNEUMONIA),
}


@dataclass(frozen=True)
class FilmOutcome:
    """What the app answered for one film (before or after calibration).

    Attributes:
        truth: The film's label (``None``: unlabelled).
        age_group: ``child``, ``adult`` or ``unknown``.
        label: The answer (``None`` when refused or unreadable).
        refused: The gate refused it (unreadable files count as refused: no answer either).
        cautioned: It was answered with a caution.
    """

    truth: str | None
    age_group: str
    label: str | None
    refused: bool
    cautioned: bool


def _counted(outcome: FilmOutcome, who: str) -> bool:
    if who == "all":
        return True
    if who == "non-covid":
        return outcome.truth is not None and outcome.truth != COVID
    return outcome.truth == who


def _figure(outcomes: Sequence[FilmOutcome], who: str, what: str) -> dict[str, Any] | None:
    counted = [o for o in outcomes if _counted(o, who)]
    if not counted:
        return None
    if what == "refused":
        hits = sum(o.refused for o in counted)
    elif what == "cautioned":
        hits = sum(o.cautioned and not o.refused for o in counted)
    else:
        hits = sum(o.label == what for o in counted)
    return {**wilson_figure(hits, len(counted)), "k": hits}


def site_figures(outcomes: Sequence[FilmOutcome]) -> dict[str, Any]:
    """Each figure of :data:`FIGURES` over all films and per age group with enough films.

    An age group needs :data:`MIN_SCOPE_FILMS` films: one child among adults is no figure.

    Returns:
        ``{"all": {figure: {"value", "ci95", "n", "k"}}, "adult": {...}, "child": {...}}``;
        figures without films (no COVID-19 films: no ``covid_found``) are left out.
    """
    scopes: dict[str, Sequence[FilmOutcome]] = {"all": outcomes}
    for group in ("adult", "child"):
        members = [o for o in outcomes if o.age_group == group]
        if len(members) >= MIN_SCOPE_FILMS and len(members) < len(outcomes):
            scopes[group] = members
    out: dict[str, Any] = {}
    for scope, members in scopes.items():
        figures = {key: _figure(members, who, what)
                   for key, (_words, who, what) in FIGURES.items()}
        out[scope] = {key: value for key, value in figures.items() if value is not None}
    return out


def few_films_warnings(after: Mapping[str, Any]) -> list[str]:
    """"40 normal films: the ... rate after calibration is known to about ±10 points"."""
    warnings = []
    for key, entry in after.get("all", {}).items():
        if key == "cautioned":
            continue
        low, high = entry["ci95"]
        half = max(entry["value"] - low, high - entry["value"])
        if half > WARN_HALF_WIDTH:
            words, who, _what = FIGURES[key]
            films = {"all": "films", "non-covid": "non-COVID films", NORMAL: "normal films",
                     PNEUMONIA: "pneumonia films"}.get(who, f"{who} films")
            warnings.append(
                f"{entry['n']} {films}: the share of {words} after calibration is known to "
                f"about ±{math.ceil(half * 100)} points (95 % interval "
                f"{low:.0%}–{high:.0%}); more films would pin it down")
    return warnings


def class_counts(outcomes: Sequence[FilmOutcome]) -> dict[str, int]:
    """Films per label (``unlabelled`` for films without one)."""
    return dict(Counter(o.truth or "unlabelled" for o in outcomes))
