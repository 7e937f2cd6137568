"""A site's operating point: finding thresholds chosen on the site's own labelled films.

The model's thresholds were chosen on validation films from the public sources it was trained
on; at a site it never saw, the same probability means something else (docs/operating_point.md:
unseen adult normals are called COVID-19 far more often than validation promised). With the
site's labelled films the thresholds are chosen again, by the rule the model's own were
(strict thresholds, :mod:`desktop_app.core.decision`), on the site's films:

* **COVID-19**: at most ``max_false_covid`` of the site's non-COVID films reach it
  (:func:`~desktop_app.core.metrics.thresholds.threshold_for_false_positive_rate`), and at
  least ``target_sensitivity`` of its COVID-19 films
  (:func:`~desktop_app.core.metrics.thresholds.threshold_for_sensitivity`). When both can be
  met the threshold is placed half-way between the two limits, so neither figure sits on its
  edge for the films that come next. When they conflict, the model does not tell COVID-19
  from the site's other pneumonias: the limit is then kept on the site's *normal* films
  (calling a normal film COVID-19 is the harm the limit is for; another pneumonia called
  COVID-19 is still flagged as disease), half-way to the sensitivity limit if that is
  possible, else at the normals' limit; with too few normal films to do that the model's
  threshold is kept (the site's films cannot justify a move that would make COVID-19 go
  unfound). Every such case is said in the calibration's warnings with the figures.
* **Pneumonia**: the same with ``max_false_pneumonia`` of the site's normal films (in a
  conflict the false-positive limit is kept: it is already on the normal films).
* **For the films that come next**, not only for these: a rate measured on n films is only
  known to about one standard error, and a threshold placed exactly at ``max_false_covid`` on
  the calibration films lands above it on the next films half of the time (measured on the
  simulated site, docs/site_calibration.md). Each limit is therefore aimed one standard error
  inside: the false-positive share aimed at is the largest whose Wilson bound (z = 1, about
  84 % one-sided) is within the maximum, and the sensitivity aimed at the smallest whose lower
  bound reaches the target (:func:`confident_rate`). More films, less margin.
* With too few films of a kind (:data:`MIN_NEGATIVES`, :data:`MIN_POSITIVES`) that side of the
  rule is not used; with neither, the model's threshold stays, and the notes say so. Without
  films *lacking* the finding, a threshold is never lowered below the model's: a site that
  gives only COVID-19 films would otherwise get a model that calls everything COVID-19, at a
  false-positive cost none of its films can show.
* **Age groups** keep their own thresholds where the model has them: a group the site gave
  enough films of is chosen on those films; a group it gave none of keeps the model's
  thresholds, its COVID-19 threshold raised to at least the site's (the site measured how
  often its films are called COVID-19 below that).

Nothing here reads images: :func:`site_decision` works on the probabilities the classify
path measured (:mod:`desktop_app.core.site.site_films`), so cross-validation is cheap.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from desktop_app.core.metrics.intervals import wilson_interval
from desktop_app.core.metrics.threshold_curves import findings_of, with_threshold
from desktop_app.core.metrics.thresholds import (
    threshold_for_false_positive_rate,
    threshold_for_sensitivity,
)

__all__ = [
    "MIN_NEGATIVES", "MIN_POSITIVES", "SET_BY_HAND", "ThresholdSettings", "check_fixed",
    "confident_rate", "site_decision",
]

COVID = "COVID-19"
PNEUMONIA = "Pneumonia"
NORMAL = "Normal"
#: A false-positive limit is only set from at least this many films without the finding.
MIN_NEGATIVES = 20
#: A sensitivity target is only set from at least this many films with the finding.
MIN_POSITIVES = 5


@dataclass(frozen=True)
class ThresholdSettings:
    """The site's operating-point rule.

    Attributes:
        max_false_covid: Largest share of the site's non-COVID films called COVID-19.
        target_sensitivity: Share of each finding's films the threshold should find.
        max_false_pneumonia: Largest share of the site's normal films called Pneumonia.
        fixed: Thresholds set by hand (``calibrate --threshold``, the calibration dialog's
            curves), ``{finding: threshold}``: used as given, for every age group, instead
            of being chosen from the targets above.
    """

    max_false_covid: float = 0.05
    target_sensitivity: float = 0.90
    max_false_pneumonia: float = 0.10
    fixed: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("max_false_covid", "target_sensitivity", "max_false_pneumonia"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within 0..1. Received: {value!r}")
        for name, value in self.fixed.items():
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not 0.0 < float(value) <= 1.0:
                raise ValueError(f"the threshold for {name!r} must be in (0, 1] (above 0, at "
                                 f"most 1). Received: {value!r}")


#: How a threshold set by hand is recorded (``set_by``).
SET_BY_HAND = "by hand (calibrate --threshold or the calibration dialog's curves)"


def check_fixed(fixed: Mapping[str, float], decision: Mapping[str, Any],
                classes: Sequence[str]) -> None:
    """Refuse a threshold set by hand for a class that has none (a typo, or Normal).

    Raises:
        ValueError: Quoting the name and naming the model's findings and classes.
    """
    findings = findings_of(decision, classes)
    for name in fixed:
        if name not in findings:
            what = "is not one of the model's classes" if name not in classes else \
                "has no threshold (a film is labelled with it when no finding reaches its own)"
            raise ValueError(f"{name!r} {what}; thresholds can be set for: "
                             f"{', '.join(findings)} (the model's classes: "
                             f"{', '.join(classes)})")


#: Standard errors a limit is aimed inside (see module docs).
CONFIDENCE_Z = 1.0


def confident_rate(n: int, limit: float, *, upper: bool) -> float:
    """The share to aim at on ``n`` films so the next films meet ``limit`` (module docs).

    Args:
        n: Films the share is measured on.
        limit: The maximum (``upper``: a false-positive share) or minimum (a sensitivity).
        upper: True for a maximum, False for a minimum.

    Returns:
        For a maximum, the largest ``k / n`` whose upper Wilson bound is at most ``limit``
        (0 when even no false positive is not enough); for a minimum, the smallest ``k / n``
        whose lower bound is at least ``limit`` (1 when none is).
    """
    if n <= 0:
        return limit
    bounds = [wilson_interval(k, n, CONFIDENCE_Z) for k in range(n + 1)]
    if upper:
        fits = [k for k, (_low, high) in enumerate(bounds) if high <= limit]
        return max(fits) / n if fits else 0.0
    fits = [k for k, (low, _high) in enumerate(bounds) if low >= limit]
    return min(fits) / n if fits else 1.0


def _false_positive_limit(scores: np.ndarray, negative: np.ndarray, max_false: float
                          ) -> tuple[float, float]:
    """The threshold aimed one standard error inside ``max_false``, and the share aimed at."""
    aimed = confident_rate(int(negative.sum()), max_false, upper=True)
    return threshold_for_false_positive_rate(scores, negative, aimed), aimed


def _finding_threshold(
    scores: np.ndarray, positive: np.ndarray, negative: np.ndarray, max_false: float,
    target: float, model_threshold: float, *, finding: str, negatives_are: str,
    normals: np.ndarray | None = None,
) -> tuple[float, dict[str, Any]]:
    """One finding's threshold, how it was set and, where it matters, why in plain words.

    Args:
        scores: The finding's probability per film.
        positive: Films with the finding.
        negative: Films without it that must stay below ``max_false``.
        max_false: The false-positive maximum.
        target: The sensitivity target.
        model_threshold: The model's own threshold (kept where the site cannot set one).
        finding: The finding's name, for the note.
        negatives_are: What ``negative`` holds, in words ("non-COVID films"), for the note.
        normals: For COVID-19, the normal films among ``negative``: when the limit on all
            non-COVID films and the sensitivity target conflict (the model does not tell
            COVID-19 from other pneumonias here), the limit is kept on the normals (see
            module docs).
    """
    n_pos, n_neg = int(positive.sum()), int(negative.sum())
    record: dict[str, Any] = {"positives": n_pos, "negatives": n_neg}
    spec_limit = sens_limit = None
    if n_neg >= MIN_NEGATIVES:
        spec_limit, record["false_positive_aimed_at"] = _false_positive_limit(
            scores, negative, max_false)
        record["false_positive_limit"] = round(spec_limit, 6)
    if n_pos >= MIN_POSITIVES:
        mask = positive | negative
        aimed = confident_rate(n_pos, target, upper=False)
        sens_limit, _, _ = threshold_for_sensitivity(scores[mask], positive[mask], aimed)
        record["sensitivity_limit"] = round(sens_limit, 6)
        record["sensitivity_aimed_at"] = aimed
    threshold = _settled_threshold(record, spec_limit, sens_limit, model_threshold, scores,
                                   normals, max_false)
    record["threshold"] = round(float(threshold), 6)
    if n_pos:
        record["sensitivity"] = float((scores[positive] >= threshold).mean())
    if n_neg:
        record["false_positive_rate"] = float((scores[negative] >= threshold).mean())
    if normals is not None and normals.any():
        record["normals_false_positive_rate"] = float((scores[normals] >= threshold).mean())
    note = _note(record, finding, negatives_are, max_false, target)
    if note:
        record["note"] = note
    return float(threshold), record


def _settled_threshold(record: dict[str, Any], spec_limit: float | None,
                       sens_limit: float | None, model_threshold: float, scores: np.ndarray,
                       normals: np.ndarray | None, max_false: float) -> float:
    """The threshold the two limits (either may be missing) give; ``set_by`` says how."""
    if spec_limit is not None and sens_limit is not None:
        return _reconciled(record, spec_limit, sens_limit, model_threshold, scores, normals,
                           max_false)
    if spec_limit is not None:
        threshold, record["set_by"] = spec_limit, "false_positive_limit"
    elif sens_limit is not None and sens_limit >= model_threshold:
        # Raising the threshold towards the sensitivity limit keeps the target met and
        # can only lower false positives.
        threshold, record["set_by"] = sens_limit, "sensitivity_limit (raised only)"
    elif sens_limit is not None:
        # Lowering it would find more, at a false-positive cost no film here can show.
        threshold, record["set_by"] = model_threshold, "model (lowering it needs films " \
            "without the finding)"
    else:
        threshold, record["set_by"] = model_threshold, "model (too few films)"
    return threshold


def _reconciled(record: dict[str, Any], spec_limit: float, sens_limit: float,
                model_threshold: float, scores: np.ndarray, normals: np.ndarray | None,
                max_false: float) -> float:
    """Both limits known: half-way when they agree; on a conflict, the normals' limit."""
    if sens_limit >= spec_limit:
        threshold, record["set_by"] = (spec_limit + sens_limit) / 2, "both"
    elif normals is not None and int(normals.sum()) >= MIN_NEGATIVES:
        normal_limit, _ = _false_positive_limit(scores, normals, max_false)
        record["normal_limit"] = round(normal_limit, 6)
        if sens_limit >= normal_limit:
            threshold = (normal_limit + sens_limit) / 2
            record["set_by"] = "normals and sensitivity (conflict on all non-COVID films)"
        else:
            threshold = normal_limit
            record["set_by"] = "normals limit (conflict)"
    elif normals is not None:
        threshold, record["set_by"] = model_threshold, "model (conflict, too few normals)"
    else:
        threshold, record["set_by"] = spec_limit, "false_positive_limit (conflict)"
    return threshold


def _note(record: Mapping[str, Any], finding: str, negatives_are: str, max_false: float,
          target: float) -> str | None:
    """What a reader must know about how a threshold was set, in plain words."""
    set_by = record["set_by"]
    found = f"{record.get('sensitivity', 0):.0%} of the {finding} films found"
    called = f"{record.get('false_positive_rate', 0):.0%} of the {negatives_are} called {finding}"
    both = (f"at most {max_false:.0%} of the {negatives_are} called {finding} and "
            f"{target:.0%} of the {finding} films found cannot both be met on this site's films")
    if set_by == "false_positive_limit (conflict)":
        return f"{both}; the first was kept: {found}"
    if set_by.startswith("normals"):
        return (f"{both} (the model does not tell it apart from the other pneumonias here); "
                f"the limit was kept on the normal films instead: {found}, "
                f"{record.get('normals_false_positive_rate', 0):.0%} of the normal films and "
                f"{called}")
    if set_by == "model (conflict, too few normals)":
        return (f"{both}, and there are too few normal films (at least {MIN_NEGATIVES}) to "
                f"keep the limit on them alone; the model's threshold was kept: {found}, "
                f"{called}")
    if set_by.startswith("model (lowering"):
        return (f"at the model's threshold {found} (target {target:.0%}); lowering it would "
                f"find more, but the site gave too few {negatives_are} (at least "
                f"{MIN_NEGATIVES}) to show what that would cost, so it was kept")
    return None


def _thresholds(probabilities: np.ndarray, truths: Sequence[str | None],
                classes: Sequence[str], model: Mapping[str, float],
                settings: ThresholdSettings) -> tuple[dict[str, float], dict[str, Any]]:
    truth = np.array([t if t is not None else "" for t in truths], dtype=object)
    labelled = truth != ""
    thresholds = dict(model)
    records: dict[str, Any] = {}
    if COVID in classes and COVID in model:
        scores = probabilities[:, list(classes).index(COVID)]
        thresholds[COVID], records[COVID] = _finding_threshold(
            scores, truth == COVID, labelled & (truth != COVID), settings.max_false_covid,
            settings.target_sensitivity, float(model[COVID]), finding=COVID,
            negatives_are="non-COVID films", normals=truth == NORMAL)
    if PNEUMONIA in classes and PNEUMONIA in model:
        scores = probabilities[:, list(classes).index(PNEUMONIA)]
        thresholds[PNEUMONIA], records[PNEUMONIA] = _finding_threshold(
            scores, truth == PNEUMONIA, truth == NORMAL, settings.max_false_pneumonia,
            settings.target_sensitivity, float(model[PNEUMONIA]), finding=PNEUMONIA,
            negatives_are="normal films")
    return {k: round(float(v), 6) for k, v in thresholds.items()}, records


def site_decision(
    decision: Mapping[str, Any],
    probabilities: np.ndarray,
    truths: Sequence[str | None],
    age_groups: Sequence[str],
    classes: Sequence[str],
    settings: ThresholdSettings,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The card's ``decision`` section with the site's thresholds.

    Args:
        decision: The model card's ``decision`` section.
        probabilities: ``(n, classes)`` calibrated probabilities of the site's films.
        truths: Each film's label, ``None`` when unlabelled (ignored here).
        age_groups: Each film's age group (``child``, ``adult``, ``unknown``).
        classes: The card's classes.
        settings: The site's rule.

    Returns:
        ``(decision, record)``: the new section (strict thresholds; priority and
        ``min_confidence`` kept) and, per scope (``all`` and each age group), how each
        threshold was set.
    """
    out = copy.deepcopy(dict(decision))
    out.pop("operating_point", None)  # the model's validation figures describe the old point
    out["strict_thresholds"] = True
    probabilities = np.asarray(probabilities, dtype=np.float64)
    groups = np.array(list(age_groups), dtype=object)
    labelled = np.array([t is not None for t in truths])
    model_top = {k: float(v) for k, v in decision["thresholds"].items()}
    top, record_all = _thresholds(probabilities, truths, classes, model_top, settings)
    out["thresholds"] = top
    records: dict[str, Any] = {"all": record_all}
    for group, entry in (decision.get("by_age_group") or {}).items():
        model_group = {**model_top, **{k: float(v) for k, v in entry["thresholds"].items()}}
        rows = (groups == group) & labelled
        truths_group = [truths[i] for i in np.flatnonzero(rows)]
        negatives = sum(t != COVID for t in truths_group)
        if negatives >= MIN_NEGATIVES:
            chosen, record = _thresholds(probabilities[rows], truths_group, classes,
                                         model_group, settings)
        else:
            chosen = dict(model_group)
            if COVID in chosen and COVID in top:
                chosen[COVID] = max(chosen[COVID], top[COVID])
            record = {"set_by": f"model, COVID-19 at least the site's ({negatives} "
                                f"{group} films without COVID-19: fewer than {MIN_NEGATIVES})"}
        out["by_age_group"][group] = {**entry, "thresholds": {k: round(float(v), 6)
                                                              for k, v in chosen.items()}}
        records[group] = record
    return _with_fixed(out, records, probabilities, truths, classes, settings.fixed)


def _with_fixed(decision: dict[str, Any], records: dict[str, Any], probabilities: np.ndarray,
                truths: Sequence[str | None], classes: Sequence[str],
                fixed: Mapping[str, float]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The thresholds set by hand, for every age group, and what they give on these films."""
    if not fixed:
        return decision, records
    check_fixed(fixed, decision, classes)
    truth = np.array([t if t is not None else "" for t in truths], dtype=object)
    for finding, value in fixed.items():
        decision = with_threshold(decision, finding, round(float(value), 6))
        scores = probabilities[:, list(classes).index(finding)] if len(truth) else np.zeros(0)
        positive = truth == finding
        negative = (truth == NORMAL) if finding == PNEUMONIA else \
            (truth != "") & (truth != finding)
        record: dict[str, Any] = {"positives": int(positive.sum()),
                                  "negatives": int(negative.sum()),
                                  "threshold": round(float(value), 6), "set_by": SET_BY_HAND}
        if positive.any():
            record["sensitivity"] = float((scores[positive] >= value).mean())
        if negative.any():
            record["false_positive_rate"] = float((scores[negative] >= value).mean())
        # Set for every age group: each scope's record says so (measured on all the films).
        for scope in records:
            records[scope] = {**records[scope], finding: record}
    return decision, records
