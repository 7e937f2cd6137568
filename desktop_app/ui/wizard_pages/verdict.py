"""The stated rule that decides whether a new model is at least as good as the installed one.

Counting which model has more better-looking numbers rewards noise: on a few hundred held-out
films, most differences between two models are inside their uncertainty. So the wizard
compares the two models on the figures that matter for a clinic's patients, each with its
95 % confidence interval on the same held-out images, and calls a difference only where the
intervals do not overlap:

* **macro AUROC** (all classes, all images): how well the model ranks the films at all;
* the **adult false-COVID rate**: adults without COVID-19 labelled COVID-19 (the failure that
  made an earlier model useless on adults);
* **adult COVID-19 sensitivity**: adults with COVID-19 labelled COVID-19.

No Qt here: the Results and Install pages and their tests share it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from desktop_app.core.metrics.figures import clearly_better, format_figure

__all__ = [
    "BETTER",
    "NOT_COMPARED",
    "NO_DIFFERENCE",
    "RULE",
    "WORSE",
    "FigureVerdict",
    "Verdict",
    "compare_figure",
    "macro_auroc_figure",
    "verdict",
]

BETTER = "better"
WORSE = "worse"
NO_DIFFERENCE = "no measurable difference"
NOT_COMPARED = "not compared"

#: The rule in words, shown on the Results page above the figures it is applied to.
RULE = (
    "Rule: the new model is compared with the installed one on macro AUROC, the adult "
    "false-COVID rate and adult COVID-19 sensitivity, each with its 95 % confidence interval "
    "on the same held-out images. A figure is \u201cbetter\u201d when the new model's "
    "interval lies wholly on the better side of the installed model's, \u201cworse\u201d "
    "when wholly on the worse side, and \u201cno measurable difference\u201d when the "
    "intervals overlap. The new model is at least as good when no figure is worse; install "
    "it only then."
)


@dataclass(frozen=True)
class _Figure:
    label: str
    percent: bool
    higher_is_better: bool


_MACRO_AUROC = _Figure("Macro AUROC (all classes, all images)", False, True)
_FALSE_COVID = _Figure("Adults without COVID-19 labelled COVID-19 (false-COVID rate)", True,
                       False)
_ADULT_COVID = _Figure("Adults with COVID-19 labelled COVID-19 (sensitivity)", True, True)


@dataclass(frozen=True)
class FigureVerdict:
    """The rule applied to one figure.

    Attributes:
        label: The figure in words.
        new: The new model's value, interval and images, as text.
        installed: The installed model's, as text.
        outcome: :data:`BETTER`, :data:`WORSE`, :data:`NO_DIFFERENCE` or :data:`NOT_COMPARED`
            (from the new model's side).
        why: For :data:`NOT_COMPARED`, what is missing.
    """

    label: str
    new: str
    installed: str
    outcome: str
    why: str = ""


@dataclass(frozen=True)
class Verdict:
    """The rule applied to both models.

    Attributes:
        figures: One :class:`FigureVerdict` per figure that decides.
    """

    figures: tuple[FigureVerdict, ...]

    def with_outcome(self, outcome: str) -> list[FigureVerdict]:
        """The figures with this outcome."""
        return [figure for figure in self.figures if figure.outcome == outcome]

    @property
    def compared(self) -> bool:
        """True when at least one figure could be compared."""
        return any(figure.outcome != NOT_COMPARED for figure in self.figures)

    @property
    def at_least_as_good(self) -> bool:
        """No figure worse, and at least one compared."""
        return self.compared and not self.with_outcome(WORSE)


def _figure(entry: Any) -> Mapping[str, Any] | None:
    if not isinstance(entry, Mapping):
        return None
    value = entry.get("value")
    return entry if isinstance(value, int | float) and not isinstance(value, bool) else None


def _has_interval(entry: Mapping[str, Any]) -> bool:
    ci = entry.get("ci95")
    return isinstance(ci, list | tuple) and len(ci) == 2


def macro_auroc_figure(metrics: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Macro AUROC with a 95 % interval, from an evaluation's ``populations`` section.

    Uses ``populations.overall.macro_auroc`` when the evaluation has it. Otherwise the
    interval is built from the per-class one-vs-rest AUROC intervals: the mean of the lower
    ends to the mean of the upper ends. That is at least as wide as a joint bootstrap
    interval (it assumes the classes' errors move together), so it claims a difference less
    readily, never more. None when the evaluation has no per-class AUROC with intervals.
    """
    populations = metrics.get("populations") if isinstance(metrics, Mapping) else None
    if not isinstance(populations, Mapping):
        return None
    overall = populations.get("overall")
    direct = _figure(overall.get("macro_auroc")) if isinstance(overall, Mapping) else None
    if direct is not None:
        return dict(direct)
    per_class = populations.get("per_class")
    if not isinstance(per_class, Mapping) or not per_class:
        return None
    entries = [_figure(values.get("auroc")) if isinstance(values, Mapping) else None
               for values in per_class.values()]
    if any(entry is None or not _has_interval(entry) for entry in entries):
        return None
    count = len(entries)
    sizes = [entry.get("n") for entry in entries]
    return {
        "value": sum(float(entry["value"]) for entry in entries) / count,
        "ci95": [sum(float(entry["ci95"][0]) for entry in entries) / count,
                 sum(float(entry["ci95"][1]) for entry in entries) / count],
        "n": max(sizes) if all(isinstance(n, int) for n in sizes) else None,
    }


def _key_figure(metrics: Mapping[str, Any] | None, key: str) -> Any:
    populations = metrics.get("populations") if isinstance(metrics, Mapping) else None
    figures = populations.get("key_figures") if isinstance(populations, Mapping) else None
    return figures.get(key) if isinstance(figures, Mapping) else None


def compare_figure(new: Any, installed: Any, *, higher_is_better: bool) -> tuple[str, str]:
    """The rule on one figure: (outcome, what is missing when not compared)."""
    missing = [name for name, entry in (("the new model", new), ("the installed model",
                                                                   installed))
               if _figure(entry) is None]
    if missing:
        return NOT_COMPARED, f"not measured for {' and '.join(missing)}"
    no_interval = [name for name, entry in (("the new model", new), ("the installed model",
                                                                       installed))
                   if not _has_interval(entry)]
    if no_interval:
        return NOT_COMPARED, f"no confidence interval for {' and '.join(no_interval)}"
    if clearly_better(new, installed, higher_is_better=higher_is_better):
        return BETTER, ""
    if clearly_better(installed, new, higher_is_better=higher_is_better):
        return WORSE, ""
    return NO_DIFFERENCE, ""


def verdict(new: Mapping[str, Any], current: Mapping[str, Any] | None) -> Verdict:
    """Apply :data:`RULE` to the new model's and the installed model's test metrics."""
    pairs = (
        (_MACRO_AUROC, macro_auroc_figure(new), macro_auroc_figure(current)),
        (_FALSE_COVID, _key_figure(new, "adult_false_covid_rate"),
         _key_figure(current, "adult_false_covid_rate")),
        (_ADULT_COVID, _key_figure(new, "adult_covid_sensitivity"),
         _key_figure(current, "adult_covid_sensitivity")),
    )
    figures = []
    for figure, new_entry, installed_entry in pairs:
        outcome, why = compare_figure(new_entry, installed_entry,
                                      higher_is_better=figure.higher_is_better)
        figures.append(FigureVerdict(
            figure.label,
            format_figure(new_entry, percent=figure.percent, missing="not measured"),
            "—" if current is None else format_figure(installed_entry, percent=figure.percent,
                                                     missing="not measured"),
            outcome, why))
    return Verdict(tuple(figures))
