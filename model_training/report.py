"""The training report: one JSON file and PNG figures (matplotlib, Agg backend).

Figures: training curves (loss, accuracy, AUROC; train and validation), ROC curves per class,
confusion matrices (argmax and at the operating point), and reliability diagrams before and
after temperature scaling - all from the test split.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model_training.calibration import decision_predictions
from model_training.metrics import confusion_matrix, reliability_bins, roc_curve, softmax

__all__ = ["write_report"]


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display in workers and CI
    import matplotlib.pyplot as plt

    return plt


def plot_history(history: Mapping[str, Sequence[float]], path: Path) -> None:
    """Loss / accuracy / AUROC per epoch, train and validation."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for axis, key in zip(axes, ("loss", "accuracy", "auroc"), strict=True):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + key)
            if values:
                axis.plot(range(1, len(values) + 1), values, style,
                          label="validation" if prefix else "train")
        axis.set_title(key)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_roc(probabilities: np.ndarray, labels: np.ndarray, classes: Sequence[str],
             path: Path, aurocs: Mapping[str, Any]) -> None:
    """One-vs-rest ROC curve per class."""
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(5, 5))
    for index, name in enumerate(classes):
        positive = labels == index
        if positive.any() and (~positive).any():
            fpr, tpr = roc_curve(positive, probabilities[:, index])
            value = aurocs.get(name, {}).get("auroc")
            axis.plot(fpr, tpr, label=f"{name} (AUROC {value:.4f})" if value else name)
    axis.plot([0, 1], [0, 1], ":", color="grey")
    axis.set_xlabel("1 - specificity")
    axis.set_ylabel("sensitivity")
    axis.set_title("ROC (test, one-vs-rest)")
    axis.legend(loc="lower right")
    axis.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusion(matrix: np.ndarray, classes: Sequence[str], path: Path, title: str) -> None:
    """Confusion matrix with counts."""
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(4.6, 4.2))
    axis.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        axis.text(col, row, str(count), ha="center", va="center",
                  color="white" if count > matrix.max() / 2 else "black")
    axis.set_xticks(range(len(classes)), classes, rotation=20)
    axis.set_yticks(range(len(classes)), classes)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reliability(logits: np.ndarray, labels: np.ndarray, temperature: float,
                     path: Path) -> None:
    """Reliability diagrams before (T=1) and after temperature scaling."""
    from model_training.metrics import expected_calibration_error

    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    for axis, temp, title in ((axes[0], 1.0, "before calibration"),
                              (axes[1], temperature, f"after (T = {temperature:.2f})")):
        probabilities = softmax(logits, temp)
        bins = reliability_bins(probabilities, labels, bins=15)
        centres = np.asarray(bins["centre"])
        accuracy = np.nan_to_num(np.asarray(bins["accuracy"]))
        axis.bar(centres, accuracy, width=1 / 15, edgecolor="black", alpha=0.7,
                 label="accuracy")
        axis.plot([0, 1], [0, 1], ":", color="grey", label="perfect calibration")
        ece = expected_calibration_error(probabilities, labels)
        axis.set_title(f"{title}: ECE {ece:.4f}")
        axis.set_xlabel("confidence (top class)")
        axis.set_ylabel("accuracy")
        axis.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(
    folder: Path | str,
    *,
    card_fields: Mapping[str, Any],
    history: Mapping[str, Sequence[float]],
    test: Any,
    classes: Sequence[str],
    temperature: float,
) -> dict[str, Any]:
    """Write ``report.json`` and the figures to ``folder``.

    Args:
        folder: Output folder (created).
        card_fields: The model card fields (metrics, config, data counts).
        history: Per-epoch metrics.
        test: :class:`~model_training.evaluation.EvaluationResult` of the test split, or None.
        classes: Class names.
        temperature: Calibration temperature.

    Returns:
        The report written to ``report.json``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    figures = {"training_curves": "training_curves.png"}
    plot_history(history, folder / figures["training_curves"])
    if test is not None:
        figures.update(_test_figures(folder, test, classes, temperature, card_fields["decision"]))
    report = {
        "model_id": card_fields["model_id"],
        "created": card_fields["created"],
        "architecture": card_fields["architecture"],
        "task": card_fields["task"],
        "classes": list(classes),
        "preprocessing": card_fields["preprocessing"],
        "temperature": temperature,
        "decision": card_fields["decision"],
        "metrics": card_fields["metrics"],
        "training_data": card_fields["training_data"],
        "training_config": card_fields["training_config"],
        "history": {k: list(v) for k, v in history.items()},
        "figures": figures,
    }
    (folder / "report.json").write_text(
        json.dumps(report, indent=2, default=_json_default) + "\n", encoding="utf-8")
    return report


def _test_figures(folder: Path, test: Any, classes: Sequence[str], temperature: float,
                  decision: Mapping[str, Any]) -> dict[str, str]:
    """Plot the TEST split's ROC, confusion matrices and reliability; their file names."""
    figures = {}
    probabilities = softmax(test.logits, temperature)
    plot_roc(probabilities, test.labels, classes, folder / "roc.png",
             test.metrics["overall"]["per_class"])
    figures["roc"] = "roc.png"
    plot_confusion(np.asarray(test.metrics["overall"]["confusion_matrix"]), classes,
                   folder / "confusion_matrix.png", "test, argmax")
    figures["confusion_matrix"] = "confusion_matrix.png"
    operating_point = test.metrics.get("operating_point")
    if operating_point is not None:  # at each image's age group's thresholds, as the app
        matrix = np.asarray(operating_point["confusion_matrix"])
    else:
        chosen, _ = decision_predictions(probabilities, classes, decision)
        matrix = confusion_matrix(test.labels, chosen, len(classes))
    plot_confusion(matrix, classes,
                   folder / "confusion_matrix_operating_point.png",
                   "test, operating point")
    figures["confusion_matrix_operating_point"] = "confusion_matrix_operating_point.png"
    plot_reliability(test.logits, test.labels, temperature, folder / "reliability.png")
    figures["reliability"] = "reliability.png"
    return figures
