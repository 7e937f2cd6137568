"""Page 2 — Check: the dataset check's report; fatal findings block, warnings need a tick.

Besides the file findings, the page shows the dataset's composition (class x source x age
group) and, above the findings, the shortcuts a model could learn instead of the disease
(a class that comes only from its own sources, a source or age group that gives the class
away). Shortcut warnings count like any other warning: training may run once they are read.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app.ui.training_tasks import check, imbalance_ratio
from desktop_app.ui.training_worker import BackgroundTask, TaskState
from desktop_app.ui.wizard_pages.common import WizardContext, set_status, status_label

__all__ = ["IMBALANCE_WARNING_RATIO", "CheckPage"]

#: A largest/smallest class ratio above this is reported as a warning. model_training has no
#: imbalance finding (training weights classes), but a 10:1 dataset still deserves a look.
IMBALANCE_WARNING_RATIO = 3.0
_MAX_PATHS = 20
_SEVERITY_TEXT = {"fatal": "Blocks training", "warning": "Warning", "info": "Note"}
_STRENGTH_TEXT = {"strong": "Strong shortcut", "moderate": "Shortcut",
                  "weak": "Weak shortcut (note)"}
#: The warning colour of ``common.set_status``, so shortcut warnings read like other warnings.
_WARNING_COLOUR = "#9a6700"
_AGE_TEXT = {"child": "child", "adult": "adult", "unknown": "unknown age"}


class CheckPage(QtWidgets.QWizardPage):
    """Runs ``check_dataset`` (decodes every file) in a worker and shows what it found.

    Signals:
        check_finished(object): The report, once the check completed.
    """

    check_finished = QtCore.Signal(object)

    def __init__(self, context: WizardContext) -> None:
        super().__init__()
        self._context = context
        self._task: BackgroundTask | None = None
        self._report = None
        self._warnings = 0
        self.setTitle("Check the dataset")
        self.setSubTitle("Every image is decoded once, the way the app would read it, to find "
                         "unreadable files, duplicates and patients that appear in two splits.")

        row = self._make_progress_row()
        self._make_tables()
        self._make_findings()
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.status)
        tables = QtWidgets.QHBoxLayout()
        tables.addWidget(self.counts, 2)
        tables.addWidget(self.composition, 3)
        layout.addLayout(tables)
        layout.addWidget(self.sources)
        layout.addWidget(self.shortcuts_heading)
        layout.addWidget(self.shortcuts, 2)
        layout.addWidget(self.findings, 1)
        layout.addWidget(self.verdict)
        layout.addWidget(self.acknowledge)
        self.registerField("warningsAcknowledged", self.acknowledge)

        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self.rerun_button.clicked.connect(self._on_rerun_button_clicked)
        self.acknowledge.toggled.connect(self._on_acknowledge_toggled)

    def _make_progress_row(self) -> QtWidgets.QHBoxLayout:
        """The progress bar with its cancel and check-again buttons."""
        self.progress = QtWidgets.QProgressBar()
        self.progress.setAccessibleName("Dataset check progress")
        self.cancel_button = QtWidgets.QPushButton("&Cancel Check")
        self.cancel_button.setAccessibleName("Cancel the dataset check")
        self.rerun_button = QtWidgets.QPushButton("Check &Again")
        self.rerun_button.setAccessibleName("Run the dataset check again")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        row.addWidget(self.rerun_button)
        return row

    def _make_tables(self) -> None:
        """The status line and the images per class and split, and per class, source, age."""
        self.status = status_label("Dataset check status")
        self.counts = QtWidgets.QTableWidget()
        self.counts.setAccessibleName("Images per class and split")
        self.counts.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.counts.verticalHeader().setVisible(False)
        self.counts.setMaximumHeight(130)
        self.composition = QtWidgets.QTableWidget()
        self.composition.setAccessibleName("Images per class, source and age group")
        self.composition.setEditTriggers(
            QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.composition.verticalHeader().setVisible(False)
        self.composition.setMaximumHeight(130)

    def _make_findings(self) -> None:
        """Sources, shortcuts, findings, the verdict and the box that acknowledges warnings."""
        self.sources = status_label("Images per source")
        self.shortcuts_heading = status_label("Shortcuts in the dataset")
        self.shortcuts = QtWidgets.QListWidget()
        self.shortcuts.setAccessibleName("Shortcuts a model can learn instead of the disease")
        self.shortcuts.setWordWrap(True)
        self.shortcuts.setSpacing(3)
        self.shortcuts.setResizeMode(QtWidgets.QListView.ResizeMode.Adjust)
        self.shortcuts.setVerticalScrollMode(
            QtWidgets.QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.shortcuts.setSelectionMode(
            QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.shortcuts.hide()
        self.findings = QtWidgets.QTreeWidget()
        self.findings.setAccessibleName("Findings of the dataset check")
        self.findings.setHeaderLabels(["Severity", "Finding"])
        self.findings.setColumnWidth(0, 130)
        self.findings.setWordWrap(True)
        self.verdict = status_label("Verdict")
        self.acknowledge = QtWidgets.QCheckBox(
            "I have read the &warnings and want to train on this data anyway")
        self.acknowledge.setAccessibleName("Acknowledge the warnings")
        self.acknowledge.hide()

    # -- wizard ---------------------------------------------------------------------------------

    @property
    def report(self) -> Any:
        """The last complete report, or None."""
        return self._report

    @property
    def running(self) -> bool:
        """True while the check runs."""
        return self._task is not None and not self._task.is_done()

    @property
    def warning_count(self) -> int:
        """Warnings the user must acknowledge (dataset and shortcut warnings, imbalance)."""
        return self._warnings

    def task_name(self) -> str:
        """The task whose classes are checked (chosen from the data: see DatasetSummary)."""
        summary = self._context.summary
        return summary.suggested_task() if summary is not None else "3class"

    def initializePage(self) -> None:
        """Start the check as soon as the page is shown."""
        self.start_check()

    def cleanupPage(self) -> None:
        """Going back: stop the check; the data may change."""
        if self._task is not None:
            self._task.cancel()
        self._report = None

    def isComplete(self) -> bool:
        """Next needs a report without fatal findings and, if warned, the tick."""
        report = self._report
        if report is None or report.fatal:
            return False
        return self._warnings == 0 or self.acknowledge.isChecked()

    def validatePage(self) -> bool:
        """Hand the report to the later pages."""
        self._context.report = self._report
        return self.isComplete()

    # -- the check ------------------------------------------------------------------------------

    def start_check(self) -> None:
        """(Re)run the dataset check on the chosen data."""
        summary = self._context.summary
        if summary is None:
            return
        if self._task is not None:
            self._task.cancel()
        self._report = None
        self._warnings = 0
        self.acknowledge.setChecked(False)
        self.acknowledge.hide()
        self.findings.clear()
        self.counts.clear()
        self.counts.setRowCount(0)
        self.composition.clear()
        self.composition.setRowCount(0)
        self.sources.clear()
        self.shortcuts.clear()
        self.shortcuts.hide()
        set_status(self.shortcuts_heading, "")
        set_status(self.verdict, "")
        self.progress.setRange(0, max(1, summary.images))
        self.progress.setValue(0)
        set_status(self.status, f"Decoding {summary.images} images…")
        task_name = self.task_name()
        minimum = self._context.min_images_per_class

        def run(state: TaskState) -> Any:
            return check(summary, task_name, min_images_per_class=minimum,
                         progress=lambda done, total: state.report((done, total)),
                         cancelled=state.is_cancelled)

        task = BackgroundTask(run)
        self._task = task
        task.signals.progress_reported.connect(partial(self._on_task_progress_reported, task))
        task.signals.succeeded.connect(partial(self._on_task_succeeded, task))
        task.signals.failed.connect(partial(self._on_task_failed, task))
        task.signals.cancelled.connect(partial(self._on_task_cancelled, task))
        self.cancel_button.setEnabled(True)
        self.rerun_button.setEnabled(False)
        self.completeChanged.emit()
        self._context.start(task)

    def _on_task_progress_reported(self, task: BackgroundTask, value: tuple[int, int]) -> None:
        if task is self._task:
            done, total = value
            self.progress.setRange(0, max(1, total))
            self.progress.setValue(done)

    def _finish(self) -> None:
        self.cancel_button.setEnabled(False)
        self.rerun_button.setEnabled(True)

    def _on_task_cancelled(self, task: BackgroundTask, _error: BaseException) -> None:
        if task is self._task:
            self._finish()
            set_status(self.status, "The check was cancelled. Run it again to continue.",
                       "warning")

    def _on_task_failed(self, task: BackgroundTask, error: BaseException) -> None:
        if task is self._task:
            self._finish()
            set_status(self.status, f"The check failed: {error}", "error")

    def _on_task_succeeded(self, task: BackgroundTask, report: Any) -> None:
        if task is not self._task:
            return
        self._finish()
        self._show(report)
        self.completeChanged.emit()
        self.check_finished.emit(report)

    # -- display --------------------------------------------------------------------------------

    def _show(self, report: Any) -> None:
        self._report = report
        set_status(self.status, f"{report.images} images, {report.readable} readable, "
                                f"{report.patients} patients.", "info")
        splits = self._show_counts(report)
        self.sources.setText("Images per source: " + ", ".join(
            f"{k} {v}" for k, v in report.per_source.items()))
        self._show_composition(report, splits)
        shortcut_warnings = self._show_shortcuts(report)
        findings = self._show_findings(report)
        self._warnings = (sum(1 for severity, *_ in findings if severity == "warning")
                          + shortcut_warnings)
        self._show_verdict(report, shortcut_warnings)

    def _show_counts(self, report: Any) -> list[str]:
        """Images per class (in the task's order) and split; the splits found."""
        splits = sorted({s for per in report.per_class_split.values() for s in per})
        headers = ["no split given" if s == "(none)" else s for s in splits]
        self.counts.setColumnCount(len(splits) + 2)
        self.counts.setHorizontalHeaderLabels(["Class", *headers, "Total"])
        self.counts.setRowCount(len(report.per_class))
        from model_training.datasets import TASK_CLASSES

        # The task's class order (Normal, Pneumonia, COVID-19), not the alphabet.
        order = {name: i for i, name in enumerate(TASK_CLASSES["3class"])}
        classes = sorted(report.per_class.items(), key=lambda kv: order.get(kv[0], 99))
        for row, (name, total) in enumerate(classes):
            cells = [name, *(str(report.per_class_split.get(name, {}).get(s, 0))
                             for s in splits), str(total)]
            for column, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight
                                          | QtCore.Qt.AlignmentFlag.AlignVCenter)
                self.counts.setItem(row, column, item)
        self.counts.resizeColumnsToContents()
        return splits

    def _show_findings(self, report: Any) -> list[tuple[str, str, Any]]:
        """The findings (and a class imbalance) with up to a few files each; the findings."""
        self.findings.clear()
        findings = [(f.severity, f.message, f.paths) for f in report.findings]
        ratio = imbalance_ratio(report.per_class)
        if ratio > IMBALANCE_WARNING_RATIO:
            findings.append(("warning", (
                f"class imbalance: the largest class has {ratio:.1f}× as many images as the "
                "smallest; training weights classes to compensate, but the small class's "
                "figures will be uncertain"), ()))
        for severity, message, paths in findings:
            item = QtWidgets.QTreeWidgetItem([_SEVERITY_TEXT.get(severity, severity), message])
            item.setToolTip(1, message)
            for path in paths[:_MAX_PATHS]:
                item.addChild(QtWidgets.QTreeWidgetItem(["", path]))
            if len(paths) > _MAX_PATHS:
                item.addChild(QtWidgets.QTreeWidgetItem(
                    ["", f"… and {len(paths) - _MAX_PATHS} more"]))
            self.findings.addTopLevelItem(item)
        if not findings:
            self.findings.addTopLevelItem(QtWidgets.QTreeWidgetItem(
                ["OK", "No problems with the files found."]))
        return findings

    def _show_verdict(self, report: Any, shortcut_warnings: int) -> None:
        """Blocked, warnings to acknowledge (the box shown), or fine."""
        if report.fatal:
            set_status(self.verdict, "Training cannot start: fix the problems marked "
                                     "“Blocks training” (add images or correct the folders), "
                                     "then choose the data again.", "error")
        elif self._warnings:
            which = ("All of them are shortcuts" if shortcut_warnings == self._warnings else
                     f"{shortcut_warnings} of them are shortcuts")
            shortcut_note = (f" {which}: test figures on this data will flatter the model."
                             if shortcut_warnings else "")
            set_status(self.verdict, f"{self._warnings} warning(s): training can run, but the "
                                     f"results may be biased.{shortcut_note} Tick the box to "
                                     "continue.", "warning")
            self.acknowledge.show()
        else:
            set_status(self.verdict, "The data looks fine for training.", "ok")

    def _show_composition(self, report: Any, splits: list[str]) -> None:
        """The class x source x age group table, one row per non-empty combination."""
        rows = report.per_class_source_age
        headers = ["no split given" if s == "(none)" else s for s in splits]
        self.composition.setColumnCount(len(splits) + 4)
        self.composition.setHorizontalHeaderLabels(
            ["Class", "Source", "Age group", *headers, "Total"])
        self.composition.setRowCount(len(rows))
        for index, row in enumerate(rows):
            cells = [row.label, row.source, _AGE_TEXT.get(row.age_group, row.age_group),
                     *(str(row.per_split.get(s, 0)) for s in splits), str(row.total)]
            for column, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                if column >= 3:
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight
                                          | QtCore.Qt.AlignmentFlag.AlignVCenter)
                self.composition.setItem(index, column, item)
        self.composition.resizeColumnsToContents()

    def _show_shortcuts(self, report: Any) -> int:
        """List the shortcut warnings (warning-coloured) and notes; return the warnings."""
        self.shortcuts.clear()
        items = report.confounding
        warnings = sum(1 for w in items if w.severity == "warning")
        if not items:
            set_status(self.shortcuts_heading, "No shortcuts found: neither the source nor the "
                                               "age group nor the view gives the class away.",
                       "ok")
            return 0
        if warnings:
            set_status(self.shortcuts_heading, f"Shortcuts: {warnings} way(s) a model can "
                                               "recognise the class without looking at the "
                                               "lungs.", "warning")
        else:
            set_status(self.shortcuts_heading, "Shortcuts: only weak ones (notes).", "info")
        style = self.style()
        icons = {"warning": style.standardIcon(
                     QtWidgets.QStyle.StandardPixmap.SP_MessageBoxWarning),
                 "info": style.standardIcon(
                     QtWidgets.QStyle.StandardPixmap.SP_MessageBoxInformation)}
        for warning in items:
            text = f"{_STRENGTH_TEXT.get(warning.strength, warning.strength)}: {warning.message}"
            item = QtWidgets.QListWidgetItem(icons.get(warning.severity, QtGui.QIcon()), text)
            item.setToolTip(warning.message)
            item.setData(QtCore.Qt.ItemDataRole.UserRole, warning.kind)
            if warning.severity == "warning":
                item.setForeground(QtGui.QBrush(QtGui.QColor(_WARNING_COLOUR)))
            self.shortcuts.addItem(item)
        self.shortcuts.show()
        return warnings

    # -- slots ----------------------------------------------------------------------------------

    def _on_cancel_button_clicked(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def _on_rerun_button_clicked(self) -> None:
        self.start_check()

    def _on_acknowledge_toggled(self, _checked: bool) -> None:
        self.completeChanged.emit()
