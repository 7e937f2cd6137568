"""Analysis › Validate on Local Data…: measure the installed model on the clinic's own films.

The user picks a labelled folder or CSV (any layout the training wizard reads); the work runs
in :func:`desktop_app.core.validation.validation.validate` on a
:class:`~desktop_app.ui.workers.TaskWorker`
(progress bar, cooperative cancel); the dialog then shows the figures of the wizard's Results
page: a summary with the exclusions, the films labelled with a caution, each class's
sensitivity also counting refused films as not found and the key figures, tables per class,
source and age group with 95 % intervals, the confusion matrix at the app's decision, ROC
curves and the calibration diagram, and the per-film answers. "Export PDF…" and "Export
CSV…" write the report and the per-image table. Every finished validation is also kept in
the user data folder and listed on the model card.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from desktop_app import DISCLAIMER
from desktop_app.core.metrics.figures import (
    FEW_IMAGES_NOTE,
    KEY_FIGURES,
    age_group_label,
    format_figure,
)
from desktop_app.core.metrics.refusals import cautioned_text, refusal_lines
from desktop_app.core.model.model_bundle import ModelBundle
from desktop_app.core.validation.validation import ValidationResult, validate
from desktop_app.ui.curve_plot import CLASS_COLOURS, CurvePlot, Series
from desktop_app.ui.task_dialog import FilmsTaskDialog, FilmsTaskTexts

__all__ = ["ValidationDialog", "figure_table", "fill_figure_rows", "open_validation_dialog"]

_AGE_ORDER = ("adult", "child", "unknown")
_TEXTS = FilmsTaskTexts(
    task="Validation", run="Validate", path_name="Labelled data",
    path_placeholder="Labelled folder or CSV", folder_title="Labelled folder",
    csv_title="Labelled CSV", ready="Choose the labelled films.",
    cancelled="Validation cancelled: nothing was measured or kept.",
    failed="Validation failed: {message}")


def figure_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                 name: str) -> QtWidgets.QTableWidget:
    """A read-only table of figures (also used by the calibration dialog, so both read alike)."""
    table = QtWidgets.QTableWidget(len(rows), len(headers))
    table.setAccessibleName(name)
    table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
    # The name column takes the spare width, so the figures stay together on the right.
    header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
    fill_figure_rows(table, rows)
    return table


def fill_figure_rows(table: QtWidgets.QTableWidget, rows: Sequence[Sequence[str]]) -> None:
    """Put ``rows`` into a figure table: the name left, the figures right-aligned."""
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QtWidgets.QTableWidgetItem(text)
            if c:
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight
                                      | QtCore.Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)


def class_rows(result: ValidationResult) -> list[list[str]]:
    """Per class: films, sensitivity, specificity, AUROC (each with its interval)."""
    per_class = result.metrics["populations"]["per_class"]
    return [[name, str(per_class[name]["n"]),
             format_figure(per_class[name]["sensitivity"], with_n=False),
             format_figure(per_class[name].get("specificity"), with_n=False),
             format_figure(per_class[name].get("auroc"), percent=False, with_n=False)]
            for name in result.classes]


def group_rows(groups: Mapping[str, Any], *, label: Any = str) -> list[list[str]]:
    """Per source or age group: films, accuracy, non-COVID labelled COVID-19, ECE."""
    return [[label(group), str(figures["n"]),
             format_figure(figures.get("accuracy"), with_n=False),
             format_figure(figures.get("labelled_covid_non_covid")),
             format_figure(figures.get("ece"), percent=False, with_n=False)]
            for group, figures in groups.items()]


def summary_html(result: ValidationResult) -> str:
    """Counts and exclusions, the overall figures and the key figures, as HTML."""
    metrics = result.metrics
    counts = metrics["counts"]
    populations = metrics["populations"]
    overall = metrics["overall"]
    other = counts.get("other_classes", 0)
    lines = [
        f"<p><b>{counts['measured']}</b> of {counts.get('labelled', counts['validated'])} "
        f"labelled films measured. <b>{counts['out_of_distribution']}</b> refused as not a "
        f"chest X-ray and <b>{counts['failed']}</b> unreadable: listed under Films, "
        "<b>excluded from every figure</b>"
        + (f"; {other} of classes this model does not have, left out" if other else "")
        + ".</p>",
        f"<p>{html.escape(cautioned_text(counts))}</p>",
        found_html(metrics),
        "<table cellpadding='3'>",
    ]
    for label, entry, percent in (("Accuracy", overall["accuracy"], True),
                                  ("Macro AUROC", overall["macro_auroc"], False),
                                  ("Calibration error (ECE)", overall["ece"], False)):
        lines.append(f"<tr><th align='left'>{label}</th>"
                     f"<td>{html.escape(format_figure(entry, percent=percent))}</td></tr>")
    for figure in KEY_FIGURES:
        entry = populations["key_figures"].get(figure.key)
        if entry is not None and figure.key != "ece":
            lines.append(f"<tr><th align='left'>{html.escape(figure.label)}</th>"
                         f"<td>{html.escape(format_figure(entry, percent=figure.percent))}"
                         "</td></tr>")
    lines.append("</table>")
    lines.append(f"<p>At the app's decision; value (95 % interval from "
                 f"{populations['bootstrap']['rounds']} bootstrap resamples by "
                 f"{populations['bootstrap']['unit']}), n films. "
                 f"{html.escape(FEW_IMAGES_NOTE)}.</p>")
    lines.append(f"<p>Data fingerprint <code>{result.fingerprint['sha256'][:16]}</code> "
                 f"({result.fingerprint['images']} films). "
                 + (f"Kept in <code>{html.escape(str(result.record_path))}</code>."
                    if result.record_path else "") + "</p>")
    lines.append(f"<p><i>{html.escape(DISCLAIMER)}</i></p>")
    return "".join(lines)


def found_html(metrics: Mapping[str, Any]) -> str:
    """Each class's sensitivity both ways, in plain words (nothing for older records)."""
    found = refusal_lines(metrics.get("refusals"))
    if not found:
        return ""
    return (f"<p><b>{html.escape(found[0])}</b></p><ul>"
            + "".join(f"<li>{html.escape(line)}</li>" for line in found[1:]) + "</ul>")


def matrix_html(result: ValidationResult) -> str:
    """The confusion matrix at the app's decision, and the refused films per true label."""
    classes = result.classes
    head = "".join(f"<th>{html.escape(c)}</th>" for c in classes)
    body = "".join(
        f"<tr><th align='left'>{html.escape(name)}</th>"
        + "".join(f"<td align='right'>{v}</td>" for v in row) + "</tr>"
        for name, row in zip(classes, result.metrics["confusion_matrix"], strict=True))
    refused = result.metrics["counts"].get("out_of_distribution_by_class") or {}
    note = ("<p>Refused as not a chest X-ray (not in the matrix): "
            + ", ".join(f"{html.escape(k)} {v}" for k, v in sorted(refused.items()))
            + "</p>") if refused else ""
    return ("<p>Rows: the true label; columns: the label the app shows.</p>"
            "<table border='1' cellspacing='0' cellpadding='4'>"
            f"<tr><th>true \\ app</th>{head}</tr>{body}</table>" + note)


class ValidationDialog(FilmsTaskDialog[ValidationResult]):
    """Pick labelled films, validate in the background, show and export the figures.

    Signals:
        validation_finished(object): A finished :class:`ValidationResult` (stored).
    """

    validation_finished = QtCore.Signal(object)

    def __init__(self, bundle: ModelBundle, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(_TEXTS, parent)
        self.bundle = bundle
        self.setWindowTitle(f"Validate on local data — {bundle.model_id}")
        self.resize(900, 680)

        intro = QtWidgets.QLabel(
            "Measure the installed model on your own labelled chest X-rays: a folder with one "
            "sub-folder per class (NORMAL, PNEUMONIA, COVID-19), a folder with metadata.csv, or "
            "a CSV in CoronaHack's columns (optional: age or age_group, source, patient_id).")
        intro.setWordWrap(True)
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setAccessibleName("Validation results")
        self.export_pdf_button = QtWidgets.QPushButton("Export PDF…")
        self.export_csv_button = QtWidgets.QPushButton("Export CSV…")
        for button in (self.export_pdf_button, self.export_csv_button):
            button.setEnabled(False)
        close = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        close.addButton(self.export_pdf_button, QtWidgets.QDialogButtonBox.ButtonRole.ActionRole)
        close.addButton(self.export_csv_button, QtWidgets.QDialogButtonBox.ButtonRole.ActionRole)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(QtWidgets.QLabel(f"<b>Model:</b> {html.escape(bundle.model_id)}"))
        layout.addWidget(intro)
        layout.addLayout(self._path_row(self.run_button))
        layout.addLayout(self._progress_row())
        layout.addWidget(self.status)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(close)

        self.export_pdf_button.clicked.connect(self._on_export_pdf_button_clicked)
        self.export_csv_button.clicked.connect(self._on_export_csv_button_clicked)
        close.rejected.connect(self.reject)

    # -- running ------------------------------------------------------------------------------

    def start(self, data_path: Path | str) -> None:
        """Validate ``data_path`` in the background (ignored while one runs)."""
        if self.running:
            return
        self.path_edit.setText(str(data_path))
        self.result = None
        self.tabs.clear()
        self._start_worker(validate, Path(data_path), self.bundle,
                           reading=f"Reading the labelled films in {data_path}…")

    def _on_run_button_clicked(self) -> None:
        text = self.path_edit.text().strip()
        if not text:
            self.status.setText("Choose a labelled folder or CSV first.")
            return
        self.start(text)

    def _result_buttons(self) -> tuple[QtWidgets.QWidget, ...]:
        return (self.export_pdf_button, self.export_csv_button)

    def _progress_text(self, done: int, total: int) -> str:
        if done >= total:
            return f"{total} films classified. Computing the figures and their 95 % intervals…"
        return f"Classifying film {done} of {total}…"

    def _show_result(self, result: ValidationResult) -> None:
        self._show(result)
        counts = result.metrics["counts"]
        self.status.setText(
            f"Validated on {counts['measured']} films ({counts['out_of_distribution']} refused "
            f"as not a chest X-ray and {counts['failed']} unreadable, excluded; "
            f"{counts.get('cautioned', 0)} labelled with a caution). Kept with the "
            "model's validations; export a PDF or CSV below.")
        self.validation_finished.emit(result)

    # -- results ------------------------------------------------------------------------------

    def _show(self, result: ValidationResult) -> None:
        populations = result.metrics["populations"]
        summary = QtWidgets.QTextBrowser()
        summary.setAccessibleName("Validation summary")
        summary.setHtml(summary_html(result))
        self.tabs.addTab(summary, "Summary")
        self.tabs.addTab(figure_table(["class", "films", "sensitivity (95 % CI)",
                                 "specificity (95 % CI)", "AUROC (95 % CI)"],
                                class_rows(result), "Figures per class"), "Per class")
        group_headers = ["films", "accuracy (95 % CI)", "non-COVID labelled COVID-19",
                         "ECE (95 % CI)"]
        self.tabs.addTab(figure_table(["source", *group_headers],
                                group_rows(populations["per_source"]), "Figures per source"),
                         "Per source")
        ages = populations["per_age_group"]
        ordered = {g: ages[g] for g in [*_AGE_ORDER, *sorted(set(ages) - set(_AGE_ORDER))]
                   if g in ages}
        self.tabs.addTab(figure_table(["age group", *group_headers],
                                group_rows(ordered, label=age_group_label),
                                "Figures per age group"), "Per age group")
        matrix = QtWidgets.QLabel(matrix_html(result))
        matrix.setTextFormat(QtCore.Qt.TextFormat.RichText)
        matrix.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        matrix.setMargin(8)
        matrix.setAccessibleName("Confusion matrix at the app's decision")
        self.tabs.addTab(matrix, "Confusion matrix")
        self.roc_plot = CurvePlot("ROC, one class against the rest", "1 - specificity",
                                  "sensitivity")
        curves = []
        for index, name in enumerate(result.classes):
            curve = result.metrics["roc"].get(name)
            if curve:
                auroc = populations["per_class"][name].get("auroc")
                label = f"{name} (AUROC {auroc['value']:.3f})" if auroc else name
                curves.append(Series(label, list(zip(curve["fpr"], curve["tpr"], strict=True)),
                                     CLASS_COLOURS[index % len(CLASS_COLOURS)]))
        self.roc_plot.set_series(curves)
        self.tabs.addTab(self.roc_plot, "ROC")
        self.calibration_plot = CurvePlot("Calibration (dashed: perfect)",
                                          "confidence of the top class",
                                          "share labelled correctly")
        bins = result.metrics["reliability"]
        if bins:
            points = [(c, a) for c, a, n in zip(bins["confidence"], bins["accuracy"],
                                                bins["count"], strict=True)
                      if c is not None and a is not None and n]
            self.calibration_plot.set_series([Series("films per confidence bin", points,
                                                     dots=True)])
        self.tabs.addTab(self.calibration_plot, "Calibration")
        films = [[Path(i.path).name, i.truth, i.predicted or "—",
                  "refused: not a chest X-ray" if i.out_of_distribution
                  else (f"unreadable: {i.error}" if i.error else
                        "; ".join(note for note, on in (("uncertain", i.uncertain),
                                                        (f"caution — {i.caution}",
                                                         i.caution is not None)) if on)),
                  i.source, age_group_label(i.age_group)] for i in result.images]
        self.tabs.addTab(figure_table(["file", "true label", "app's label", "note", "source",
                                 "age group"], films, "Films and the app's answers"), "Films")

    # -- exports ------------------------------------------------------------------------------

    def export_pdf(self, path: Path | str) -> Path:
        """Write the PDF report of the shown validation.

        Raises:
            OSError: If the file cannot be written.
        """
        from desktop_app.core.validation.validation_report import write_validation_pdf

        if self.result is None:
            raise RuntimeError("no validation to export")
        return write_validation_pdf(path, self.result)

    def export_csv(self, path: Path | str) -> int:
        """Write the per-image CSV of the shown validation; return the films written."""
        from desktop_app.core.validation.validation import write_images_csv

        if self.result is None:
            raise RuntimeError("no validation to export")
        return write_images_csv(path, self.result)

    def _export(self, kind: str, suffix: str) -> None:
        name = f"validation-{self.bundle.model_id}{suffix}"
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, f"Export {kind}", str(Path.home() / name), f"{kind} (*{suffix})")
        if not path:
            return
        if not path.lower().endswith(suffix):
            path += suffix
        try:
            if suffix == ".pdf":
                self.export_pdf(path)
            else:
                self.export_csv(path)
        except OSError as error:
            QtWidgets.QMessageBox.warning(self, f"Export {kind}",
                                          f"Could not write {path}: {error}")
            return
        self.status.setText(f"Saved {path}.")

    def _on_export_pdf_button_clicked(self) -> None:
        self._export("PDF", ".pdf")

    def _on_export_csv_button_clicked(self) -> None:
        self._export("CSV", ".csv")


def open_validation_dialog(main_window: QtWidgets.QWidget,
                           bundle: ModelBundle) -> ValidationDialog:
    """Analysis › Validate on Local Data… (modeless, freed on close)."""
    dialog = ValidationDialog(bundle, main_window)
    dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
