"""Each finding's trade-off as its threshold moves: films found against films wrongly called.

A threshold is the whole of a decision's trade-off, and a clinician would rather look at it
than read it off a table: how many COVID-19 films does 0.6 find, and how many films without
COVID-19 does it call COVID-19? :func:`threshold_curve` sweeps one finding's threshold over a
grid (0.01 … 0.99 and the operating threshold itself), the other thresholds fixed at the
operating point, and at each threshold measures

* the **sensitivity**: the finding's films labelled with it, and
* the **false rate**: the films without it wrongly labelled with it (for COVID-19 every film
  without COVID-19, as the card's adult false-COVID figure; for Pneumonia the *normal*
  films, as the rule's and the site's Pneumonia limits count them),

each ``{"value", "ci95", "n"}`` (:mod:`desktop_app.core.metrics.figures`). The label at each
threshold is the app's own rule, :func:`desktop_app.core.decision.decide` with the card's
``decision`` (strict thresholds, priority, age groups), not a one-vs-rest shortcut: a film's
answer changes only where its probability of the finding crosses the threshold, so the rule is
applied twice per film (the finding just reached, just missed) and each threshold picks one of
the two answers. The figures therefore agree with
:func:`~desktop_app.core.metrics.decisions.decision_predictions` at every threshold.

Intervals come from the caller's evidence: with a
:class:`~desktop_app.core.metrics.populations.Resampler` they are the patient-bootstrap
intervals of :func:`~desktop_app.core.metrics.populations.population_metrics` (the same draws
give the card's and a validation's figures the same interval at the operating threshold);
without one they are Wilson intervals (:mod:`desktop_app.core.metrics.intervals`), which a
site calibration's before/after table uses.

One function for every curve LungLens shows: the model card (TEST films per population), local
validation, site calibration (cross-validated: one decision per film, its fold's) and their
PDFs. :func:`curves_section` builds the JSON section the card and the records hold;
:func:`curves_from_section` reads it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from desktop_app.core.decision import decide, thresholds_for
from desktop_app.core.metrics.intervals import wilson_figure
from desktop_app.core.metrics.populations import Resampler, estimate_weighted, rate

__all__ = [
    "CURVES_FORMAT",
    "CURVE_GRID",
    "POPULATION_COLOURS",
    "POPULATION_WORDS",
    "CurvePoint",
    "CurvePopulation",
    "CurveSeries",
    "CurveSet",
    "ThresholdCurve",
    "age_group_populations",
    "curves_from_section",
    "curves_section",
    "finding_words",
    "findings_of",
    "threshold_curve",
    "threshold_curve_title",
    "with_threshold",
]

#: Version of the section :func:`curves_section` writes.
CURVES_FORMAT = 1
#: Thresholds every curve is measured at (the operating threshold is added).
CURVE_GRID: tuple[float, ...] = tuple(round(step / 100, 2) for step in range(1, 100))
_NORMAL = "Normal"
_PNEUMONIA = "Pneumonia"


def findings_of(decision: Mapping[str, Any], classes: Sequence[str]) -> list[str]:
    """The classes a threshold decides (the findings), in the card's priority order."""
    named = [c for c in decision["priority"] if c in decision["thresholds"]]
    return named + [c for c in classes if c in decision["thresholds"] and c not in named]


def finding_words(finding: str, classes: Sequence[str]) -> tuple[str, str]:
    """``(positives, negatives)`` in words: which films count as found, which as wrongly called.

    Pneumonia is measured against the normal films (a COVID-19 film labelled Pneumonia is
    still flagged as disease), every other finding against all films without it.
    """
    if finding == _PNEUMONIA and _NORMAL in classes:
        return "pneumonia films", "normal films"
    return f"{finding} films", f"films without {finding}"


def _negative_rows(finding: str, labels: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    if finding == _PNEUMONIA and _NORMAL in classes:
        return labels == list(classes).index(_NORMAL)
    return (labels >= 0) & (labels != list(classes).index(finding))


def with_threshold(decision: Mapping[str, Any], finding: str, threshold: float
                   ) -> dict[str, Any]:
    """``decision`` with ``finding``'s threshold set to ``threshold`` for every age group.

    A threshold chosen by hand (``calibrate --threshold``, the calibration dialog) applies to
    every patient, so a film's answer never depends on a header field the chooser did not see.
    """
    out = dict(decision)
    out["thresholds"] = {**decision["thresholds"], finding: float(threshold)}
    groups = decision.get("by_age_group")
    if groups:
        out["by_age_group"] = {
            group: {**entry, "thresholds": {**entry["thresholds"], finding: float(threshold)}}
            for group, entry in groups.items()}
    return out


@dataclass(frozen=True)
class CurvePoint:
    """The figures at one threshold.

    Attributes:
        threshold: The finding's threshold.
        sensitivity: ``{"value", "ci95", "n"}`` of the finding's films labelled with it
            (``None``: no such film).
        false_rate: The same for the films without it labelled with it.
    """

    threshold: float
    sensitivity: dict[str, Any] | None
    false_rate: dict[str, Any] | None

    @property
    def xy(self) -> tuple[float, float] | None:
        """``(false rate, sensitivity)``, where a plot draws the point; ``None`` if unmeasured."""
        if self.sensitivity is None or self.false_rate is None:
            return None
        return float(self.false_rate["value"]), float(self.sensitivity["value"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"threshold": self.threshold, "sensitivity": self.sensitivity,
                "false_rate": self.false_rate}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CurvePoint:
        """The point :meth:`to_dict` wrote.

        Raises:
            ValueError: Quoting a threshold outside (0, 1] or a figure that is not one.
        """
        threshold = data.get("threshold") if isinstance(data, Mapping) else None
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) \
                or not 0.0 < float(threshold) <= 1.0:
            raise ValueError(f"a curve point needs a threshold in (0, 1]. Received: {data!r}")
        return cls(float(threshold), _checked_figure(data.get("sensitivity")),
                   _checked_figure(data.get("false_rate")))


def _checked_figure(entry: Any) -> dict[str, Any] | None:
    if entry is None:
        return None
    value = entry.get("value") if isinstance(entry, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not 0.0 <= float(value) <= 1.0 or not isinstance(entry.get("n"), int):
        raise ValueError("a curve figure must be {'value' in [0, 1], 'ci95', 'n'}. "
                         f"Received: {entry!r}")
    return dict(entry)


@dataclass(frozen=True)
class ThresholdCurve:
    """One finding's sensitivity and false rate over its thresholds, for one population.

    Attributes:
        finding: The finding whose threshold moves.
        population: Who was measured (``adult``, ``child``, ``all`` ...).
        positives: The films that count as found, in words ("COVID-19 films").
        negatives: The films that count as wrongly called, in words ("normal films").
        points: One per threshold, ascending.
        operating_threshold: The threshold the decision applies to every film of the
            population (``None`` when its films are decided at different ones).
        interval: How the 95 % intervals were made, in words.
    """

    finding: str
    population: str
    positives: str
    negatives: str
    points: tuple[CurvePoint, ...]
    operating_threshold: float | None
    interval: str

    @property
    def operating_point(self) -> CurvePoint | None:
        """The point at the operating threshold (``None`` without one)."""
        if self.operating_threshold is None:
            return None
        return self.nearest(self.operating_threshold)

    def nearest(self, threshold: float) -> CurvePoint:
        """The point whose threshold is closest to ``threshold``."""
        return min(self.points, key=lambda point: abs(point.threshold - threshold))

    def band(self) -> list[tuple[float, float]]:
        """Both intervals as one ribbon for a plot, ``(false rate, sensitivity)`` corners.

        Out along (false low, found high), back along (false high, found low); empty when a
        measured point has no interval (nothing to shade).
        """
        upper, lower = [], []
        for point in self.points:
            if point.sensitivity is None or point.false_rate is None:
                continue
            found, called = point.sensitivity.get("ci95"), point.false_rate.get("ci95")
            if not found or not called:
                return []
            upper.append((float(called[0]), float(found[1])))
            lower.append((float(called[1]), float(found[0])))
        return upper + lower[::-1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the card's and the records' form)."""
        return {"finding": self.finding, "population": self.population,
                "positives": self.positives, "negatives": self.negatives,
                "operating_threshold": self.operating_threshold, "interval": self.interval,
                "points": [point.to_dict() for point in self.points]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ThresholdCurve:
        """The curve :meth:`to_dict` wrote.

        Raises:
            ValueError: Naming what is missing or quoting the bad value.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a threshold curve must be an object. Received: {data!r}")
        missing = [key for key in ("finding", "population", "positives", "negatives",
                                   "points") if key not in data]
        if missing:
            raise ValueError(f"a threshold curve is missing {missing}")
        points = data["points"]
        if not isinstance(points, list) or not points:
            raise ValueError(f"a threshold curve needs points. Received: {points!r}")
        parsed = tuple(CurvePoint.from_dict(point) for point in points)
        if any(b.threshold <= a.threshold for a, b in pairwise(parsed)):
            raise ValueError("a threshold curve's points must have ascending thresholds. "
                             f"Received: {[p.threshold for p in parsed]}")
        operating = data.get("operating_threshold")
        if operating is not None and (isinstance(operating, bool)
                                      or not isinstance(operating, int | float)):
            raise ValueError(f"operating_threshold must be a number or null. "
                             f"Received: {operating!r}")
        return cls(str(data["finding"]), str(data["population"]), str(data["positives"]),
                   str(data["negatives"]), parsed,
                   None if operating is None else float(operating),
                   str(data.get("interval", "")))


@dataclass(frozen=True)
class CurveSeries:
    """One curve as a plot draws it (the window's and the PDFs').

    Attributes:
        name: Legend text ("Adults, n=265").
        curve: The curve.
        colour: A colour (hex or name).
        mark_operating: Ring the point at the curve's operating threshold.
    """

    name: str
    curve: ThresholdCurve
    colour: str
    mark_operating: bool = True


def _decisions_per_row(decision: Mapping[str, Any] | Sequence[Mapping[str, Any]],
                       n: int) -> list[Mapping[str, Any]]:
    if isinstance(decision, Mapping):
        return [decision] * n
    decisions = list(decision)
    if len(decisions) != n:
        raise ValueError(f"decision must be one section or one per row ({n}). "
                         f"Received: {len(decisions)}")
    return decisions


def _answers_either_side(probabilities: np.ndarray, classes: Sequence[str],
                         decisions: Sequence[Mapping[str, Any]], finding: str,
                         groups: Sequence[str | None], rows: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Each row's answer (class index) with the finding just reached, and just missed.

    ``decide`` compares ``probability >= threshold``: at a threshold equal to the film's own
    probability the finding is reached, one float step above it is not. Every threshold of
    the sweep gives one of these two answers.
    """
    column = list(classes).index(finding)
    index = {name: position for position, name in enumerate(classes)}
    reached = np.full(len(probabilities), -1, dtype=np.int64)
    missed = np.full(len(probabilities), -1, dtype=np.int64)
    for row in np.flatnonzero(rows):
        p = float(probabilities[row, column])
        for out, threshold in ((reached, p), (missed, float(np.nextafter(p, 2.0)))):
            spec = with_threshold(decisions[row], finding, threshold)
            out[row] = index[decide(probabilities[row], classes, spec,
                                    age_group=groups[row]).label]
    return reached, missed


def _operating_threshold(decisions: Sequence[Mapping[str, Any]], finding: str,
                         groups: Sequence[str | None], rows: np.ndarray) -> float | None:
    """The finding's threshold when every row of the population is decided at the same one."""
    values = {thresholds_for(decisions[row], groups[row])[0].get(finding)
              for row in np.flatnonzero(rows)}
    if len(values) != 1:
        return None
    value = values.pop()
    return None if value is None else float(value)


def _figure(hits: np.ndarray, rows: np.ndarray, resampler: Resampler | None
            ) -> dict[str, Any] | None:
    """Share of ``rows`` that are ``hits``: bootstrap interval with a resampler, else Wilson."""
    if resampler is not None:
        return estimate_weighted(rate(hits), rows, resampler)
    n = int(rows.sum())
    if n == 0:
        return None
    return wilson_figure(int(hits[rows].sum()), n)


def _inputs(probabilities: np.ndarray, labels: np.ndarray, classes: Sequence[str],
            decision: Mapping[str, Any] | Sequence[Mapping[str, Any]], finding: str,
            age_groups: Sequence[str | None] | None, rows: np.ndarray | None,
            answered: Sequence[bool] | np.ndarray | None
            ) -> tuple[list[Mapping[str, Any]], list[str | None], np.ndarray, np.ndarray]:
    """Per row: its decision, age group, membership and whether it is counted as answered.

    Raises:
        ValueError: If ``finding`` has no threshold, quoting it, or a length is wrong.
    """
    n = len(labels)
    decisions = _decisions_per_row(decision, n)
    if finding not in classes or (n and finding not in decisions[0]["thresholds"]):
        raise ValueError(f"no threshold to move for {finding!r}; findings: "
                         f"{findings_of(decisions[0], classes) if n else []}")
    groups: list[str | None] = [None] * n if age_groups is None else list(age_groups)
    rows = np.ones(n, dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
    live = rows & (np.ones(n, dtype=bool) if answered is None
                   else np.asarray(answered, dtype=bool))
    if len(groups) != n or len(rows) != n or len(live) != n or len(probabilities) != n:
        raise ValueError(f"probabilities, age_groups, rows and answered need one entry per "
                         f"label ({n})")
    return decisions, groups, rows, live


def threshold_curve(
    probabilities: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    classes: Sequence[str],
    decision: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    finding: str,
    *,
    age_groups: Sequence[str | None] | None = None,
    rows: np.ndarray | None = None,
    answered: Sequence[bool] | np.ndarray | None = None,
    population: str = "all",
    grid: Sequence[float] = CURVE_GRID,
    resampler: Resampler | None = None,
) -> ThresholdCurve:
    """``finding``'s sensitivity and false rate as its threshold moves (see module docs).

    Args:
        probabilities: ``(n, classes)`` calibrated probabilities.
        labels: True class index per film (``-1``: unlabelled, counted nowhere).
        classes: Class names.
        decision: The card's ``decision`` section, or one per film (a site's
            cross-validation decides each film with its fold's thresholds).
        finding: The class whose threshold moves (set for every age group at once).
        age_groups: Each film's age group for the decision (None: all unknown).
        rows: The population's films (None: every film); intervals still come from the
            resampler's draws over all films, as the metrics module's subgroups do.
        answered: False for films the gate refused: counted, never labelled (None: all).
        population: The population's key, recorded in the curve.
        grid: Thresholds to measure at, each in (0, 1]; the operating threshold is added.
        resampler: Bootstrap draws over all films (None: Wilson intervals).

    Returns:
        The curve.

    Raises:
        ValueError: If ``finding`` is not a class with a threshold, quoting it, or an array
            has the wrong length.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    decisions, groups, rows, live = _inputs(probabilities, labels, classes, decision, finding,
                                            age_groups, rows, answered)
    reached, missed = _answers_either_side(probabilities, classes, decisions, finding,
                                           groups, live)
    operating = _operating_threshold(decisions, finding, groups, rows) if rows.any() else None
    thresholds = sorted({float(t) for t in grid} | ({operating} - {None}))
    column = list(classes).index(finding)
    positive = rows & (labels == column)
    negative = rows & _negative_rows(finding, labels, classes)
    points = []
    for threshold in thresholds:
        answer = np.where(probabilities[:, column] >= threshold, reached, missed)
        hits = live & (answer == column)
        points.append(CurvePoint(threshold, _figure(hits, positive, resampler),
                                 _figure(hits, negative, resampler)))
    positives, negatives = finding_words(finding, classes)
    interval = ("Wilson 95 %" if resampler is None else
                f"95 % percentile bootstrap, {resampler.rounds} resamples")
    return ThresholdCurve(finding, population, positives, negatives, tuple(points),
                          operating, interval)


@dataclass(frozen=True)
class CurvePopulation:
    """Who a set of curves is measured on, and at which age group's thresholds.

    Attributes:
        key: ``adult``, ``child``, ``unknown`` or ``all``.
        words: How the population is named in a legend ("Adults").
        rows: The population's films.
        age_groups: The age group each film is decided with (None: the top-level
            thresholds, as for a film whose age is not known).
    """

    key: str
    words: str
    rows: np.ndarray
    age_groups: Sequence[str | None] | None = None


def curves_section(
    probabilities: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    classes: Sequence[str],
    decision: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    populations: Sequence[CurvePopulation],
    *,
    measured_on: str,
    answered: Sequence[bool] | np.ndarray | None = None,
    resampler: Resampler | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Every finding's curve per population, as the JSON section cards and records hold.

    Args:
        probabilities: ``(n, classes)`` calibrated probabilities.
        labels: True class index per film.
        classes: Class names.
        decision: The card's ``decision`` section, or one per film.
        populations: Who to measure; a population without films is left out.
        measured_on: Which films, in words (kept in the section).
        answered: False for films the gate refused (None: all answered).
        resampler: Bootstrap draws over all films (None: Wilson intervals).
        extra: More keys for the section (a site's targets and chosen point).

    Returns:
        ``{"format", "measured_on", "decision_rule", "populations": {key: {"words",
        "films", "curves": {finding: ThresholdCurve.to_dict()}}}}``.
    """
    section: dict[str, Any] = {
        "format": CURVES_FORMAT,
        "measured_on": measured_on,
        "decision_rule": "the app's decide() at the card's operating point; the finding's "
                         "threshold moves for every age group, the other thresholds stay",
        "populations": {},
    }
    first = decision if isinstance(decision, Mapping) else (list(decision) or [None])[0]
    findings = findings_of(first, classes) if first is not None else []
    for population in populations:
        rows = np.asarray(population.rows, dtype=bool)
        if not rows.any():
            continue
        curves = {finding: threshold_curve(
            probabilities, labels, classes, decision, finding,
            age_groups=population.age_groups, rows=rows, answered=answered,
            population=population.key, resampler=resampler).to_dict()
            for finding in findings}
        section["populations"][population.key] = {"words": population.words,
                                                  "films": int(rows.sum()), "curves": curves}
    section.update(extra or {})
    return section


#: Line colours of a plot's populations (colour-blind safe: Okabe-Ito), window and PDFs alike.
POPULATION_COLOURS = {"adult": "#0072B2", "child": "#E69F00", "unknown": "#CC79A7",
                      "all": "#009E73"}


def threshold_curve_title(finding: str) -> str:
    """A threshold plot's title, the same in the window and in both PDFs."""
    return f"{finding} threshold: found against wrongly called"


#: How the populations of a curves section are named in a legend.
POPULATION_WORDS = {"adult": "Adults", "child": "Children", "unknown": "Age unknown",
                    "all": "Every film, age not used"}


def age_group_populations(age_groups: Sequence[str | None] | None, *,
                          with_all: bool = False) -> list[CurvePopulation]:
    """A population per age group present, each decided at its own group's thresholds.

    Args:
        age_groups: Each film's ``adult``/``child``/``unknown`` (None: every age unknown).
        with_all: Also every film decided as if its age were unknown (the top-level
            thresholds: what the app does with a PNG, which carries no age).
    """
    groups = np.asarray(["unknown" if g is None else str(g) for g in age_groups]
                        if age_groups is not None else [], dtype=object)
    present = [g for g in ("adult", "child", "unknown") if (groups == g).any()]
    populations = [CurvePopulation(g, POPULATION_WORDS[g], groups == g, groups.tolist())
                   for g in present]
    if with_all and len(groups):
        populations.append(CurvePopulation("all", POPULATION_WORDS["all"],
                                           np.ones(len(groups), dtype=bool), None))
    return populations


@dataclass(frozen=True)
class CurveSet:
    """The curves of one population, as a section holds them.

    Attributes:
        key: The population's key (``adult``, ``child``, ``all`` ...).
        words: Its name in a legend.
        films: How many films it has.
        curves: ``{finding: curve}``.
    """

    key: str
    words: str
    films: int
    curves: dict[str, ThresholdCurve]


def curves_from_section(section: Any) -> dict[str, CurveSet]:
    """The populations' curves of a section :func:`curves_section` wrote, in its order.

    Returns:
        Empty when ``section`` is missing (an older card or record).

    Raises:
        ValueError: If the section is there but not one this version reads, quoting it.
    """
    if section is None:
        return {}
    if not isinstance(section, Mapping) or section.get("format") != CURVES_FORMAT \
            or not isinstance(section.get("populations"), Mapping):
        raise ValueError(f"threshold curves must be a section of format {CURVES_FORMAT}. "
                         f"Received: {str(section)[:200]!r}")
    out: dict[str, CurveSet] = {}
    for key, population in section["populations"].items():
        curves = population.get("curves") if isinstance(population, Mapping) else None
        if not isinstance(curves, Mapping):
            raise ValueError(f"threshold curves of {key!r} have no curves. "
                             f"Received: {str(population)[:200]!r}")
        out[key] = CurveSet(key, str(population.get("words", key)),
                            int(population.get("films", 0)),
                            {finding: ThresholdCurve.from_dict(curve)
                             for finding, curve in curves.items()})
    return out
