"""Temperature scaling and the decision operating point, both fitted on validation.

A network trained with cross-entropy is usually over-confident; one scalar temperature ``T``
(``softmax(logits / T)``, Guo et al., ICML 2017) fixes most of it without changing any
prediction's rank, so accuracy and AUROC are untouched. It is fitted on the validation split,
never on test, and stored in the card; the app applies it.

The operating point (:mod:`desktop_app.core.decision`) is chosen on the same validation
predictions: a finding's threshold is the one that reaches the target sensitivity with the
best specificity, so the app errs towards flagging disease.

:func:`decision_predictions` lives in :mod:`desktop_app.core.metrics.decisions` and the two
threshold rules in :mod:`desktop_app.core.metrics.thresholds` (local validation and site
calibration need them without TensorFlow); they are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from desktop_app.core.metrics.decisions import decision_predictions
from desktop_app.core.metrics.thresholds import (
    middle_of_tied,
    threshold_for_balance,
    threshold_for_false_positive_rate,
    threshold_for_sensitivity,
)
from model_training.metrics import (
    confusion_matrix,
    negative_log_likelihood,
    sensitivity_specificity,
    softmax,
)

__all__ = [
    "ADULT_PNEUMONIA_RULES",
    "CHILD_PNEUMONIA_RULES",
    "AgeGroupRule",
    "choose_decision",
    "decision_for_config",
    "decision_predictions",
    "describe_rule",
    "fit_temperature",
    "operating_point_settings",
    "threshold_for_false_positive_rate",
    "threshold_for_sensitivity",
]

#: A sensitivity target is only set from at least this many positive films.
MIN_POSITIVES = 5
#: An age group gets its own thresholds only with at least this many validation films.
MIN_GROUP_FILMS = 30
MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 20.0


def fit_temperature(logits: np.ndarray, labels: np.ndarray, *, tolerance: float = 1e-5) -> float:
    """Temperature minimising the validation negative log-likelihood.

    The NLL is convex in ``1/T``, so a golden-section search over ``log T`` in
    [0.05, 20] (the card's accepted range) finds the optimum without scipy.

    Args:
        logits: ``(n, classes)`` validation logits.
        labels: ``(n,)`` class indices.
        tolerance: Stop when the bracket in ``log T`` is narrower than this.

    Returns:
        The temperature.

    Raises:
        ValueError: If there are no rows, or shapes disagree, quoting them.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if logits.ndim != 2 or len(logits) == 0 or len(logits) != len(labels):
        raise ValueError(
            f"need matching non-empty logits (n, classes) and labels (n,). Received: logits "
            f"{logits.shape}, labels {labels.shape}"
        )

    def loss(log_t: float) -> float:
        return negative_log_likelihood(softmax(logits, math.exp(log_t)), labels)

    low, high = math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE)
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = loss(a), loss(b)
    while high - low > tolerance:
        if fa < fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = loss(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = loss(b)
    return float(math.exp((low + high) / 2.0))


def _finding_thresholds(
    probabilities: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    priority: Sequence[str],
    target_sensitivity: float,
    anchors: dict[str, tuple[np.ndarray, float]],
) -> dict[str, float]:
    """Each finding's threshold: the sensitivity target, raised where an anchor needs it.

    Args:
        probabilities: Calibrated probabilities, one row per film.
        labels: True class index per row.
        classes: Class names.
        priority: The findings, in the order the decision checks them.
        target_sensitivity: Sensitivity each finding's threshold aims at (findings with
            fewer than :data:`MIN_POSITIVES` positive films get no sensitivity threshold).
        anchors: Per finding, ``(rows, max_rate)``: at most ``max_rate`` of those rows (films
            without the finding) may reach the threshold.
    """
    thresholds: dict[str, float] = {}
    for name in priority:
        index = list(classes).index(name)
        positive = labels == index
        threshold = 1e-6
        if positive.sum() >= MIN_POSITIVES:
            threshold, _, _ = threshold_for_sensitivity(probabilities[:, index], positive,
                                                        target_sensitivity)
        if name in anchors:
            rows, max_rate = anchors[name]
            floor = threshold_for_false_positive_rate(probabilities[:, index],
                                                      rows & ~positive, max_rate)
            threshold = max(threshold, floor)
        thresholds[name] = round(float(threshold), 6)
    return thresholds


def _anchors(labels: np.ndarray, classes: Sequence[str], rows: np.ndarray,
             max_false_covid: float | None, max_false_pneumonia: float | None
             ) -> dict[str, tuple[np.ndarray, float]]:
    """The specificity anchors on ``rows``.

    COVID-19 is anchored on the rows' non-COVID films, Pneumonia on their Normal films only (a
    COVID-19 film labelled Pneumonia is a missed COVID-19, not a false Pneumonia).
    """
    anchors: dict[str, tuple[np.ndarray, float]] = {}
    if max_false_covid is not None and "COVID-19" in classes and rows.any():
        anchors["COVID-19"] = (rows, max_false_covid)
    if max_false_pneumonia is not None and {"Pneumonia", "Normal"} <= set(classes):
        normal = rows & (labels == list(classes).index("Normal"))
        if normal.any():
            anchors["Pneumonia"] = (normal, max_false_pneumonia)
    return anchors


#: How the adults' Pneumonia threshold is chosen (``by_age_group``; docs/operating_point.md):
#: ``anchor`` (at most ``max_false_pneumonia`` of adult normals reach it, 2026-12-06),
#: ``balanced`` (adult pneumonias found = adult normals spared, 2026-12-07) or ``overall``
#: (the threshold for all ages).
ADULT_PNEUMONIA_RULES = ("anchor", "balanced", "overall")
#: How the children's Pneumonia threshold is chosen: ``overall`` (the threshold for all
#: ages) or ``accuracy`` (the most children's validation films right).
CHILD_PNEUMONIA_RULES = ("overall", "accuracy")


@dataclass(frozen=True)
class AgeGroupRule:
    """How ``by_age_group`` thresholds are chosen (see :func:`choose_decision`).

    Attributes:
        target_sensitivity: Each finding's validation sensitivity target.
        max_false_covid: COVID-19 anchor on adult non-COVID films (``None``: none).
        max_false_pneumonia: Pneumonia anchor on adult Normal films (rule ``anchor``).
        child_max_false_covid: COVID-19 anchor on children's non-COVID films.
        adult_pneumonia: One of :data:`ADULT_PNEUMONIA_RULES`.
        child_pneumonia: One of :data:`CHILD_PNEUMONIA_RULES`.
    """

    target_sensitivity: float
    max_false_covid: float | None
    max_false_pneumonia: float | None
    child_max_false_covid: float | None
    adult_pneumonia: str = "anchor"
    child_pneumonia: str = "overall"

    def __post_init__(self) -> None:
        if self.adult_pneumonia not in ADULT_PNEUMONIA_RULES:
            raise ValueError(f"adult_pneumonia must be one of {ADULT_PNEUMONIA_RULES}. "
                             f"Received: {self.adult_pneumonia!r}")
        if self.child_pneumonia not in CHILD_PNEUMONIA_RULES:
            raise ValueError(f"child_pneumonia must be one of {CHILD_PNEUMONIA_RULES}. "
                             f"Received: {self.child_pneumonia!r}")


def _adult_thresholds(probabilities: np.ndarray, labels: np.ndarray, classes: Sequence[str],
                      priority: Sequence[str], overall: dict[str, float],
                      rule: AgeGroupRule) -> dict[str, float]:
    """Adults: every finding re-chosen on adult films; Pneumonia by ``rule.adult_pneumonia``."""
    everyone = np.ones(len(labels), dtype=bool)
    pneumonia_anchor = rule.max_false_pneumonia if rule.adult_pneumonia == "anchor" else None
    own = _finding_thresholds(
        probabilities, labels, classes, priority, rule.target_sensitivity,
        _anchors(labels, classes, everyone, rule.max_false_covid, pneumonia_anchor))
    # A finding with too few adult positives and no anchor keeps the overall threshold.
    own = {name: own[name] if own[name] > 1e-6 else overall[name] for name in priority}
    if "Pneumonia" in own and "Normal" in classes:
        pneumonia = list(classes).index("Pneumonia")
        positive = labels == pneumonia
        normal = labels == list(classes).index("Normal")
        if rule.adult_pneumonia == "overall":
            own["Pneumonia"] = overall["Pneumonia"]
        elif rule.adult_pneumonia == "balanced":
            own["Pneumonia"] = overall["Pneumonia"]
            if positive.sum() >= MIN_POSITIVES and normal.sum() >= MIN_POSITIVES:
                own["Pneumonia"] = round(threshold_for_balance(
                    probabilities[:, pneumonia], positive, normal), 6)
    return own


def _child_thresholds(probabilities: np.ndarray, labels: np.ndarray, classes: Sequence[str],
                      overall: dict[str, float], rule: AgeGroupRule) -> dict[str, float]:
    """Children: the overall thresholds, COVID-19 anchored, Pneumonia by ``child_pneumonia``.

    Their pneumonias are found at the overall sensitivity target (a 90 % target on children
    alone would give up pneumonias the model finds); COVID-19 is at least as strict as
    ``child_max_false_covid`` on their non-COVID films (the data holds almost no child
    COVID-19). With ``accuracy`` the Pneumonia threshold is the one that gets the most
    children's validation films right under the whole decision.
    """
    own = dict(overall)
    if rule.child_max_false_covid is not None and "COVID-19" in overall:
        covid = list(classes).index("COVID-19")
        floor = threshold_for_false_positive_rate(
            probabilities[:, covid], labels != covid, rule.child_max_false_covid)
        own["COVID-19"] = round(max(overall["COVID-19"], floor), 6)
    if rule.child_pneumonia == "accuracy" and "Pneumonia" in own:
        own["Pneumonia"] = _most_accurate_threshold(probabilities, labels, classes, own,
                                                    "Pneumonia")
    return own


def _most_accurate_threshold(probabilities: np.ndarray, labels: np.ndarray,
                             classes: Sequence[str], thresholds: dict[str, float],
                             finding: str) -> float:
    """``finding``'s threshold that labels the most films right, the others fixed.

    The middle of the best range of candidate scores (a margin on both sides).
    """
    index = list(classes).index(finding)
    candidates = np.unique(np.clip(probabilities[:, index], 1e-6, 1.0))
    spec = {"priority": _priority(classes), "min_confidence": 0.5, "strict_thresholds": True}
    correct = []
    for value in candidates:
        trial = {**spec, "thresholds": {**thresholds, finding: float(value)}}
        predicted, _ = decision_predictions(probabilities, classes, trial)
        correct.append(int((predicted == labels).sum()))
    scores = np.array(correct)
    return round(middle_of_tied(candidates, np.flatnonzero(scores == scores.max())), 6)


def _age_group_thresholds(
    probabilities: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    priority: Sequence[str],
    groups: np.ndarray,
    overall: dict[str, float],
    rule: AgeGroupRule,
) -> dict[str, dict[str, dict[str, float]]]:
    """``by_age_group`` thresholds for groups with at least :data:`MIN_GROUP_FILMS` films."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    adults, children = groups == "adult", groups == "child"
    if adults.sum() >= MIN_GROUP_FILMS:
        out["adult"] = {"thresholds": _adult_thresholds(
            probabilities[adults], labels[adults], classes, priority, overall, rule)}
    if children.sum() >= MIN_GROUP_FILMS:
        out["child"] = {"thresholds": _child_thresholds(
            probabilities[children], labels[children], classes, overall, rule)}
    return out


#: The training-config fields that make up the operating-point rule.
RULE_FIELDS = ("target_sensitivity", "max_false_covid", "max_false_pneumonia",
               "child_max_false_covid", "age_group_thresholds", "adult_pneumonia",
               "child_pneumonia")


def operating_point_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The rule's settings in ``config``; fields it lacks (older cards) take today's defaults."""
    from model_training.config import TrainingConfig

    defaults = TrainingConfig()
    return {name: config.get(name, getattr(defaults, name)) for name in RULE_FIELDS}


def describe_rule(setting: Mapping[str, Any]) -> str:
    """The rule of :func:`operating_point_settings` in words, for the card's ``decided``."""
    words = [f"{float(setting['target_sensitivity']):.0%} validation sensitivity per finding",
             "strict thresholds"]
    if setting.get("max_false_covid") is not None:
        words.append(f"COVID-19 anchored at {float(setting['max_false_covid']):.0%} of adult "
                     "non-COVID films")
    if setting.get("age_group_thresholds"):
        adult = {"anchor": f"anchored at {setting.get('max_false_pneumonia')} of adult normals",
                 "balanced": "balanced (adult pneumonias found = adult normals spared)",
                 "overall": "the all-ages threshold"}[str(setting["adult_pneumonia"])]
        child = {"overall": "the all-ages threshold",
                 "accuracy": "the most children's films right"}[str(setting["child_pneumonia"])]
        words.append(f"age-group thresholds (adults' Pneumonia {adult}; children's Pneumonia "
                     f"{child})")
    return ", ".join(words) + " (docs/operating_point.md)"


def decision_for_config(
    probabilities: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    age_groups: Sequence[str] | None,
    config: Mapping[str, Any],
) -> dict[str, Any]:
    """The ``decision`` section by a training config's operating-point rule.

    One place for every export (``train``, ``loso``, the wizard) and for re-deciding an
    existing bundle (``python -m model_training decide``). ``config`` is a
    :class:`~model_training.config.TrainingConfig` as a mapping; a card's older config
    without the anchors gets the current defaults.
    """
    setting = operating_point_settings(config)
    return choose_decision(
        probabilities, labels, classes,
        target_sensitivity=float(setting["target_sensitivity"]),
        age_groups=age_groups, max_false_covid=setting["max_false_covid"],
        max_false_pneumonia=setting["max_false_pneumonia"],
        child_max_false_covid=setting["child_max_false_covid"],
        by_age_group=bool(setting["age_group_thresholds"]) and age_groups is not None,
        pneumonia_anchor_unknown_age=False,
        adult_pneumonia=str(setting["adult_pneumonia"]),
        child_pneumonia=str(setting["child_pneumonia"]),
    )


def choose_decision(
    probabilities: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    *,
    target_sensitivity: float = 0.95,
    min_confidence: float = 0.55,
    age_groups: Sequence[str] | None = None,
    max_false_covid: float | None = None,
    max_false_pneumonia: float | None = None,
    child_max_false_covid: float | None = None,
    by_age_group: bool = False,
    pneumonia_anchor_unknown_age: bool = True,
    adult_pneumonia: str = "anchor",
    child_pneumonia: str = "overall",
) -> dict[str, Any]:
    """The card's ``decision`` section, chosen on calibrated validation probabilities.

    Every class other than ``Normal`` gets a threshold reaching ``target_sensitivity`` with the
    best specificity; COVID-19 is checked first, and a finding below its threshold is never
    the answer (``strict_thresholds``: the one-vs-rest rule the thresholds are chosen by).
    The measured operating point (on the given data, i.e. validation) is stored for display.

    **Specificity anchors** (the rule for sites the model never saw, 2026-12-06;
    docs/operating_point.md): in-collection validation films reach the sensitivity target at
    thresholds that an unseen collection's normal adults cross far more often. With
    ``max_false_covid`` the COVID-19 threshold is raised where needed so that at most that
    share of the *adult* non-COVID validation films reaches it; with ``max_false_pneumonia``
    the Pneumonia threshold likewise for adult Normal films. ``age_groups`` (per row) says
    which films are adults. Without ``pneumonia_anchor_unknown_age`` the Pneumonia anchor
    applies only to the ``adult`` thresholds of ``by_age_group``: a film of unknown age may be
    a child's, whose pneumonias a stricter threshold would miss.

    With ``by_age_group`` the card also gets ``by_age_group`` thresholds for ``adult`` and
    ``child`` films (used where the film or the data gives the age), chosen by the same rule
    on that group's validation films; children's COVID-19 threshold is anchored by
    ``child_max_false_covid`` on their non-COVID films (the data holds almost no child
    COVID-19). The top-level thresholds stay the rule for films of unknown age.
    ``adult_pneumonia`` and ``child_pneumonia`` say how each group's Pneumonia threshold is
    chosen (:data:`ADULT_PNEUMONIA_RULES`, :data:`CHILD_PNEUMONIA_RULES`).
    """
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    priority = _priority(classes)
    groups = np.asarray(age_groups if age_groups is not None else ["unknown"] * len(labels))
    thresholds = _finding_thresholds(
        probabilities, labels, classes, priority, target_sensitivity,
        _anchors(labels, classes, groups == "adult", max_false_covid,
                 max_false_pneumonia if pneumonia_anchor_unknown_age else None))
    decision: dict[str, Any] = {"priority": priority, "thresholds": thresholds,
                                "min_confidence": float(min_confidence),
                                "strict_thresholds": True}
    if by_age_group:
        rule = AgeGroupRule(target_sensitivity, max_false_covid, max_false_pneumonia,
                            child_max_false_covid, adult_pneumonia, child_pneumonia)
        own_groups = _age_group_thresholds(probabilities, labels, classes, priority, groups,
                                           thresholds, rule)
        if own_groups:
            decision["by_age_group"] = own_groups
    decision["operating_point"] = _measured_operating_point(probabilities, labels, classes,
                                                            decision, target_sensitivity)
    decision["operating_point"].update(_anchor_settings(
        max_false_covid, max_false_pneumonia if adult_pneumonia == "anchor" or not by_age_group
        else None, pneumonia_anchor_unknown_age, child_max_false_covid if by_age_group else None))
    if by_age_group:
        decision["operating_point"].update({"adult_pneumonia": adult_pneumonia,
                                            "child_pneumonia": child_pneumonia})
    return decision


def _priority(classes: Sequence[str]) -> list[str]:
    """The order findings are checked in: COVID-19, Pneumonia, then the other findings."""
    priority = [c for c in ("COVID-19", "Pneumonia") if c in classes]
    return priority + [c for c in classes if c not in priority and c != "Normal"]


def _anchor_settings(max_false_covid: float | None, max_false_pneumonia: float | None,
                     pneumonia_anchor_unknown_age: bool,
                     child_max_false_covid: float | None) -> dict[str, Any]:
    """The specificity anchors in force, for the operating point's record."""
    anchored = {"max_adult_false_covid": max_false_covid,
                "max_adult_false_pneumonia": max_false_pneumonia,
                "pneumonia_anchor_unknown_age": pneumonia_anchor_unknown_age
                if max_false_pneumonia is not None else None,
                "max_child_false_covid": child_max_false_covid}
    return {k: v for k, v in anchored.items() if v is not None}


def _measured_operating_point(probabilities: np.ndarray, labels: np.ndarray,
                              classes: Sequence[str], decision: dict[str, Any],
                              target_sensitivity: float) -> dict[str, Any]:
    """The decision's operating point on the given (validation) films, for display."""
    predicted, uncertain = decision_predictions(probabilities, classes, decision)
    matrix = confusion_matrix(labels, predicted, len(classes))
    return {
        "measured_on": "validation",
        "ages": "unknown (the top-level thresholds)",
        "n": len(labels),
        "target_sensitivity": target_sensitivity,
        "accuracy": float((predicted == labels).mean()),
        "uncertain_fraction": float(uncertain.mean()),
        "per_class": {
            name: dict(zip(("sensitivity", "specificity"),
                           sensitivity_specificity(matrix, i), strict=True))
            for i, name in enumerate(classes)
        },
    }
