"""Finding the figures a clinician asks for in a model card's ``metrics`` section.

The training code writes metrics per split (``metrics["test"]["overall"]["per_class"]...``,
``metrics["test"]["operating_point"]``, ``["per_source"]``, ``["shortcut_audit"]``); older or
hand-written cards may use a flat ``metrics["per_class"][class]``. The result panel, the model
card dialog and the PDF report all read them through these helpers, so the lookup order — and
the honest "not reported" when a figure is missing — is the same everywhere.

Preference: the held-out **test** split over validation, and sensitivity/specificity measured
**at the operating point** (the decision the app shows) over the argmax figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from desktop_app.core.metrics.figures import FEW_IMAGES, age_group_label, format_figure, is_few

if TYPE_CHECKING:
    from desktop_app.core.model.model_card import ModelCard
    from desktop_app.core.patient_age import PatientAge

__all__ = [
    "ClassMetrics",
    "GroupFigure",
    "age_group_figures",
    "age_group_populations",
    "age_words",
    "calibration_summary",
    "class_metrics",
    "format_metric",
    "group_table",
    "leave_one_source_out_rows",
    "plain_limits",
    "population_lines",
    "split_section",
]

_SPLITS = ("test", "validation")


def format_metric(value: Any, *, percent: bool = True) -> str:
    """Render a metric, or "not reported" when it is missing or not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "not reported"
    return f"{value:.1%}" if percent else f"{value:.3f}"


@dataclass(frozen=True)
class ClassMetrics:
    """Measured performance for one class.

    Attributes:
        sensitivity: Recall of the class (``None`` if not reported).
        specificity: True-negative rate against the other classes.
        auroc: One-vs-rest area under the ROC curve.
        where: What the figures were measured on, e.g. "test set (n=594), at the operating
            point"; empty when nothing is reported.
    """

    sensitivity: float | None
    specificity: float | None
    auroc: float | None
    where: str

    @property
    def reported(self) -> bool:
        """True when at least one figure is known."""
        return any(v is not None for v in (self.sensitivity, self.specificity, self.auroc))


def _number(node: Any, key: str) -> float | None:
    value = node.get(key) if isinstance(node, Mapping) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def split_section(card: ModelCard, key: str) -> tuple[str, Any]:
    """``metrics[key]`` at the top level, else in the test or validation split.

    Returns:
        (split name or "", the section or ``None``).
    """
    flat = card.metric(key)
    if flat is not None:
        return "", flat
    for split in _SPLITS:
        section = card.metric(split, key)
        if section is not None:
            return split, section
    return "", None


def class_metrics(card: ModelCard, name: str) -> ClassMetrics:
    """Sensitivity, specificity and AUROC of class ``name``, wherever the card keeps them."""
    flat = card.metric("per_class", name)
    if isinstance(flat, Mapping):
        return ClassMetrics(_number(flat, "sensitivity"), _number(flat, "specificity"),
                            _number(flat, "auroc"), "held-out test set")
    for split in _SPLITS:
        overall = card.metric(split, "overall", "per_class", name)
        at_point = card.metric(split, "operating_point", "per_class", name)
        if not isinstance(overall, Mapping) and not isinstance(at_point, Mapping):
            continue
        point = at_point if isinstance(at_point, Mapping) else {}
        base = overall if isinstance(overall, Mapping) else {}
        sensitivity = _number(point, "sensitivity")
        specificity = _number(point, "specificity")
        if sensitivity is None:
            sensitivity = _number(base, "sensitivity")
        if specificity is None:
            specificity = _number(base, "specificity")
        size = card.metric(split, "n")
        where = f"{split} set" + (f" (n={size})" if isinstance(size, int) else "")
        if point:
            where += ", at the operating point"
        return ClassMetrics(sensitivity, specificity, _number(base, "auroc"), where)
    return ClassMetrics(None, None, None, "")


def calibration_summary(card: ModelCard) -> dict[str, Any]:
    """Temperature and the calibration error before/after it, as label -> value."""
    summary: dict[str, Any] = {"temperature (logits are divided by it)": card.temperature}
    flat = card.metric("calibration")
    if isinstance(flat, Mapping):
        summary.update(flat)
        return summary
    for split in _SPLITS:
        after = card.metric(split, "overall")
        before = card.metric(split, "uncalibrated")
        if not isinstance(after, Mapping):
            continue
        for key, label in (("ece", "expected calibration error"), ("nll", "negative log-lik.")):
            if key in after:
                summary[f"{label}, calibrated ({split})"] = after[key]
            if isinstance(before, Mapping) and key in before:
                summary[f"{label}, uncalibrated ({split})"] = before[key]
        break
    return summary


@dataclass(frozen=True)
class GroupFigure:
    """One figure measured separately per age group (``adult``, ``child``).

    Attributes:
        label: Plain words, e.g. "COVID-19 found (sensitivity)".
        per_group: Age group -> ``{"value", "ci95", "n"}`` (None when no image supports it).
        percent: Shown as a percentage.
    """

    label: str
    per_group: dict[str, Any]
    percent: bool = True


def age_group_populations(card: ModelCard) -> tuple[str, Mapping[str, Any] | None]:
    """The card's ``populations`` section when it has figures per age group.

    Returns:
        (split name, the section), or (split or "", None) for cards without such figures
        (older models, hand-written cards).
    """
    split, populations = split_section(card, "populations")
    if isinstance(populations, Mapping) and isinstance(populations.get("per_age_group"),
                                                       Mapping) and populations["per_age_group"]:
        return split, populations
    return split, None


def age_group_figures(populations: Mapping[str, Any], class_name: str,
                      groups: tuple[str, ...]) -> list[GroupFigure]:
    """The figures the result panel shows for a label of ``class_name``, per age group.

    The card measures sensitivity per class and group, the three-class accuracy per group and,
    for COVID-19, how often films without it are labelled COVID-19 (the failure that matters
    most on adults). Per-class specificity is measured on all images only, so it is not here.
    """
    per_age = populations.get("per_age_group")
    per_age = per_age if isinstance(per_age, Mapping) else {}

    def entry(group: str, *keys: str) -> Any:
        node: Any = per_age.get(group)
        for key in keys:
            node = node.get(key) if isinstance(node, Mapping) else None
        return node

    figures = [GroupFigure(f"{class_name} found (sensitivity)",
                           {g: entry(g, "per_class", class_name, "sensitivity") for g in groups})]
    if class_name == "COVID-19":
        figures.append(GroupFigure("Films without COVID-19 labelled COVID-19",
                                   {g: entry(g, "labelled_covid_non_covid") for g in groups}))
    figures.append(GroupFigure("Accuracy (all three classes)",
                               {g: entry(g, "accuracy") for g in groups}))
    return figures


def age_words(age: PatientAge | None) -> str:
    """``"45 years (DICOM PatientAge 045Y)"`` or ``"unknown (PNG files carry no patient age)"``."""
    if age is None:
        return "unknown (no image shown)"
    if age.known:
        return f"{age.describe()} ({age.source})" if age.source else age.describe()
    return f"unknown ({age.reason})" if age.reason else "unknown"


def population_lines(card: ModelCard, class_name: str, age: PatientAge | None) -> list[str]:
    """The result panel's population figures as plain lines, for the PDF report.

    The patient's age group when known (adults are 18 and over), else adults and children;
    a card without figures per age group says so and gives its overall figures.
    """
    lines = [f"Patient's age: {age_words(age)}."]
    split, populations = age_group_populations(card)
    if populations is None:
        measured = class_metrics(card, class_name)
        where = f" (measured on the {measured.where})" if measured.reported else ""
        lines.append(f"Model performance for {class_name}{where}: sensitivity "
                     f"{format_metric(measured.sensitivity)}, specificity "
                     f"{format_metric(measured.specificity)}.")
        lines.append("This model's card has no figures per age group (older model), so these "
                     "are over all its test images and may not hold for this patient.")
        return lines
    measured_groups = set(populations["per_age_group"])
    group = age.age_group if age is not None else "unknown"
    groups = ((group,) if group in ("adult", "child") and group in measured_groups
              else tuple(g for g in ("adult", "child") if g in measured_groups))
    where = {"test": "held-out test", "validation": "validation"}.get(split, "reported")
    lines.append(f"Measured performance for a {class_name} label on the model's {where} "
                 "images, value (95 % CI), images:")
    few = False
    for figure in age_group_figures(populations, class_name, groups):
        for g in groups:
            entry = figure.per_group.get(g)
            few = few or is_few(entry)
            lines.append(f"  {age_group_label(g)} — {figure.label}: "
                         f"{format_figure(entry, percent=figure.percent, missing='no images')}")
    if few:
        lines.append(f"  * rests on few images (under {FEW_IMAGES}): wide uncertainty, do not "
                     "rely on it.")
    return lines


def group_table(groups: Mapping[str, Any], *, label: Any = str) -> list[list[str]]:
    """Rows ``[group, images, accuracy, non-COVID labelled COVID-19, ECE]`` (texts)."""
    rows = []
    for group, figures in groups.items():
        if not isinstance(figures, Mapping):
            continue
        rows.append([
            str(label(group)), str(figures.get("n", "—")),
            format_figure(figures.get("accuracy"), with_n=False, missing="—"),
            format_figure(figures.get("labelled_covid_non_covid"), missing="—"),
            format_figure(figures.get("ece"), percent=False, with_n=False, missing="—"),
        ])
    return rows


def leave_one_source_out_rows(card: ModelCard) -> list[list[str]]:
    """The leave-one-source-out runs as rows of text (empty when the card has none).

    Each row: source left out, its test images, COVID-19 found, non-COVID films labelled
    COVID-19, accuracy.
    """
    study = card.metric("leave_one_source_out")
    runs = study.get("runs") if isinstance(study, Mapping) else None
    rows = []
    for run in runs if isinstance(runs, list) else []:
        if not isinstance(run, Mapping):
            continue
        rows.append([
            str(run.get("source", "?")), str(run.get("test_images", "—")),
            format_figure(run.get("covid_sensitivity"), missing="—"),
            format_figure(run.get("non_covid_labelled_covid"), missing="—"),
            format_figure(run.get("accuracy"), missing="—"),
        ])
    return rows


#: A figure inside a sentence: "18.9 % of 164 films (95 % CI 11.5-26.7)".
_SENTENCE: dict[str, Any] = {"in_words": True, "flag_few": False,
                             "missing": "— (not measured)"}


def _value(entry: Any) -> float | None:
    value = entry.get("value") if isinstance(entry, Mapping) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def plain_limits(card: ModelCard) -> list[str]:
    """What the card's figures mean for a clinic, in plain sentences built from the figures.

    Says who the figures were measured on, where they rest on few images, how a hospital the
    model never saw fared (leave one source out), and what is not measured at all.
    """
    limits: list[str] = []
    _, populations = age_group_populations(card)
    if populations is None:
        limits.append("This card has no figures per age group or per source (older model): "
                      "how well the model does on adults, on children and on each hospital's "
                      "films is not known. Check it on your own labelled films first.")
    else:
        limits += _population_limits(populations)
    study = card.metric("leave_one_source_out")
    runs = study.get("runs") if isinstance(study, Mapping) else None
    if isinstance(runs, list) and runs:
        for run in runs:
            if not isinstance(run, Mapping):
                continue
            found = format_figure(run.get("covid_sensitivity"), **_SENTENCE)
            false = format_figure(run.get("non_covid_labelled_covid"), **_SENTENCE)
            limits.append(
                f"With every {run.get('source', '?')} film left out of training (a hospital "
                f"the model never saw), COVID-19 was found in {found} and films without "
                f"COVID-19 were labelled COVID-19 in {false}: at a new "
                "site expect worse figures than on the test set, and validate the model on "
                "your own films before relying on it.")
    else:
        limits.append("No leave-one-source-out test is recorded: how the model does at a "
                      "hospital whose films it never saw is not measured.")
    return limits


def _population_limits(populations: Mapping[str, Any]) -> list[str]:
    """False COVID-19 in adults, adults against children, and the thinly tested groups."""
    limits: list[str] = []
    per_age = populations.get("per_age_group") or {}
    adult, child = per_age.get("adult"), per_age.get("child")
    key = populations.get("key_figures") if isinstance(populations.get("key_figures"),
                                                       Mapping) else {}
    false_covid = key.get("adult_false_covid_rate")
    rate = _value(false_covid)
    if rate is not None and rate > 0:
        limits.append(
            "Adults without COVID-19 were labelled COVID-19 in "
            f"{format_figure(false_covid, **_SENTENCE)}, "
            f"about 1 in {max(1, round(1 / rate))}: "
            "a COVID-19 label on an adult needs confirming by other means.")
    adult_acc = _value(adult.get("accuracy")) if isinstance(adult, Mapping) else None
    child_acc = _value(child.get("accuracy")) if isinstance(child, Mapping) else None
    if adult_acc is not None and child_acc is not None:
        adult_n, child_n = adult.get("n", 0), child.get("n", 0)
        mostly = (" The test images are mostly children's films, so an overall figure "
                  "flatters the model on adults." if child_n > adult_n else "")
        limits.append(f"Accuracy is {adult_acc:.0%} on adults ({adult_n} films) and "
                      f"{child_acc:.0%} on children ({child_n} films).{mostly}")
    return limits + _thin_group_limits(per_age, populations.get("per_source") or {})


def _thin_group_limits(per_age: Mapping[str, Any], sources: Mapping[str, Any]) -> list[str]:
    """Groups, and classes within an age group, tested on fewer than FEW_IMAGES films."""
    limits: list[str] = []
    few = [f"{age_group_label(g).lower()} ({f.get('n')})" for g, f in per_age.items()
           if isinstance(f, Mapping) and isinstance(f.get("n"), int) and f["n"] < FEW_IMAGES]
    few += [f"{s} ({f.get('n')})" for s, f in sources.items()
            if isinstance(f, Mapping) and isinstance(f.get("n"), int) and f["n"] < FEW_IMAGES]
    if few:
        limits.append(f"Figures for {', '.join(few)} rest on fewer than {FEW_IMAGES} test "
                      "films each: their intervals are wide and the values unreliable.")
    for group, figures in per_age.items():
        classes = figures.get("per_class") if isinstance(figures, Mapping) else None
        if not isinstance(classes, Mapping) or group == "unknown":
            continue
        thin = [name for name, entry in classes.items() if isinstance(entry, Mapping)
                and isinstance(entry.get("n"), int) and entry["n"] < FEW_IMAGES]
        if thin:
            limits.append(f"{age_group_label(group)}: fewer than {FEW_IMAGES} "
                          f"{' or '.join(thin)} films were tested, so those labels on "
                          f"{age_group_label(group).lower()} are not really measured.")
    return limits
