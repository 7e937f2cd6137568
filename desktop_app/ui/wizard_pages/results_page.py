"""Page 5 — Results: the new model beside the installed one on the same held-out images.

The recommendation comes from a stated rule (:mod:`.verdict`, shown in words on the page):
macro AUROC, the adult false-COVID rate and adult COVID-19 sensitivity, each compared by its
95 % interval — better, worse, or no measurable difference when the intervals overlap.
Beside the overall figures, the "Who it works for" tab compares both models where it matters
for a clinic's patients: the key figures per population (adults falsely labelled COVID-19,
adult COVID-19 sensitivity, NIH adult Normal vs Pneumonia AUROC, children's accuracy,
calibration) and a table with a column pair per age group, each figure with its 95 % interval,
from the ``populations`` section of both evaluations. An overall score on the public data
mostly measures children; these show what it hides.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app.core.metrics.figures import (
    FEW_IMAGES_NOTE,
    KEY_FIGURES,
    age_group_label,
    clearly_better,
    format_figure,
    is_few,
)
from desktop_app.ui.training_tasks import TrainingOutcome
from desktop_app.ui.wizard_pages.common import WizardContext, set_status, status_label
from desktop_app.ui.wizard_pages.verdict import (
    BETTER,
    NO_DIFFERENCE,
    NOT_COMPARED,
    RULE,
    WORSE,
    Verdict,
    verdict,
)

__all__ = [
    "NOT_MEASURED",
    "AgeGroupTable",
    "FitImage",
    "PopulationRow",
    "ResultsPage",
    "age_group_table",
    "comparison_rows",
    "is_worse",
    "population_note",
    "population_rows",
    "recommendation",
]
_FIGURES = (
    ("confusion_matrix", "Confusion matrix"),
    ("roc", "ROC curves"),
    ("reliability", "Calibration"),
    ("training_curves", "Training curves"),
)

Row = tuple[str, Any, Any, bool]

#: Shown for a model whose evaluation has no ``populations`` section.
NOT_MEASURED = "not measured"
_AGE_ORDER = ("adult", "child", "unknown")
_GROUP_TOOLTIPS = {
    "accuracy": "Share of the group's films labelled correctly (three classes)",
    "labelled_covid_non_covid": "Films without COVID-19 that the app labels COVID-19",
    "ece": "Expected calibration error: how far the probabilities are from the observed "
           "frequencies (lower is better)",
}


@dataclass(frozen=True)
class PopulationRow:
    """One row of the per-population comparison.

    Attributes:
        label: What the row measures (or a group's name, for a heading row).
        new: The new model's figure as text ("" for a heading row).
        installed: The installed model's figure as text.
        tooltip: The figure in full words, when ``label`` is shortened.
        better: ``"new"`` or ``"installed"`` when that model is clearly better (95 %
            intervals apart), else None.
        heading: True for a group heading spanning the row.
        few: Which columns rest on few images: subset of ``{"new", "installed"}``.
    """

    label: str
    new: str = ""
    installed: str = ""
    tooltip: str = ""
    better: str | None = None
    heading: bool = False
    few: frozenset[str] = frozenset()


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
    """The figures that decide on which the new model is worse by the stated rule.

    Empty when it is at least as good, or when there is no installed model to compare with.
    """
    if current is None:
        return []
    return [f"{figure.label}: {figure.new} vs {figure.installed}"
            for figure in verdict(new, current).with_outcome(WORSE)]


def recommendation(result: Verdict) -> tuple[str, str]:
    """The install advice from the rule's outcome: (text, level for ``set_status``)."""
    not_compared = result.with_outcome(NOT_COMPARED)
    missing = ("" if not not_compared else " Not compared: " + "; ".join(
        f"{figure.label} ({figure.why})" for figure in not_compared) + ".")
    worse = result.with_outcome(WORSE)
    if worse:
        return ("Recommendation: do not install. By the rule below, the new model is worse "
                "than the installed model on " + "; ".join(
                    f"{figure.label}: {figure.new} vs {figure.installed}" for figure in worse)
                + ". Keep the installed model, or add data and train again." + missing, "error")
    if not result.compared:
        return ("The figures that decide could not be compared, so the rule gives no advice."
                + missing + " Judge the new model by its own figures.", "warning")
    better = [figure.label for figure in result.with_outcome(BETTER)]
    same = [figure.label for figure in result.with_outcome(NO_DIFFERENCE)]
    if better:
        text = ("Recommendation: install. By the rule below, the new model is at least as good "
                f"as the installed model: better on {'; '.join(better)}")
        text += f"; no measurable difference on {'; '.join(same)}." if same else "."
    else:
        text = ("The new model is at least as good as the installed model by the rule below: "
                f"no measurable difference on {'; '.join(same)} (the 95 % intervals overlap). "
                "Installing it changes little measurably.")
    return text + missing, "warning" if not_compared else "ok"


def _populations(metrics: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    populations = _get(metrics, "populations")
    if isinstance(populations, Mapping) and isinstance(populations.get("key_figures"), Mapping):
        return populations
    return None


def _figure_row(label: str, new_metrics: Mapping[str, Any], current: Mapping[str, Any] | None,
                keys: tuple[str, ...], *, percent: bool, higher_is_better: bool,
                tooltip: str = "") -> PopulationRow:
    """Both models' figure at ``populations[keys...]``, formatted, with the clear winner."""
    new_pop, current_pop = _populations(new_metrics), _populations(current)
    texts, entries = [], []
    for metrics, populations in ((new_metrics, new_pop), (current, current_pop)):
        entry = _get(populations, *keys)
        entries.append(entry)
        if metrics is None:
            texts.append("—")
        elif populations is None:
            texts.append(NOT_MEASURED)
        else:
            texts.append(format_figure(entry, percent=percent))
    better = None
    if clearly_better(entries[0], entries[1], higher_is_better=higher_is_better):
        better = "new"
    elif clearly_better(entries[1], entries[0], higher_is_better=higher_is_better):
        better = "installed"
    few = frozenset(name for name, entry in zip(("new", "installed"), entries, strict=True)
                    if is_few(entry))
    return PopulationRow(label, texts[0], texts[1], tooltip, better, few=few)


def population_rows(new: Mapping[str, Any], current: Mapping[str, Any] | None
                    ) -> list[PopulationRow]:
    """Key figures of both models (``populations`` of each evaluation).

    Age groups are in :func:`age_group_table`. A model whose evaluation has no
    ``populations`` shows :data:`NOT_MEASURED`; a figure with no image behind it shows
    "no data"; with no installed model the column shows "—".
    """
    rows = [PopulationRow("Key figures: value (95 % CI), images", heading=True)]
    for figure in KEY_FIGURES:
        rows.append(_figure_row(figure.short, new, current, ("key_figures", figure.key),
                                percent=figure.percent, higher_is_better=figure.higher_is_better,
                                tooltip=figure.label))
    return rows


@dataclass(frozen=True)
class AgeGroupTable:
    """Both models' figures with a column pair (new, installed) per age group.

    Attributes:
        groups: Age groups shown, adults first.
        rows: One :class:`PopulationRow`-like entry per figure: label, tooltip and, per
            group, (new text, installed text, better, few).
    """

    groups: tuple[str, ...]
    rows: tuple[tuple[str, str, tuple[PopulationRow, ...]], ...]


_GROUP_FIGURES = (
    ("accuracy", "Accuracy", True, True),
    ("labelled_covid_non_covid", "False COVID-19", True, False),
    ("ece", "Calibration error (ECE)", False, False),
)


def age_group_table(new: Mapping[str, Any], current: Mapping[str, Any] | None) -> AgeGroupTable:
    """Images, accuracy, false COVID-19 and ECE of both models, one column pair per age group."""
    new_pop, current_pop = _populations(new), _populations(current)
    present = set(_get(new_pop, "per_age_group") or {}) | set(
        _get(current_pop, "per_age_group") or {})
    groups = tuple([g for g in _AGE_ORDER if g in present] + sorted(present - set(_AGE_ORDER)))
    rows = []
    counts = []
    for group in groups:
        texts = []
        for metrics, populations in ((new, new_pop), (current, current_pop)):
            n = _get(populations, "per_age_group", group, "n")
            texts.append("—" if metrics is None else NOT_MEASURED if populations is None
                         else str(n if isinstance(n, int) else 0))
        counts.append(PopulationRow("Images", texts[0], texts[1]))
    rows.append(("Images", "Films of the age group among the held-out images", tuple(counts)))
    for key, label, percent, higher in _GROUP_FIGURES:
        cells = tuple(_figure_row(label, new, current, ("per_age_group", group, key),
                                  percent=percent, higher_is_better=higher)
                      for group in groups)
        rows.append((label, _GROUP_TOOLTIPS.get(key, ""), cells))
    return AgeGroupTable(groups, tuple(rows))


def population_note(new: Mapping[str, Any], current: Mapping[str, Any] | None) -> str:
    """How to read the per-population table, and which model was not measured."""
    missing = []
    if _populations(new) is None:
        missing.append("the new model")
    if current is not None and _populations(current) is None:
        missing.append("the installed model")
    note = ("Bold: clearly better (the 95 % intervals do not overlap). "
            f"{FEW_IMAGES_NOTE}.")
    if missing:
        note = (f"Per-population figures were not measured for {' and '.join(missing)} "
                "(its evaluation has no per-population section). " + note)
    return note


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
        self.rule = status_label("The rule that decides the recommendation")
        self.rule.setText(RULE)
        self._make_tables()
        self.population_note = status_label("How to read the per-population table")
        self._make_figures_and_who()
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(self.figures)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([380, 520])
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.recommendation)
        layout.addWidget(self.models)
        layout.addWidget(self.verdict_table)
        layout.addWidget(self.rule)
        layout.addWidget(splitter, 1)

        self.populations.horizontalHeader().sectionResized.connect(
            self._on_populations_section_resized)

    def _make_tables(self) -> None:
        """The verdict, metrics, per-population and per-age-group tables."""
        self.verdict_table = _read_only_table(
            4, "The figures that decide, and the rule's verdict")
        self.verdict_table.setHorizontalHeaderLabels(
            ["Figure that decides", "New model", "Installed", "Verdict"])
        self.verdict_table.setVerticalScrollBarPolicy(
            QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # One line per figure (the full text is in each cell's tooltip), so the table's height
        # is known before it is laid out.
        self.verdict_table.setWordWrap(False)
        self.age_groups = _read_only_table(
            1, "Figures per age group: a new and an installed column per group",
            stretch_first=False)
        self.table = _read_only_table(3, "Metrics of the new and the installed model")
        self.populations = _read_only_table(
            3, "Who each model works for: key figures and figures per age group")

    def _make_figures_and_who(self) -> None:
        """The report figures' tabs and the "who it works for" tab's contents."""
        self.figures = QtWidgets.QTabWidget()
        self.figures.setAccessibleName("Report figures")
        # The per-population table lives in the right-hand tabs (re-added on every
        # initializePage, since the tabs are cleared), where it has the width it needs.
        self.who = QtWidgets.QWidget()
        self.who.setAccessibleName("Who it works for")
        who_layout = QtWidgets.QVBoxLayout(self.who)
        who_layout.setContentsMargins(4, 4, 4, 4)
        who_layout.addWidget(self.populations, 3)
        who_layout.addWidget(self.age_groups, 2)
        who_layout.addWidget(self.population_note)

    @property
    def outcome(self) -> TrainingOutcome | None:
        """The run shown."""
        return self._context.outcome

    def initializePage(self) -> None:
        """Fill the table, the recommendation and the figures."""
        outcome = self._context.outcome
        self.table.setRowCount(0)
        self.verdict_table.setRowCount(0)
        self.verdict_table.hide()
        self.age_groups.setRowCount(0)
        self.populations.clearSpans()
        self.populations.setRowCount(0)
        self.population_note.clear()
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
        self.populations.setHorizontalHeaderLabels(["Population", "New model", "Installed"])
        self.populations.horizontalHeaderItem(2).setToolTip(f"The installed model: {installed}")
        if new is None:
            set_status(self.recommendation, "The data had no held-out test images, so the "
                                            "new model could not be scored. Install it only "
                                            "if you can test it otherwise.", "warning")
        else:
            self._fill_table(comparison_rows(new, current))
            self._fill_populations(population_rows(new, current))
            self._fill_age_groups(age_group_table(new, current))
            self.population_note.setText(population_note(new, current))
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
            # First and shown: an overall score mostly measures children.
            self.figures.insertTab(0, self.who, "Who it works for")
            self.figures.setCurrentIndex(0)

    def _fill_table(self, rows: list[Row]) -> None:
        # No bold "winner" here: these overall figures carry no intervals, and a higher number
        # on a few hundred films is not evidence; the rule above decides.
        self.table.setRowCount(len(rows))
        for row, (label, new_value, current_value, _higher_better) in enumerate(rows):
            items = [QtWidgets.QTableWidgetItem(label), QtWidgets.QTableWidgetItem(_fmt(new_value)),
                     QtWidgets.QTableWidgetItem(_fmt(current_value))]
            for item in items[1:]:
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight
                                      | QtCore.Qt.AlignmentFlag.AlignVCenter)
            for column, item in enumerate(items):
                self.table.setItem(row, column, item)

    def _fill_populations(self, rows: list[PopulationRow]) -> None:
        self.populations.setRowCount(len(rows))
        for index, row in enumerate(rows):
            label = QtWidgets.QTableWidgetItem(row.label if row.heading else f"   {row.label}")
            label.setToolTip(row.tooltip)
            if row.heading:
                label.setFont(_bold())
                label.setBackground(self.palette().alternateBase())
                self.populations.setItem(index, 0, label)
                self.populations.setSpan(index, 0, 1, 3)
                continue
            self.populations.setItem(index, 0, label)
            for column, (name, text) in enumerate((("new", row.new),
                                                   ("installed", row.installed)), start=1):
                item = QtWidgets.QTableWidgetItem(text)
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight
                                      | QtCore.Qt.AlignmentFlag.AlignVCenter)
                if row.better == name:
                    item.setFont(_bold())
                if name in row.few:
                    item.setToolTip("few images: wide uncertainty")
                self.populations.setItem(index, column, item)
        self.populations.resizeRowsToContents()

    def _fill_age_groups(self, table: AgeGroupTable) -> None:
        """A column pair (new, installed) per age group; bold where clearly better."""
        self.age_groups.setColumnCount(1 + 2 * len(table.groups))
        labels = ["Figure"]
        for group in table.groups:
            labels += [f"{age_group_label(group)}: new", f"{age_group_label(group)}: installed"]
        self.age_groups.setHorizontalHeaderLabels(labels)
        self.age_groups.setRowCount(len(table.rows))
        for index, (label, tooltip, cells) in enumerate(table.rows):
            item = QtWidgets.QTableWidgetItem(label)
            item.setToolTip(tooltip)
            self.age_groups.setItem(index, 0, item)
            for position, cell in enumerate(cells):
                for offset, (name, text) in enumerate((("new", cell.new),
                                                       ("installed", cell.installed))):
                    value = QtWidgets.QTableWidgetItem(text)
                    value.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight
                                           | QtCore.Qt.AlignmentFlag.AlignVCenter)
                    if cell.better == name:
                        value.setFont(_bold())
                    if name in cell.few:
                        value.setToolTip("few images: wide uncertainty")
                    self.age_groups.setItem(index, 1 + 2 * position + offset, value)

    def _fill_verdict(self, result: Verdict) -> None:
        """The figures that decide, both models' values and the rule's verdict on each."""
        self.verdict_table.setRowCount(len(result.figures))
        for row, figure in enumerate(result.figures):
            outcome = figure.outcome if not figure.why else f"{figure.outcome}: {figure.why}"
            for column, text in enumerate((figure.label, figure.new, figure.installed, outcome)):
                item = QtWidgets.QTableWidgetItem(text)
                item.setToolTip(text)
                if column in (1, 2):
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight
                                          | QtCore.Qt.AlignmentFlag.AlignVCenter)
                if column == 3 and figure.outcome in (BETTER, WORSE):
                    item.setFont(_bold())
                self.verdict_table.setItem(row, column, item)
        self.verdict_table.show()
        self._fit_verdict_height()

    def _fit_verdict_height(self) -> None:
        table = self.verdict_table
        rows = table.verticalHeader().defaultSectionSize() * table.rowCount()
        header = table.horizontalHeader().sizeHint().height()
        table.setFixedHeight(header + rows + 2 * table.frameWidth() + 2)

    def _on_populations_section_resized(self, *_args: object) -> None:
        # Wrapped labels need their row height recomputed whenever the column width changes.
        self.populations.resizeRowsToContents()

    def _recommend(self, outcome: TrainingOutcome, new: Mapping[str, Any],
                   current: Mapping[str, Any] | None) -> None:
        if current is None:
            note = outcome.current_note or "no installed model could be scored"
            set_status(self.recommendation, f"No comparison: {note}. Judge the new model by "
                                            "its own figures.", "warning")
            return
        result = verdict(new, current)
        self._fill_verdict(result)
        text, level = recommendation(result)
        caveat = f" Note: {outcome.current_note}." if outcome.current_note else ""
        set_status(self.recommendation, text + caveat, level)

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


def _read_only_table(columns: int, name: str, *,
                     stretch_first: bool = True) -> QtWidgets.QTableWidget:
    """A table without editing or row numbers, columns fitted to their contents."""
    table = QtWidgets.QTableWidget(0, columns)
    table.setAccessibleName(name)
    table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
    if stretch_first:
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
    return table
