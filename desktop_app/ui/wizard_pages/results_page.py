"""Page 5 — Results: the new model beside the installed one on the same held-out images."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app.ui.training_tasks import TrainingOutcome
from desktop_app.ui.wizard_pages.common import WizardContext, set_status, status_label

__all__ = ["FitImage", "ResultsPage", "comparison_rows", "is_worse"]

#: A drop larger than this in accuracy or macro AUROC counts as "worse" (test sets of a
#: clinic are small; one image more or less wrong should not flip the advice).
WORSE_MARGIN = 0.01
_FIGURES = (
    ("confusion_matrix", "Confusion matrix"),
    ("roc", "ROC curves"),
    ("reliability", "Calibration"),
    ("training_curves", "Training curves"),
)

Row = tuple[str, Any, Any, bool]


def _get(metrics: Mapping[str, Any] | None, *keys: str) -> Any:
    value: Any = metrics
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def comparison_rows(new: Mapping[str, Any], current: Mapping[str, Any] | None) -> list[Row]:
    """``(label, new value, installed value, higher is better)`` rows for the table."""
    rows: list[Row] = [
        ("Held-out images", new.get("n"), _get(current, "n"), True),
        ("Accuracy", _get(new, "overall", "accuracy"), _get(current, "overall", "accuracy"),
         True),
        ("Macro AUROC", _get(new, "overall", "macro_auroc"),
         _get(current, "overall", "macro_auroc"), True),
        ("Calibration error (ECE)", _get(new, "overall", "ece"),
         _get(current, "overall", "ece"), False),
    ]
    for name in _get(new, "overall", "per_class") or {}:
        for key, label in (("sensitivity", "sensitivity"), ("specificity", "specificity"),
                           ("auroc", "AUROC")):
            rows.append((f"{name} {label}", _get(new, "overall", "per_class", name, key),
                         _get(current, "overall", "per_class", name, key), True))
    sources = sorted(set(_get(new, "per_source") or {}) | set(_get(current, "per_source") or {}))
    for source in sources:
        rows.append((f"Accuracy, source {source}", _get(new, "per_source", source, "accuracy"),
                     _get(current, "per_source", source, "accuracy"), True))
    return rows


def is_worse(new: Mapping[str, Any], current: Mapping[str, Any] | None) -> list[str]:
    """The headline figures where the new model is clearly worse (empty: not worse)."""
    worse = []
    for key, label in (("accuracy", "accuracy"), ("macro_auroc", "macro AUROC")):
        a, b = _get(new, "overall", key), _get(current, "overall", key)
        if a is not None and b is not None and a < b - WORSE_MARGIN:
            worse.append(f"{label} {a:.3f} vs {b:.3f}")
    return worse


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _matrix_html(title: str, matrix: Any, classes: list[str]) -> str:
    if not matrix:
        return f"<h4>{html.escape(title)}</h4><p>not available</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in classes)
    body = "".join(
        f"<tr><th align='left'>{html.escape(classes[i])}</th>"
        + "".join(f"<td align='right'>{v}</td>" for v in row) + "</tr>"
        for i, row in enumerate(matrix)
    )
    return (f"<h4>{html.escape(title)}</h4><table border='1' cellspacing='0' cellpadding='4'>"
            f"<tr><th>true \\ predicted</th>{head}</tr>{body}</table>")


class ResultsPage(QtWidgets.QWizardPage):
    """Metrics table, recommendation and the report's figures (PNG files of the run)."""

    def __init__(self, context: WizardContext) -> None:
        super().__init__()
        self._context = context
        self.setTitle("Results on held-out images")
        self.setSubTitle("Patients the model never saw during training. The installed model "
                         "is scored on exactly the same images.")
        self.recommendation = status_label("Recommendation")
        self.models = status_label("Models compared")
        self.table = QtWidgets.QTableWidget(0, 3)
        self.table.setAccessibleName("Metrics of the new and the installed model")
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.figures = QtWidgets.QTabWidget()
        self.figures.setAccessibleName("Report figures")
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(self.figures)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([380, 520])
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.recommendation)
        layout.addWidget(self.models)
        layout.addWidget(splitter, 1)

    @property
    def outcome(self) -> TrainingOutcome | None:
        """The run shown."""
        return self._context.outcome

    def initializePage(self) -> None:
        """Fill the table, the recommendation and the figures."""
        outcome = self._context.outcome
        self.table.setRowCount(0)
        self.figures.clear()
        if outcome is None:
            return
        new = outcome.new_test
        current = outcome.current
        installed = outcome.current_model_id or "installed model"
        new_id = outcome.report.get("model_id", "new model")
        self.models.setText(f"New: {new_id}    Installed: {installed}")
        self.table.setHorizontalHeaderLabels(["Metric", "New model", "Installed"])
        self.table.horizontalHeaderItem(2).setToolTip(f"The installed model: {installed}")
        if new is None:
            set_status(self.recommendation, "The data had no held-out test images, so the "
                                            "new model could not be scored. Install it only "
                                            "if you can test it otherwise.", "warning")
        else:
            self._fill_table(comparison_rows(new, current))
            self._recommend(outcome, new, current)
        self._add_figures(outcome)
        if new is not None:
            classes = list(new.get("classes") or [])
            text = _matrix_html("New model", _get(new, "overall", "confusion_matrix"), classes)
            if current is not None:
                text += _matrix_html(installed, _get(current, "overall", "confusion_matrix"),
                                     list(current.get("classes") or classes))
            label = QtWidgets.QLabel(text)
            label.setTextFormat(QtCore.Qt.TextFormat.RichText)
            label.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
            label.setMargin(8)
            label.setAccessibleName("Confusion matrices, new and installed model")
            self.figures.insertTab(0, self._scroll(label), "Counts")
            self.figures.setCurrentIndex(0)

    def _fill_table(self, rows: list[Row]) -> None:
        self.table.setRowCount(len(rows))
        for row, (label, new_value, current_value, higher_better) in enumerate(rows):
            items = [QtWidgets.QTableWidgetItem(label), QtWidgets.QTableWidgetItem(_fmt(new_value)),
                     QtWidgets.QTableWidgetItem(_fmt(current_value))]
            for item in items[1:]:
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight
                                      | QtCore.Qt.AlignmentFlag.AlignVCenter)
            if isinstance(new_value, float) and isinstance(current_value, float):
                better: Callable[[float, float], bool] = (
                    (lambda a, b: a > b) if higher_better else (lambda a, b: a < b))
                if better(new_value, current_value):
                    items[1].setFont(_bold())
                elif better(current_value, new_value):
                    items[2].setFont(_bold())
            for column, item in enumerate(items):
                self.table.setItem(row, column, item)

    def _recommend(self, outcome: TrainingOutcome, new: Mapping[str, Any],
                   current: Mapping[str, Any] | None) -> None:
        if current is None:
            note = outcome.current_note or "no installed model could be scored"
            set_status(self.recommendation, f"No comparison: {note}. Judge the new model by "
                                            "its own figures.", "warning")
            return
        worse = is_worse(new, current)
        caveat = f" Note: {outcome.current_note}." if outcome.current_note else ""
        if worse:
            set_status(self.recommendation, (
                "Recommendation: do not install. The new model is worse than the installed "
                f"model on the same held-out images ({'; '.join(worse)}). Keep the installed "
                f"model, or add data and train again.{caveat}"), "error")
        else:
            set_status(self.recommendation, (
                "The new model is at least as good as the installed model on the same held-out "
                f"images (bold: the better value).{caveat}"), "ok")

    def _add_figures(self, outcome: TrainingOutcome) -> None:
        figures = outcome.report.get("figures", {})
        for key, title in _FIGURES:
            name = figures.get(key)
            path = Path(outcome.report_dir) / name if name else None
            if path is None or not path.is_file():
                continue
            image = FitImage(QtGui.QPixmap(str(path)))
            image.setAccessibleName(title)
            image.setToolTip(str(path))
            self.figures.addTab(image, title)

    @staticmethod
    def _scroll(widget: QtWidgets.QWidget) -> QtWidgets.QScrollArea:
        area = QtWidgets.QScrollArea()
        area.setWidget(widget)
        area.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        return area


class FitImage(QtWidgets.QLabel):
    """A picture scaled to the space it has (keeping its aspect ratio), never cropped."""

    def __init__(self, pixmap: QtGui.QPixmap) -> None:
        super().__init__()
        self._pixmap = pixmap
        self.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(120, 120)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                           QtWidgets.QSizePolicy.Policy.Ignored)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        """Rescale from the original so repeated resizes do not blur the figure."""
        super().resizeEvent(event)
        if not self._pixmap.isNull():
            self.setPixmap(self._pixmap.scaled(
                self.size(), QtCore.Qt.AspectRatioMode.KeepAspectRatio,
                QtCore.Qt.TransformationMode.SmoothTransformation))


def _bold() -> QtGui.QFont:
    font = QtGui.QFont()
    font.setBold(True)
    return font
