"""Shortcuts in a dataset: what the metadata alone gives away about the class.

A network learns whatever separates the classes most cheaply. When every COVID-19 image comes
from web pages and journal figures and every Normal image from one children's hospital, the
cheapest cue is where the image comes from (markers, contrast, image size, the patient's age),
not the lungs, and the test split, drawn from the same sources, rewards it. This module
measures such confounding from the dataset table alone (no pixels), so the dataset check can
say how strong each shortcut is before any training starts:

* **Composition** - images per class, source and age group (and split): :func:`composition`.
* **Classes that live in their own sources** - all images of a class come from sources that
  hold at most :data:`EXCLUSIVE_SOURCE_SHARE` (10 %) of the other classes' images (always a
  strong shortcut); and sources that hold a single class (strong when they hold at least half
  of that class, a warning from a tenth, a note below).
* **Guessing from metadata alone** (:func:`shortcut_score`) - for each group (a source, an age
  group, or a view inside one source) guess its commonest class; report the accuracy over all
  images, the balanced accuracy (mean per-class recall) and the always-the-commonest-class
  baseline. Also, for each class, how well the best metadata-only rule tells that class from
  all others (sensitivity, specificity): a factor that says nothing about Normal versus
  Pneumonia can still give COVID-19 away completely, which the all-class figure hides.

Strength of a shortcut, from the balanced accuracies (chance is 0.5 for one class against the
rest and 1/k for k classes, so the same threshold is stricter for the all-class guess):

* ``strong`` - the all-class guess or a class-against-the-rest rule reaches
  :data:`STRONG_BALANCED_ACCURACY` (0.9): metadata alone nearly solves (part of) the task;
* ``moderate`` - one of them reaches :data:`WARNING_BALANCED_ACCURACY` (0.8);
* ``weak`` - only the all-class guess reaches :data:`NOTE_BALANCED_ACCURACY` (0.6): a cue
  worth knowing (a note, not a warning).

Strong and moderate shortcuts are warnings (results may be biased; training can still run);
weak ones are notes. Rows whose age group is unknown form their own group "unknown", and an
empty view is the group "unknown": missing metadata is itself a property of some sources.

No TensorFlow, no Qt: pandas only, so the dataset check stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pandas as pd

__all__ = [
    "EXCLUSIVE_SOURCE_SHARE",
    "MIN_VIEW_CLASS_IMAGES",
    "NOTE_BALANCED_ACCURACY",
    "SINGLE_SOURCE_STRONG_SHARE",
    "SINGLE_SOURCE_WARNING_SHARE",
    "STRONG_BALANCED_ACCURACY",
    "WARNING_BALANCED_ACCURACY",
    "ClassSeparation",
    "ConfoundingWarning",
    "GroupCount",
    "ShortcutScore",
    "composition",
    "find_confounding",
    "shortcut_score",
]

#: Balanced accuracy of a metadata-only guess from which a shortcut is "strong".
STRONG_BALANCED_ACCURACY = 0.9
#: From here a shortcut is a warning ("moderate"): 80 % balanced accuracy from where an image
#: comes from, or the patient's age, is more than many published models reach on the lungs.
WARNING_BALANCED_ACCURACY = 0.8
#: From here the all-class guess is reported as a "weak" shortcut (a note).
NOTE_BALANCED_ACCURACY = 0.6
#: A class "lives in its own sources" when the sources holding it hold at most this share of
#: the images of all other classes (then "image from these sources" alone finds the class with
#: 100 % sensitivity and at least 90 % specificity).
EXCLUSIVE_SOURCE_SHARE = 0.10
#: A single-class source holding at least this share of its class is a strong shortcut, at
#: least :data:`SINGLE_SOURCE_WARNING_SHARE` a moderate one, anything smaller a weak one.
SINGLE_SOURCE_STRONG_SHARE = 0.5
SINGLE_SOURCE_WARNING_SHARE = 0.1
#: Inside a source, only classes with at least this many images enter the view check: the
#: recall of a class of 3 images is noise.
MIN_VIEW_CLASS_IMAGES = 10
UNKNOWN = "unknown"
#: Age groups in display order (model_training.datasets.AGE_GROUPS, repeated to stay import-free).
_AGE_ORDER = ("child", "adult", UNKNOWN)
_SEVERITY = {"strong": "warning", "moderate": "warning", "weak": "info"}


@dataclass(frozen=True)
class GroupCount:
    """Images of one class, source and age group.

    Attributes:
        label: Class name.
        source: Source name.
        age_group: ``"child"``, ``"adult"`` or ``"unknown"``.
        per_split: ``{split: count}`` (``"(none)"`` for rows without a split).
        total: All images of the group.
    """

    label: str
    source: str
    age_group: str
    per_split: dict[str, int]
    total: int


@dataclass(frozen=True)
class ClassSeparation:
    """How well a metadata-only rule tells one class from all the others.

    The rule is the best one for balanced accuracy: call a group "this class" when the class
    is over-represented in it (its share of the class's images exceeds its share of the other
    images) - what a model trained with balanced class weights would pick up.

    Attributes:
        sensitivity: Share of the class's images the rule calls this class.
        specificity: Share of the other images the rule calls not this class.
        balanced_accuracy: Mean of the two.
        groups: The groups the rule calls this class.
    """

    sensitivity: float
    specificity: float
    balanced_accuracy: float
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class ShortcutScore:
    """What guessing the class from one metadata factor alone achieves.

    Attributes:
        factor: ``"source"``, ``"age_group"`` or ``"view"``.
        within_source: For ``"view"``: the source the guess is made inside; else None.
        images: Images the guess is made on.
        accuracy: Share right when each group is given its commonest class.
        balanced_accuracy: Mean per-class recall of that guess.
        baseline_accuracy: Share right when always guessing the commonest class.
        baseline_class: That commonest class.
        guess: ``{group: its commonest class}``.
        groups: ``{group: {class: images}}``, the counts the guess is made from.
        per_class: ``{class: ClassSeparation}`` for each class against all others (one entry
            when there are only two classes: the second class against the first).
        strength: ``"strong"``, ``"moderate"``, ``"weak"`` or ``"none"`` (module docstring).
    """

    factor: str
    within_source: str | None
    images: int
    accuracy: float
    balanced_accuracy: float
    baseline_accuracy: float
    baseline_class: str
    guess: dict[str, str]
    groups: dict[str, dict[str, int]]
    per_class: dict[str, ClassSeparation] = field(default_factory=dict)
    strength: str = "none"

    @property
    def best_balanced_accuracy(self) -> float:
        """The highest of the all-class and the class-against-the-rest balanced accuracies."""
        return max([self.balanced_accuracy,
                    *(s.balanced_accuracy for s in self.per_class.values())])

    def describe(self) -> str:
        """One line for the report: the factor and its figures."""
        where = f"view inside {self.within_source!r}" if self.within_source else \
            self.factor.replace("_", " ")
        text = (f"{where}: right for {_percent(self.accuracy)} of {self.images} images, "
                f"balanced accuracy {self.balanced_accuracy:.2f} (always the commonest class, "
                f"{self.baseline_class}: {_percent(self.baseline_accuracy)})")
        if len(self.per_class) > 1:
            text += "; each class against the rest, balanced accuracy " + ", ".join(
                f"{name} {s.balanced_accuracy:.2f}" for name, s in self.per_class.items())
        return f"{text} [{self.strength}]"


@dataclass(frozen=True)
class ConfoundingWarning:
    """One shortcut a model can learn instead of the disease.

    Attributes:
        kind: ``class_only_in_own_sources``, ``single_class_source``,
            ``source_predicts_class``, ``age_group_predicts_class`` or
            ``view_predicts_class``.
        strength: ``"strong"``, ``"moderate"`` or ``"weak"``.
        severity: ``"warning"`` (strong, moderate) or ``"info"`` (weak).
        message: Sentences for a clinician, quoting the numbers.
        numbers: The figures behind the message (JSON-ready).
    """

    kind: str
    strength: str
    severity: str
    message: str
    numbers: dict[str, Any]


def _percent(value: float) -> str:
    return f"{round(100 * value)} %"


def _join(names: Sequence[str], word: str = "and") -> str:
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + f" {word} " + names[-1]


def _strength(overall: float, best: float) -> str:
    if best >= STRONG_BALANCED_ACCURACY:
        return "strong"
    if best >= WARNING_BALANCED_ACCURACY:
        return "moderate"
    if overall >= NOTE_BALANCED_ACCURACY:
        return "weak"
    return "none"


def _warning(kind: str, strength: str, message: str, numbers: dict[str, Any]
             ) -> ConfoundingWarning:
    return ConfoundingWarning(kind, strength, _SEVERITY[strength], message, numbers)


def _column(table: pd.DataFrame, name: str, default: str) -> pd.Series:
    """A metadata column as clean strings; tables from older readers may lack it."""
    if name not in table.columns:
        return pd.Series([default] * len(table), index=table.index, dtype=object)
    values = table[name].astype(object).where(table[name].notna(), "")
    values = values.astype(str).str.strip()
    return values.where(values != "", default)


def _split_name(value: object) -> str:
    return str(value) if value is not None and not pd.isna(value) else "(none)"


def _class_order(table: pd.DataFrame, classes: Sequence[str] | None) -> list[str]:
    present = set(table["label"].astype(str))
    ordered = [c for c in (classes or []) if c in present]
    return ordered + sorted(present - set(ordered))


def composition(table: pd.DataFrame, classes: Sequence[str] | None = None
                ) -> list[GroupCount]:
    """Images per class, source and age group, per split and in total.

    Args:
        table: A dataset table (:func:`model_training.datasets.read_dataset`).
        classes: Class order for the rows (default: alphabetical).

    Returns:
        One row per non-empty (class, source, age group), in class order, then source, then
        age group (child, adult, unknown).
    """
    if table.empty:
        return []
    frame = pd.DataFrame({
        "label": table["label"].astype(str),
        "source": _column(table, "source", UNKNOWN),
        "age_group": _column(table, "age_group", UNKNOWN),
        "split": table["split"].map(_split_name) if "split" in table.columns else "(none)",
    })
    order = {name: i for i, name in enumerate(_class_order(table, classes))}
    ages = {name: i for i, name in enumerate(_AGE_ORDER)}
    rows: list[GroupCount] = []
    for (label, source, age), group in frame.groupby(["label", "source", "age_group"]):
        per_split = {str(k): int(v) for k, v in group["split"].value_counts().sort_index().items()}
        rows.append(GroupCount(str(label), str(source), str(age), per_split, len(group)))
    rows.sort(key=lambda r: (order.get(r.label, len(order)), r.source,
                             ages.get(r.age_group, len(ages)), r.age_group))
    return rows


def _separation(counts: pd.DataFrame, name: str) -> ClassSeparation:
    """Best group-only rule for ``name`` against the rest (see :class:`ClassSeparation`)."""
    positive = counts[name]
    negative = counts.sum(axis=1) - positive
    n_pos, n_neg = int(positive.sum()), int(negative.sum())
    if n_pos == 0 or n_neg == 0:
        return ClassSeparation(1.0, 1.0, 1.0, tuple(str(g) for g in counts.index))
    calls = positive / n_pos > negative / n_neg
    sensitivity = float(positive[calls].sum() / n_pos)
    specificity = float(negative[~calls].sum() / n_neg)
    return ClassSeparation(sensitivity, specificity, (sensitivity + specificity) / 2,
                           tuple(str(g) for g in counts.index[calls]))


def shortcut_score(labels: pd.Series, groups: pd.Series, classes: Sequence[str] | None = None,
                   *, factor: str, within_source: str | None = None) -> ShortcutScore | None:
    """Score guessing ``labels`` from ``groups`` alone (see the module docstring).

    Args:
        labels: Class of each image.
        groups: Group of each image (source, age group, view), aligned with ``labels``.
        classes: Class order, used to break ties between equally common classes.
        factor: Name of the factor, for the report.
        within_source: The source the guess is made inside (view only).

    Returns:
        The score, or None when there are fewer than two classes or fewer than two groups
        (nothing to guess, or nothing to guess from).
    """
    labels = labels.astype(str).reset_index(drop=True)
    groups = groups.astype(str).reset_index(drop=True)
    present = set(labels)
    order = [c for c in (classes or []) if c in present] + sorted(
        present - set(classes or []))
    if len(order) < 2 or groups.nunique() < 2:
        return None
    counts = pd.crosstab(groups, labels).reindex(columns=order, fill_value=0)
    totals = counts.sum(axis=0)
    images = int(totals.sum())
    # idxmax keeps the first column on ties: the task's class order decides, reproducibly.
    guess = {str(g): str(counts.loc[g].idxmax()) for g in counts.index}
    correct = sum(int(counts.at[g, c]) for g, c in guess.items())
    recalls = [sum(int(counts.at[g, name]) for g, c in guess.items() if c == name)
               / int(totals[name]) for name in order]
    baseline_class = str(totals.idxmax())
    # With two classes "A against the rest" and "B against the rest" are one rule: keep one.
    separated = order[1:] if len(order) == 2 else order
    per_class = {name: _separation(counts, name) for name in separated}
    balanced = float(sum(recalls) / len(recalls))
    score = ShortcutScore(
        factor=factor, within_source=within_source, images=images,
        accuracy=correct / images, balanced_accuracy=balanced,
        baseline_accuracy=int(totals.max()) / images, baseline_class=baseline_class,
        guess=guess,
        groups={str(g): {c: int(counts.at[g, c]) for c in order} for g in counts.index},
        per_class=per_class,
    )
    return replace(score, strength=_strength(balanced, score.best_balanced_accuracy))


def _others(order: Sequence[str], name: str) -> str:
    return _join([c for c in order if c != name], "or")


def _exclusive_sources(labels: pd.Series, sources: pd.Series, order: list[str]
                       ) -> list[ConfoundingWarning]:
    """Classes whose sources hold (almost) no images of the other classes."""
    if sources.nunique() < 2:
        return []
    counts = pd.crosstab(sources, labels).reindex(columns=order, fill_value=0)
    total = int(counts.to_numpy().sum())
    warnings = []
    for name in order:
        mine = counts[counts[name] > 0]
        n_class = int(counts[name].sum())
        n_other = total - n_class
        if n_class == 0 or n_other == 0:
            continue
        other_inside = int(mine.drop(columns=[name]).to_numpy().sum())
        share = other_inside / n_other
        if share > EXCLUSIVE_SOURCE_SHARE:
            continue
        names = [str(s) for s in mine.index]
        where = (f"source {names[0]!r}" if len(names) == 1 else
                 f"sources ({', '.join(names)})")
        verb = "holds" if len(names) == 1 else "hold"
        if other_inside == 0:
            held = f"{verb} no {_others(order, name)} images"
        else:
            held = (f"{verb} almost no {_others(order, name)} images ({other_inside} of the "
                    f"{n_other}, {_percent(share)})")
        every = "The" if n_class == 1 else "All"
        message = (
            f"{every} {n_class} {name} image{'s' if n_class != 1 else ''} come from {where} "
            f"that {held}: a model can learn to recognise the source (hospital, scanner, "
            f"labels and markers, image processing) instead of the disease, and a test split "
            f"from the same sources will not notice.")
        warnings.append(_warning("class_only_in_own_sources", "strong", message, {
            "class": name, "images": n_class, "sources": names,
            "other_images_in_sources": other_inside, "other_images": n_other,
            "other_share": share,
        }))
    return warnings


def _single_class_sources(labels: pd.Series, sources: pd.Series, order: list[str],
                          skip: set[str]) -> list[ConfoundingWarning]:
    """Sources whose images are all of one class (except those in ``skip``)."""
    if sources.nunique() < 2 or labels.nunique() < 2:
        return []
    counts = pd.crosstab(sources, labels).reindex(columns=order, fill_value=0)
    totals = counts.sum(axis=0)
    warnings = []
    for source, row in counts.iterrows():
        present = [c for c in order if row[c] > 0]
        if len(present) != 1 or str(source) in skip:
            continue
        name = present[0]
        images = int(row[name])
        share = images / int(totals[name])
        strength = ("strong" if share >= SINGLE_SOURCE_STRONG_SHARE else
                    "moderate" if share >= SINGLE_SOURCE_WARNING_SHARE else "weak")
        message = (
            f"Every image from source {str(source)!r} ({images}) is {name}; that is "
            f"{_percent(share)} of all {name} images. Anything typical of this source can "
            f"stand in for the diagnosis.")
        warnings.append(_warning("single_class_source", strength, message, {
            "source": str(source), "class": name, "images": images,
            "class_images": int(totals[name]), "class_share": share,
        }))
    return warnings


def _group_order(score: ShortcutScore) -> list[str]:
    ages = {name: i for i, name in enumerate(_AGE_ORDER)}
    return sorted(score.groups, key=lambda g: (ages.get(g, len(ages)), g)) \
        if score.factor == "age_group" else list(score.groups)


def _score_message(score: ShortcutScore) -> str:
    word = score.factor.replace("_", " ")
    subject = f"the {word} of an image" if score.factor == "source" else \
        f"the {word} ({_join(_group_order(score), 'or')}) of an image"
    prefix = f"Inside source {score.within_source!r}, knowing only " if score.within_source \
        else "Knowing only "
    text = (f"{prefix}{subject} gives the right class for {_percent(score.accuracy)} of "
            f"{score.images} images (balanced accuracy {score.balanced_accuracy:.2f}; always "
            f"guessing the commonest class, {score.baseline_class}: "
            f"{_percent(score.baseline_accuracy)}).")
    classes = list(score.groups[next(iter(score.groups))])
    for name, separation in score.per_class.items():
        if separation.balanced_accuracy < WARNING_BALANCED_ACCURACY:
            continue
        rest = "the other classes" if len(classes) > 2 else _others(classes, name)
        text += (f" Guessing {name} exactly when the {word} is "
                 f"{_join(separation.groups, 'or')} separates {name} from {rest} with "
                 f"{_percent(separation.sensitivity)} sensitivity and "
                 f"{_percent(separation.specificity)} specificity.")
    if len(score.groups) <= 4:
        parts = []
        for group in _group_order(score):
            counts = score.groups[group]
            name = score.guess[group]
            parts.append(f"{group}: {counts[name]} of {sum(counts.values())} {name}")
        text += " Commonest class per " + word + ": " + "; ".join(parts) + "."
    age = ("to tell a child's chest from an adult's" if "child" in score.groups else
           "the patient's age")
    consequence = {
        "source": " A model can score well by recognising where an image comes from; "
                  "judge it on its results per source.",
        "age_group": f" A model can learn {age} instead of the disease; judge it on its "
                     "results per age group.",
        "view": " A model can learn the projection (AP or PA) instead of the disease.",
    }[score.factor]
    return text + consequence


def _score_warning(score: ShortcutScore) -> ConfoundingWarning:
    numbers: dict[str, Any] = {
        "factor": score.factor, "within_source": score.within_source, "images": score.images,
        "accuracy": score.accuracy, "balanced_accuracy": score.balanced_accuracy,
        "baseline_accuracy": score.baseline_accuracy, "baseline_class": score.baseline_class,
        "guess": dict(score.guess),
        "per_class": {name: asdict(s) for name, s in score.per_class.items()},
    }
    return _warning(f"{score.factor}_predicts_class", score.strength, _score_message(score),
                    numbers)


def find_confounding(table: pd.DataFrame, classes: Sequence[str] | None = None
                     ) -> tuple[list[ShortcutScore], list[ConfoundingWarning]]:
    """Measure the shortcuts in a dataset table.

    Args:
        table: A dataset table with ``label`` and ``source`` and, optionally, ``age_group``
            and ``view`` columns.
        classes: The task's classes (their order breaks ties and orders the output).

    Returns:
        ``(scores, warnings)``: every metadata-only guess that could be made (source, age
        group, view inside each source with two or more classes of at least
        :data:`MIN_VIEW_CLASS_IMAGES` images and two or more views), and the warnings and
        notes, strongest first.
    """
    if table.empty:
        return [], []
    labels = table["label"].astype(str).reset_index(drop=True)
    sources = _column(table, "source", UNKNOWN).reset_index(drop=True)
    ages = _column(table, "age_group", UNKNOWN).reset_index(drop=True)
    views = _column(table, "view", UNKNOWN).reset_index(drop=True)
    order = _class_order(table, classes)

    warnings = _exclusive_sources(labels, sources, order)
    # A class living in one source of its own is said once, by the warning above.
    covered = {w.numbers["sources"][0] for w in warnings if len(w.numbers["sources"]) == 1}
    warnings += _single_class_sources(labels, sources, order, covered)

    scores: list[ShortcutScore] = []
    for factor, groups in (("source", sources), ("age_group", ages)):
        score = shortcut_score(labels, groups, order, factor=factor)
        if score is not None:
            scores.append(score)
    for source in sorted(sources.unique()):
        inside = sources == source
        counts = labels[inside].value_counts()
        kept = [c for c in order if counts.get(c, 0) >= MIN_VIEW_CLASS_IMAGES]
        rows = inside & labels.isin(kept)
        if len(kept) < 2:
            continue
        score = shortcut_score(labels[rows], views[rows], order, factor="view",
                               within_source=str(source))
        if score is not None:
            scores.append(score)
    warnings += [_score_warning(s) for s in scores if s.strength != "none"]
    rank = {"strong": 0, "moderate": 1, "weak": 2}
    warnings.sort(key=lambda w: rank[w.strength])
    return scores, warnings
