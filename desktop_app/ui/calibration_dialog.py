"""Analysis › Calibrate to This Site…: the active model's thresholds and gate, set from its films.

A model trained on public films ranks a new hospital's films far better than its thresholds
and gate limits suit them; :func:`desktop_app.core.site.site_calibration.calibrate_site` sets both
from the site's own films. This dialog collects what the clinic asks (films, site name, the
operating-point rule), runs the calibration on a :class:`~desktop_app.ui.workers.TaskWorker`
(progress bar, cooperative cancel), shows what changed (before/after cross-validated by
patient, thresholds, gate moves, the non-chest check set, warnings in plain words) and each
finding's trade-off on the site's films (:mod:`desktop_app.ui.calibration_curves`: clicking a
curve or moving its slider chooses that threshold, and the figures and warnings are re-measured
for it without reading a film again), and then saves the calibrated bundle (and its PDF
report) or installs it as the active model. The input model is never modified and the
previous model stays one click away (Training › Models… › Roll Back).
"""

from __future__ import annotations

import dataclasses
import functools
import html
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app.core.errors import LungLensError
from desktop_app.core.gate.check_set import CheckCase
from desktop_app.core.locations import user_data_dir
from desktop_app.core.model.model_bundle import ModelBundle
from desktop_app.core.model.model_store import ModelEntry, ModelStore
from desktop_app.core.site.calibration_report import write_calibration_pdf
from desktop_app.core.site.site_calibration import (
    CalibrationSettings,
    SiteCalibration,
    calibrate_site,
    recalibrate,
)
from desktop_app.core.site.site_thresholds import ThresholdSettings
from desktop_app.ui.calibration_curves import ThresholdChooser
from desktop_app.ui.calibration_tables import (
    AFTER_NOTE,
    figure_rows,
    section_html,
)
from desktop_app.ui.modeless import show_reloading_on
from desktop_app.ui.task_dialog import FilmsTaskDialog, FilmsTaskTexts
from desktop_app.ui.validation_dialog import figure_table, fill_figure_rows

__all__ = ["CalibrationDialog", "open_calibration_dialog"]

_ROLLBACK_NOTE = "The model in use before can be restored from Training › Models… (Roll Back)."
_TEXTS = FilmsTaskTexts(
    task="Calibration", run="Calibrate", path_name="Site films",
    path_placeholder="The site's films: folder or CSV", folder_title="The site's films",
    csv_title="The site's labelled CSV", ready="Choose the site's films and name the site.",
    cancelled="Calibration cancelled: nothing was changed or written.",
    failed="Cannot calibrate: {message}")


def _percent_box(value: float, name: str) -> QtWidgets.QDoubleSpinBox:
    box = QtWidgets.QDoubleSpinBox()
    box.setRange(0.0, 100.0)
    box.setDecimals(1)
    box.setSingleStep(1.0)
    box.setSuffix(" %")
    box.setValue(value)
    box.setAccessibleName(name)
    box.setMaximumWidth(120)
    return box


class CalibrationDialog(FilmsTaskDialog[SiteCalibration]):
    """Pick the site's films and rule, calibrate in the background, show, save or install.

    Signals:
        calibration_finished(object): A finished :class:`SiteCalibration` (not yet saved).
        active_model_changed(str): The calibrated model was installed and made active (key).
    """

    calibration_finished = QtCore.Signal(object)
    active_model_changed = QtCore.Signal(str)

    def __init__(self, bundle: ModelBundle, parent: QtWidgets.QWidget | None = None, *,
                 store: ModelStore | None = None,
                 check_set: Sequence[CheckCase] | None = None) -> None:
        super().__init__(_TEXTS, parent)
        self.bundle = bundle
        self.installed: ModelEntry | None = None
        self._store = store
        # None: the non-chest check set shipped with LungLens (tests give a small one).
        self._check_set = None if check_set is None else list(check_set)
        self.setWindowTitle(f"Calibrate to this site — {bundle.model_id}")
        self.resize(1080, 980)

        intro = QtWidgets.QLabel(
            "Set the model's thresholds and its \"not a chest X-ray\" limits from this site's "
            "own films, with the same weights. Labelled films (a folder per class NORMAL, "
            "PNEUMONIA, COVID-19, a folder with metadata.csv, or such a CSV) set both; a plain "
            "folder of films adapts the limits only. At least 30 frontal chest films are "
            "needed; the model in use is not modified.")
        intro.setWordWrap(True)
        self._make_settings_widgets()
        self._make_results_widgets()
        buttons = self._make_buttons()
        form = self._settings_form()
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(QtWidgets.QLabel(
            f"<b>Model:</b> {html.escape(bundle.model_id)} (not modified)"))
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addLayout(self._progress_row(self.run_button))
        layout.addWidget(self.status)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.warnings_area)
        layout.addWidget(buttons)

        self.save_button.clicked.connect(self._on_save_button_clicked)
        self.install_button.clicked.connect(self._on_install_button_clicked)
        self.report_button.clicked.connect(self._on_report_button_clicked)
        self.chooser.threshold_chosen.connect(self._on_chooser_threshold_chosen)
        self.chooser.reset_requested.connect(self._on_chooser_reset_requested)
        buttons.rejected.connect(self.reject)

    def _make_settings_widgets(self) -> None:
        """The site's name and the three operating-point settings, at their defaults."""
        defaults = ThresholdSettings()
        self.site_edit = QtWidgets.QLineEdit()
        self.site_edit.setPlaceholderText("e.g. St Mary's radiology")
        self.site_edit.setAccessibleName("Site name")
        self.max_covid_box = _percent_box(100 * defaults.max_false_covid,
                                          "Largest share of non-COVID films called COVID-19")
        self.sensitivity_box = _percent_box(100 * defaults.target_sensitivity,
                                            "Share of each finding's films to find")
        self.max_pneumonia_box = _percent_box(
            100 * defaults.max_false_pneumonia, "Largest share of normal films called Pneumonia")

    def _make_results_widgets(self) -> None:
        """The result tabs and the scrollable warnings (hidden until there are some)."""
        self.status.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setAccessibleName("Calibration results")
        self.warnings_label = QtWidgets.QLabel()
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.warnings_label.setAccessibleName("Calibration warnings")
        self.warnings_area = QtWidgets.QScrollArea()
        self.warnings_area.setWidgetResizable(True)
        self.warnings_area.setWidget(self.warnings_label)
        self.warnings_area.setMaximumHeight(130)
        self.warnings_area.hide()
        self.chooser = ThresholdChooser()
        self.figures_table = figure_table(["figure", "before (model as trained)",
                                           "after (cross-validated by patient)"], [],
                                          "Figures before and after")
        # Compact rows: the table shares the page with the curves.
        self.figures_table.verticalHeader().setDefaultSectionSize(
            self.figures_table.fontMetrics().height() + 8)
        self.details = QtWidgets.QTextBrowser()
        self.details.setAccessibleName("Thresholds, gate limits and check set")
        self._figures_page = self._make_figures_page()

    def _make_figures_page(self) -> QtWidgets.QSplitter:
        """The curves over the before/after table and its note (kept across runs)."""
        note = QtWidgets.QLabel(AFTER_NOTE)
        note.setWordWrap(True)
        note.setAccessibleName("How the figures were measured")
        figures = QtWidgets.QWidget()
        box = QtWidgets.QVBoxLayout(figures)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.figures_table, 1)
        box.addWidget(note)
        small = QtGui.QFont(note.font())
        small.setPointSizeF(max(6.0, small.pointSizeF() - 1))
        note.setFont(small)
        page = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        page.setChildrenCollapsible(False)
        page.addWidget(self.chooser)
        page.addWidget(figures)
        page.setStretchFactor(0, 3)
        page.setStretchFactor(1, 2)
        page.setSizes([500, 210])
        return page

    def _make_buttons(self) -> QtWidgets.QDialogButtonBox:
        """Close, and save or install the calibrated model (enabled once there is one)."""
        self.save_button = QtWidgets.QPushButton("Save Model As…")
        self.install_button = QtWidgets.QPushButton("Install and Use")
        self.report_button = QtWidgets.QPushButton("Save Report…")
        self.report_button.setToolTip("A PDF of the figures, thresholds, curves, gate and "
                                      "warnings, for the site's records")
        for button in (self.save_button, self.install_button, self.report_button):
            button.setEnabled(False)
        self.install_button.setToolTip("Install the calibrated model and use it now. "
                                       + _ROLLBACK_NOTE)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        for button in (self.report_button, self.save_button, self.install_button):
            buttons.addButton(button, QtWidgets.QDialogButtonBox.ButtonRole.ActionRole)
        return buttons

    def _settings_form(self) -> QtWidgets.QFormLayout:
        form = QtWidgets.QFormLayout()
        form.addRow("Site's films:", self._path_row())
        form.addRow("Site name:", self.site_edit)
        # The three targets on one line: the results below need the height.
        targets = QtWidgets.QHBoxLayout()
        for words, box in (("at most", self.max_covid_box),
                           ("of non-COVID films called COVID-19;  find at least",
                            self.sensitivity_box),
                           ("of each finding's films;  at most", self.max_pneumonia_box)):
            targets.addWidget(QtWidgets.QLabel(words))
            targets.addWidget(box)
        targets.addWidget(QtWidgets.QLabel("of normal films called Pneumonia"))
        targets.addStretch(1)
        form.addRow("Targets:", targets)
        return form

    # -- running ------------------------------------------------------------------------------

    def settings(self) -> CalibrationSettings:
        """What the form asks for.

        Raises:
            ValueError: If the site has no name (quoted in the message).
        """
        return CalibrationSettings(self.site_edit.text(), ThresholdSettings(
            self.max_covid_box.value() / 100, self.sensitivity_box.value() / 100,
            self.max_pneumonia_box.value() / 100))

    def start(self) -> bool:
        """Calibrate the films named in the form in the background; False if it cannot start."""
        if self.running:
            return False
        text = self.path_edit.text().strip()
        if not text:
            self.status.setText("Choose the site's films (a folder or a CSV) first.")
            return False
        try:
            settings = self.settings()
        except ValueError as error:
            self.status.setText(f"Cannot calibrate: {error}")
            return False
        self._clear_result()
        function = functools.partial(calibrate_site, check_set=self._check_set)
        self._start_worker(function, Path(text), self.bundle, settings,
                           reading=f"Reading the site's films in {text}…")
        return True

    def _on_run_button_clicked(self) -> None:
        self.start()

    def _clear_result(self) -> None:
        self.result = None
        self.tabs.clear()  # removes the pages; the table, details and curves are kept
        self.warnings_label.clear()
        self.warnings_area.hide()

    def _inputs(self) -> tuple[QtWidgets.QWidget, ...]:
        return (self.site_edit, self.max_covid_box, self.sensitivity_box,
                self.max_pneumonia_box)

    def _result_buttons(self) -> tuple[QtWidgets.QWidget, ...]:
        return (self.save_button, self.install_button, self.report_button)

    def _progress_text(self, done: int, total: int) -> str:
        if done >= total:
            return ("Films measured. Choosing thresholds and limits, and cross-validating by "
                    "patient…")
        return (f"Measuring film {done} of {total} (the site's films, then the non-chest "
                "check set)…")

    def _show_result(self, result: SiteCalibration) -> None:
        self._show(result)
        self.status.setText(
            f"Calibrated: {result.model_id}. Nothing is installed yet: \"Save Model As…\" "
            "writes it to a folder, \"Install and Use\" makes it the model in use (the model "
            "in use now stays restorable: Training › Models… › Roll Back).")
        self.calibration_finished.emit(result)

    # -- results ------------------------------------------------------------------------------

    def _show(self, result: SiteCalibration) -> None:
        """The result tabs: curves over the before/after table, then thresholds and gate."""
        self.tabs.addTab(self._figures_page, "Before / after")
        self.tabs.addTab(self.details, "Thresholds and gate")
        self._refresh(result)

    def _refresh(self, result: SiteCalibration) -> None:
        """Everything that depends on the thresholds: table, details, curves, warnings."""
        section = result.summary
        fill_figure_rows(self.figures_table, figure_rows(section))
        self.details.setHtml(section_html(section, figures=False, warnings=False))
        self.chooser.show_section(section, self.bundle.card.classes)
        warnings = result.warnings
        self.warnings_label.setText(
            "<b>Warnings</b><ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
            + "</ul>" if warnings else "<b>No warnings.</b>")
        self.warnings_area.show()

    # -- choosing the point ---------------------------------------------------------------

    def choose_thresholds(self, fixed: Mapping[str, float]) -> SiteCalibration | None:
        """Re-measure the calibration with these thresholds set by hand (``{}``: the targets').

        The films are not read again; the result replaces the one saving and installing
        write. Returns None (and says why) when there is no calibration or it cannot be.
        """
        if self.result is None or self.result.settings is None:
            return None
        settings = self.result.settings
        settings = dataclasses.replace(settings, thresholds=dataclasses.replace(
            settings.thresholds, fixed=dict(fixed)))
        try:
            result = recalibrate(self.result, settings)
        except (LungLensError, ValueError) as error:
            self.status.setText(f"Cannot use that threshold: {error}")
            return None
        self.result = result
        self._refresh(result)
        chosen = ", ".join(f"{name} {value:.2f}" for name, value in fixed.items())
        self.status.setText(
            (f"Thresholds set here, for every age group: {chosen}. " if fixed else
             "Thresholds chosen from the targets again. ")
            + "Figures and warnings re-measured on the same films; nothing is installed yet.")
        return result

    def _on_chooser_threshold_chosen(self, finding: str, threshold: float) -> None:
        fixed = dict(self.result.settings.thresholds.fixed) if self.result is not None \
            and self.result.settings is not None else {}
        fixed[finding] = round(threshold, 6)
        self.choose_thresholds(fixed)

    def _on_chooser_reset_requested(self) -> None:
        self.choose_thresholds({})

    # -- saving and installing ----------------------------------------------------------------

    def save_bundle(self, folder: Path | str) -> ModelBundle | None:
        """Write the calibrated bundle into ``folder`` (new or empty); None if it failed."""
        if self.result is None:
            return None
        try:
            bundle = self.result.write_bundle(folder)
        except (LungLensError, OSError) as error:
            self.status.setText(f"Not saved: {error}")
            return None
        self.status.setText(f"Saved the calibrated model to {bundle.path}. It can be installed "
                            "later from the command line (calibrate --install) or here.")
        return bundle

    def install(self) -> ModelEntry | None:
        """Install the calibrated bundle into the model store and make it the active model."""
        if self.result is None:
            return None
        store = self._store if self._store is not None else ModelStore()
        staging_root = user_data_dir()
        staging_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".calibrated-", dir=staging_root))
        name = self.result.model_id
        suffix = 2
        while store.path_of(name).exists():
            name = f"{self.result.model_id}-{suffix}"
            suffix += 1
        QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.WaitCursor)
        try:
            self.result.write_bundle(staging / "bundle")
            entry = store.install(staging / "bundle", name, activate=True)
        except (LungLensError, OSError) as error:
            self.status.setText(f"Not installed: {error}")
            return None
        finally:
            QtWidgets.QApplication.restoreOverrideCursor()
            shutil.rmtree(staging, ignore_errors=True)
        self.installed = entry
        self.install_button.setEnabled(False)
        self.status.setText(f"Installed {entry.model_id!r} and made it the model in use. "
                            + _ROLLBACK_NOTE)
        self.active_model_changed.emit(entry.key)
        return entry

    def save_report(self, path: Path | str) -> Path | None:
        """Write the calibration's PDF report (None, and the reason shown, if it failed)."""
        if self.result is None:
            return None
        try:
            written = write_calibration_pdf(path, self.result.summary, self.result.model_id)
        except OSError as error:
            self.status.setText(f"Report not saved: {error}")
            return None
        self.status.setText(f"Saved the calibration report to {written}.")
        return written

    def _on_report_button_clicked(self) -> None:
        if self.result is None:
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Save the calibration report", f"{self.result.model_id}.pdf",
            "PDF (*.pdf)")
        if path:
            self.save_report(path if path.lower().endswith(".pdf") else f"{path}.pdf")

    def _on_save_button_clicked(self) -> None:
        if self.result is None:
            return
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self, "Save the calibrated model in a new, empty folder")
        if not folder:
            return
        target = Path(folder)
        if any(target.iterdir()):
            # A folder that holds other files gets the model in a sub-folder of its own.
            target = target / self.result.model_id
        self.save_bundle(target)

    def _on_install_button_clicked(self) -> None:
        self.install()


def open_calibration_dialog(parent: QtWidgets.QWidget, bundle: ModelBundle,
                            reload_model: Callable[[], None] | None = None
                            ) -> CalibrationDialog:
    """Analysis › Calibrate to This Site… (modeless, freed on close; reloads on install)."""
    dialog = CalibrationDialog(bundle, parent)
    show_reloading_on(dialog, dialog.active_model_changed, reload_model)
    return dialog
