"""A measured figure in words, "12.3 % (8.1-17.0), n=140", and the key figures' names.

Every figure LungLens measures is ``{"value", "ci95", "n"}`` (or ``None`` when no image
supports it): the model card's populations, local validation, site calibration. The commands,
the PDF report, the window and the wizard all write one in words with :func:`format_figure`
(the window wraps its text in HTML, nothing more) and name the key figures by
:data:`KEY_FIGURES`, so a figure reads the same wherever it appears. Standard library only:
the model card opens with the main window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AGE_GROUP_LABELS",
    "FEW_IMAGES",
    "FEW_IMAGES_MARK",
    "FEW_IMAGES_NOTE",
    "KEY_FIGURES",
    "KeyFigure",
    "age_group_label",
    "clearly_better",
    "figure_text",
    "format_figure",
    "is_few",
]

#: Below this many images a 95 % interval is so wide that the value alone misleads.
FEW_IMAGES = 30
FEW_IMAGES_MARK = " *"
FEW_IMAGES_NOTE = f"* few images (under {FEW_IMAGES}): wide uncertainty"


@dataclass(frozen=True)
class KeyFigure:
    """One of the figures a model is judged by across populations.

    Attributes:
        key: Name in ``populations["key_figures"]``.
        label: Plain words for a clinician.
        short: A few words, for a narrow comparison table (``label`` goes in its tooltip).
        percent: Shown as a percentage (rates) rather than a 0-1 number (AUROC, ECE).
        higher_is_better: False for error rates.
    """

    key: str
    label: str
    short: str
    percent: bool
    higher_is_better: bool


#: In the order they are shown; the failures that made earlier models useless on adults first.
KEY_FIGURES: tuple[KeyFigure, ...] = (
    KeyFigure("adult_false_covid_rate",
              "Adults without COVID-19 labelled COVID-19 (false-COVID rate)",
              "Adults: false COVID-19", True, False),
    KeyFigure("adult_covid_sensitivity",
              "Adults with COVID-19 labelled COVID-19 (sensitivity)",
              "Adults: COVID-19 found", True, True),
    KeyFigure("nih_adult_normal_vs_pneumonia_auroc",
              "NIH adults, Normal vs Pneumonia (AUROC)",
              "NIH adults: Normal vs Pneumonia AUROC", False, True),
    KeyFigure("child_accuracy", "Children, accuracy (three classes)",
              "Children: accuracy", True, True),
    KeyFigure("child_normal_vs_pneumonia_accuracy",
              "Children with Normal or Pneumonia films labelled correctly",
              "Children: Normal vs Pneumonia accuracy", True, True),
    KeyFigure("ece", "Calibration error (ECE, all images; lower is better)",
              "Calibration error (ECE)", False, False),
)

AGE_GROUP_LABELS = {"adult": "Adults", "child": "Children", "unknown": "Age unknown"}


def age_group_label(group: str) -> str:
    """``adult`` -> ``Adults``; an unexpected group keeps its own name."""
    return AGE_GROUP_LABELS.get(group, group)


def _figure(entry: Any) -> Mapping[str, Any] | None:
    """The entry when it is a figure with a numeric value, else None."""
    if not isinstance(entry, Mapping):
        return None
    value = entry.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return entry


def _interval(entry: Mapping[str, Any]) -> tuple[float, float] | None:
    ci = entry.get("ci95")
    if (isinstance(ci, list | tuple) and len(ci) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in ci)):
        return float(ci[0]), float(ci[1])
    return None


def is_few(entry: Any) -> bool:
    """True when the figure rests on fewer than :data:`FEW_IMAGES` images."""
    figure = _figure(entry)
    n = figure.get("n") if figure is not None else None
    return isinstance(n, int) and n < FEW_IMAGES


def format_figure(entry: Any, *, percent: bool = True, with_n: bool = True,
                  flag_few: bool = True, missing: str = "no data",
                  decimals: int | None = None, in_words: bool = False) -> str:
    """``"12.3 % (8.1-17.0), n=140"``: value, 95 % interval and the images it rests on.

    The one formatter of a ``{value, ci95, n}`` figure: tables, reports, the panel and the
    card's sentences all use it, so a figure reads the same wherever it is shown.

    Args:
        entry: ``{"value", "ci95", "n"}`` or None (no image supports the figure).
        percent: Rates as percentages; AUROC and ECE as 0-1 numbers with three decimals.
        with_n: Append ``n=`` (off where a table has its own images column).
        flag_few: Append :data:`FEW_IMAGES_MARK` when ``n`` is below :data:`FEW_IMAGES`.
        missing: Text for a figure that could not be measured.
        decimals: Digits after the point (default: 1 for percentages, 3 for 0-1 numbers).
        in_words: For a sentence: ``"18.9 % of 164 films (95 % CI 11.5-26.7)"``.
    """
    figure = _figure(entry)
    if figure is None:
        return missing

    digits = decimals if decimals is not None else (1 if percent else 3)

    def number(value: float) -> str:
        return f"{100 * value:.{digits}f}" if percent else f"{value:.{digits}f}"

    text = number(float(figure["value"])) + (" %" if percent else "")
    interval = _interval(figure)
    if in_words:
        if isinstance(figure.get("n"), int):
            text += f" of {figure['n']} films"
        if interval is not None:
            text += f" (95 % CI {number(interval[0])}-{number(interval[1])})"
        return text
    if interval is not None:
        text += f" ({number(interval[0])}-{number(interval[1])})"
    if with_n and isinstance(figure.get("n"), int):
        text += f", n={figure['n']}"
    if flag_few and is_few(figure):
        text += FEW_IMAGES_MARK
    return text


def figure_text(entry: Any, *, percent: bool = True, decimals: int | None = None,
                missing: str = "n/a") -> str:
    """:func:`format_figure` as the commands and reports print it: no few-images mark."""
    return format_figure(entry, percent=percent, flag_few=False, missing=missing,
                         decimals=decimals)


def clearly_better(a: Any, b: Any, *, higher_is_better: bool) -> bool:
    """True when figure ``a`` beats ``b`` and their 95 % intervals do not overlap.

    A difference inside overlapping intervals is not evidence that one model is better,
    so the comparison only highlights the differences that are.
    """
    first, second = _figure(a), _figure(b)
    if first is None or second is None:
        return False
    ci_a, ci_b = _interval(first), _interval(second)
    if ci_a is None or ci_b is None:
        return False
    if higher_is_better:
        return ci_a[0] > ci_b[1]
    return ci_a[1] < ci_b[0]
