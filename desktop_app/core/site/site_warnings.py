"""The plain-word warnings of a site calibration: what its figures and films cannot show.

A calibration's figures are only as good as the films behind them; the warnings say so in
words a clinic acts on: a class with no films, a threshold the site's films could not set (and
how it was set instead), figures known only to more than ±5 points, films from several sources
or machines, a gate limit the non-chest check set held back. They are recomputed with the
figures whenever the thresholds change (the calibration dialog's curves, ``--threshold``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from desktop_app.core.site.site_figures import few_films_warnings
from desktop_app.core.site.site_films import MeasuredFilm
from desktop_app.core.site.site_thresholds import SET_BY_HAND

__all__ = ["calibration_warnings"]

#: A source named by at least this share of the films counts as a separate site.
_SEVERAL_SITES_SHARE = 0.1


def _expected_sensitivity(card: Mapping[str, Any], finding: str, threshold: float
                          ) -> dict[str, Any] | None:
    """The model's own TEST sensitivity at ``threshold`` (its card's curve), if recorded."""
    curve = (((card.get("metrics") or {}).get("test") or {}).get("sensitivity_curves")
             or {}).get(finding)
    if not curve:
        return None
    thresholds = np.asarray(curve["thresholds"], dtype=np.float64)
    sensitivity = np.asarray(curve["sensitivity"], dtype=np.float64)
    value = float(np.interp(threshold, thresholds, sensitivity))
    return {"value": value, "n": int(curve["n"]), "population": curve.get("population", "")}


def _shared_by_many(values: Counter[str], films: int) -> dict[str, int]:
    """The values held by at least :data:`_SEVERAL_SITES_SHARE` of the films."""
    return {k: v for k, v in sorted(values.items()) if v >= _SEVERAL_SITES_SHARE * films}


def calibration_warnings(films: Sequence[MeasuredFilm], counts: Mapping[str, int],
              after: Mapping[str, Any], gate: Mapping[str, Any],
              how: Mapping[str, Any] | None, card: Mapping[str, Any],
              classes: Sequence[str], decision: Mapping[str, Any],
              cross_validated: bool) -> list[str]:
    """Everything a reader of the figures should be told, in plain words.

    Args:
        films: The readable films.
        counts: Films per label.
        after: The figures after calibration (:func:`site_figures`).
        gate: The gate the calibration chose (how far each limit moved).
        how: How each threshold was set (``None``: no labelled films).
        card: The card calibrated (its TEST curve, for a threshold set from normals alone).
        classes: The model's classes.
        decision: The calibrated decision section.
        cross_validated: The after figures are cross-validated.
    """
    warnings: list[str] = []
    labelled = sum(v for k, v in counts.items() if k != "unlabelled")
    if not labelled:
        warnings.append("no labelled films: the gate learned the site's look, the thresholds "
                        "are the model's; give labelled films (a folder per class) to set "
                        "thresholds for this site")
    else:
        warnings += _threshold_warnings(counts, how, card, classes, decision)
    if cross_validated:
        warnings += few_films_warnings(after)
    else:
        warnings.append("every film comes from one patient group too small to split: the "
                        "figures after calibration are not cross-validated")
    warnings += _mixed_films_warnings(films)
    for check, moved in gate["moved"].items():
        if moved < 1.0 - 1e-9:
            warnings.append(
                f"the {check} limit moved {moved:.0%} of the way the site's films asked: "
                "further would let images of the shipped non-chest check set through; "
                "films past it are still refused")
    return warnings


def _threshold_warnings(counts: Mapping[str, int], how: Mapping[str, Any] | None,
                        card: Mapping[str, Any], classes: Sequence[str],
                        decision: Mapping[str, Any]) -> list[str]:
    """What the labelled films could not measure, and the notes of how thresholds were set."""
    warnings: list[str] = []
    for name in classes:
        if not counts.get(name):
            warnings.append(f"no {name} films: this site's {name} sensitivity is not "
                            "measured here")
    covid = how.get("all", {}).get("COVID-19") if how else None
    if covid and not covid.get("positives") and "COVID-19" in classes \
            and covid.get("set_by") != SET_BY_HAND:
        expected = _expected_sensitivity(card, "COVID-19",
                                         float(decision["thresholds"]["COVID-19"]))
        if expected is not None:
            warnings.append(
                f"the COVID-19 threshold ({decision['thresholds']['COVID-19']:.3f}) comes "
                f"from the site's {covid['negatives']} films without COVID-19 alone; at it "
                f"the model found {expected['value']:.0%} of the COVID-19 films of its own "
                f"test split (n={expected['n']}) — an expectation from elsewhere, not "
                "measured at this site")
        else:
            warnings.append("the COVID-19 threshold comes from the site's films without "
                            "COVID-19 alone; how many COVID-19 films it finds here is "
                            "not known (the model's card has no test curve to say)")
    for scope, record in (how or {}).items():
        for finding, entry in record.items() if isinstance(record, Mapping) else ():
            note = entry.get("note") if isinstance(entry, Mapping) else None
            if note:
                where = "" if scope == "all" else f" ({scope} films)"
                warnings.append(f"{finding}{where}: {note}")
    return warnings


def _mixed_films_warnings(films: Sequence[MeasuredFilm]) -> list[str]:
    """Films that name several sources or come from several machines."""
    warnings: list[str] = []
    named = _shared_by_many(Counter(m.film.source for m in films if m.film.source),
                            len(films))
    if len(named) > 1:
        listed = ", ".join(f"{k} ({v})" for k, v in named.items())
        warnings.append(f"the films name several sources ({listed}): a calibration fits one "
                        "site's films; if these are different hospitals or machines, "
                        "calibrate for each separately")
    several = _shared_by_many(Counter(m.equipment for m in films if m.equipment), len(films))
    if len(several) > 1:
        listed = ", ".join(f"{k} ({v})" for k, v in several.items())
        warnings.append(f"the films come from several machines ({listed}): if their films "
                        "look different, one calibration fits neither well; check each "
                        "machine's figures with validate, or calibrate for each")
    return warnings
