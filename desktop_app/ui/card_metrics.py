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

if TYPE_CHECKING:
    from desktop_app.core.model_card import ModelCard

__all__ = [
    "ClassMetrics",
    "calibration_summary",
    "class_metrics",
    "format_metric",
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
