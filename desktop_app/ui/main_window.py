"""The LungLens main window: composes the worklist table, image view, result panel and menus.

The window owns no long work and no rows. The rows live in the core
:class:`~desktop_app.core.worklist.Worklist` (shown through ``ResultsTableModel``); opening
files (:mod:`~desktop_app.ui.file_opening`), the batch (:mod:`~desktop_app.ui.batch_control`),
the exports (:mod:`~desktop_app.ui.export_control`) and the DICOM receiver
(:mod:`~desktop_app.ui.receiver_control`) are small objects the window composes; long work
runs in :mod:`desktop_app.ui.workers`. Failures end up in the table, the status bar or a
banner — never in a storm of dialogs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app import APP_NAME
from desktop_app.core.calibration_line import calibration_line
from desktop_app.ui.banner import Banner, BannerLevel
from desktop_app.ui.batch_control import BatchControl
from desktop_app.ui.export_control import ExportControl
from desktop_app.ui.file_opening import IMAGE_FILTER, FileOpening, local_paths
from desktop_app.ui.image_display import ImageDisplay
from desktop_app.ui.image_view import ImageViewer
from desktop_app.ui.model_card_dialog import ModelCardDialog
from desktop_app.ui.receiver_control import ReceiverControl
from desktop_app.ui.result_panel import ResultPanel
from desktop_app.ui.results_table import ResultsTableModel, ResultsTableView
from desktop_app.ui.settings import Settings
from desktop_app.ui.window_dialogs import WindowDialogs
from desktop_app.ui.window_geometry import restore_window_layout, save_window_layout
from desktop_app.ui.window_menus import (
    create_actions,
    create_menus,
    create_status_bar,
    create_toolbar,
)
from desktop_app.ui.workers import FunctionWorker, ImageLoader, load_active_model

if TYPE_CHECKING:
    # The classify path is imported by the workers, after the window is shown (start-up time).
    from desktop_app.core.analysis import ImageResult
    from desktop_app.core.model_store import ActiveModel

__all__ = ["IMAGE_FILTER", "MainWindow"]

_WIZARD_MODULE = "desktop_app.ui.training_wizard"
_MODELS_MODULE = "desktop_app.ui.models_dialog"


class MainWindow(QtWidgets.QMainWindow):
    """The application window.

    Signals:
        window_shown(): The window was shown for the first time (startup probe).
        files_dropped(list): Local paths dropped on the window.
        files_added(list): Row keys added to the worklist.
        model_loaded(object): The :class:`ActiveModel` now in use.
        model_failed(str): Why no model could be loaded.
        analysis_finished(bool): A worklist batch ended; True if cancelled.
        image_shown(int): The full result of this row is now in the view and panel.
        export_finished(str): A PDF report was written to this path.
        export_failed(str): Why the PDF export failed or was cancelled.
    """

    window_shown = QtCore.Signal()
    files_dropped = QtCore.Signal(list)
    files_added = QtCore.Signal(list)
    model_loaded = QtCore.Signal(object)
    model_failed = QtCore.Signal(str)
    analysis_finished = QtCore.Signal(bool)
    image_shown = QtCore.Signal(int)
    export_finished = QtCore.Signal(str)
    export_failed = QtCore.Signal(str)

    def __init__(self, *, model_dir: Path | str | None = None,
                 settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self._model_dir = model_dir
        self._active: ActiveModel | None = None
        self.model_error: str | None = None
        self._shown_once = False
        # Model loading, folder expansion and PDF export share a small pool; the batch and
        # the receiver have their own threads.
        self.pool = QtCore.QThreadPool(self)
        self.pool.setMaxThreadCount(2)

        self.setWindowTitle(APP_NAME)
        self.setMinimumSize(960, 600)
        self.setAcceptDrops(True)

        # -- widgets ---------------------------------------------------------------------------
        self.banner = Banner(self)
        self.table_model = ResultsTableModel(self)
        self.table = ResultsTableView(self.table_model, self)
        self.viewer = ImageViewer(self)
        self.viewer.set_opacity_percent(self.settings.overlay_opacity())
        self.viewer.set_heatmap_visible(self.settings.heatmap_visible())
        self.panel = ResultPanel(self)
        self.image_loader = ImageLoader(self)
        self.display = ImageDisplay(self)
        self.batch = BatchControl(self)
        self.exports = ExportControl(self, self.pool)
        self.opening = FileOpening(self, self.pool)
        self.receiver = ReceiverControl(self)
        self.dialogs = WindowDialogs(self)

        self.top_splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal, self)
        self.top_splitter.addWidget(self.viewer)
        self.top_splitter.addWidget(self.panel)
        self.top_splitter.setStretchFactor(0, 1)
        self.top_splitter.setStretchFactor(1, 0)
        self.top_splitter.setSizes([1000, 340])
        self.top_splitter.setChildrenCollapsible(False)
        self.main_splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical, self)
        self.main_splitter.addWidget(self.top_splitter)
        self.main_splitter.addWidget(self.table)
        self.main_splitter.setStretchFactor(0, 3)
        self.main_splitter.setStretchFactor(1, 1)
        self.main_splitter.setSizes([620, 240])
        self.main_splitter.setChildrenCollapsible(False)
        central = QtWidgets.QWidget(self)
        layout = QtWidgets.QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.main_splitter, 1)
        self.setCentralWidget(central)

        create_status_bar(self)

        # The status-bar summary scans every row: refresh it at most ten times a second.
        self._counts_timer = QtCore.QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(100)

        create_actions(self)
        create_menus(self)
        create_toolbar(self)
        restore_window_layout(self)
        self.update_actions()

        # -- connections -----------------------------------------------------------------------
        self.files_dropped.connect(self.open_paths)
        self.table.current_key_changed.connect(self.display.on_current_key_changed)
        self.table_model.counts_changed.connect(self._on_table_model_counts_changed)
        self._counts_timer.timeout.connect(self._on_counts_timer_timeout)
        self.image_loader.image_previewed.connect(self.display.on_image_previewed)
        self.image_loader.image_loaded.connect(self.display.on_image_loaded)
        self.image_loader.image_failed.connect(self.display.on_image_failed)
        self.display.image_shown.connect(self.image_shown)
        self.viewer.shown_class_changed.connect(self.panel.set_shown_class)
        self.viewer.opacity_changed.connect(self.settings.set_overlay_opacity)
        self.viewer.heatmap_toggled.connect(self.settings.set_heatmap_visible)
        self.panel.model_card_requested.connect(self.show_model_card)
        self.cancel_button.clicked.connect(self.cancel_analysis)
        self.recent_menu.aboutToShow.connect(self.opening.fill_recent_menu)
        self.opening.files_added.connect(self.files_added)
        self.batch.item_done.connect(self.display.on_batch_item_done)
        self.batch.finished.connect(self.analysis_finished)
        self.exports.finished.connect(self.export_finished)
        self.exports.failed.connect(self.export_failed)
        self.receiver.film_analysed.connect(self.display.on_film_answered)

        # Started from the event loop, i.e. after show(): the loader's imports would otherwise
        # compete with building and showing the window for the interpreter lock.
        QtCore.QTimer.singleShot(0, self._start_model_load)

    # -- model -----------------------------------------------------------------------------

    @property
    def active_model(self) -> ActiveModel | None:
        """The model in use, or ``None`` while loading or after a failure."""
        return self._active

    def is_current_model(self, result: ImageResult) -> bool:
        """True when ``result`` came from the model now in use."""
        return self._active is not None and result.model_id == self._active.bundle.card.model_id

    def _start_model_load(self) -> None:
        self.model_status.setText("Loading model…")
        worker = FunctionWorker(load_active_model, self._model_dir)
        worker.signals.succeeded.connect(self._on_model_loader_succeeded)
        worker.signals.failed.connect(self._on_model_loader_failed)
        self.pool.start(worker)

    def reload_model(self) -> None:
        """Load the store's active model again (hook for the Models dialog and the wizard).

        The running batch stops; once the new model is loaded the worklist is classified
        again with it. A ``--model``/``$LUNGLENS_MODEL_DIR`` override stays in force.
        """
        self.batch.stop_running()
        self._start_model_load()

    def _on_model_loader_succeeded(self, active: ActiveModel) -> None:
        previous = self._active
        self._active = active
        self.model_error = None
        card = active.bundle.card
        if previous is not None and previous.bundle is not active.bundle:
            # A new model (installed by the wizard, or switched): every row's answer came from
            # the old one, so the whole worklist is classified again.
            self.batch.requeue_all()
            self.banner.show_message(
                f"Now using model {card.model_id}; the worklist is being classified again.",
                BannerLevel.INFO,
            )
        # New class columns reset the table model, which drops the selection: restore it.
        current = self.table.current_key()
        self.table_model.set_classes(card.classes)
        self.viewer.set_classes(card.classes)
        self.panel.set_model_card(card)
        self.image_loader.set_bundle(active.bundle)
        self.display.forget()
        calibrated = calibration_line(card)
        self.model_status.setText(f"Model: {card.model_id}"
                                  + (f" — {calibrated}" if calibrated else ""))
        self.model_status.setToolTip(str(active.bundle.path))
        if active.warning:
            self.banner.show_message(f"Model warning: {active.warning}", BannerLevel.WARNING)
            self.statusBar().showMessage(active.warning, 15000)
        self.update_actions()
        self.model_loaded.emit(active)
        if previous is None:
            self.receiver.load_today()
        self.batch.schedule()
        if current >= 0 and self.table_model.has_key(current):
            if self.table.current_key() == current:
                self.display.show_key(current)
            else:
                self.table.select_key(current)  # shows it through current_key_changed

    def _on_model_loader_failed(self, message: str) -> None:
        self._active = None
        self.model_error = message
        self.model_status.setText("No model")
        self.model_status.setToolTip(message)
        self.banner.show_message(
            f"No usable model could be loaded, so images cannot be classified: {message}. "
            "Reinstall LungLens or choose another model (Training › Models…).",
            BannerLevel.ERROR,
        )
        self.panel.set_message("No model", message)
        self.update_actions()
        self.model_failed.emit(message)

    # -- opening files -------------------------------------------------------------------------

    def open_paths(self, paths: Sequence[str | Path], *, remember: bool = True) -> None:
        """Add files and folders to the worklist (folders are expanded off the UI thread)."""
        self.opening.open_paths(paths, remember=remember)

    def open_files_dialog(self) -> None:
        """File › Open: choose one or more images."""
        self.opening.files_dialog()

    def open_folder_dialog(self) -> None:
        """File › Open Folder: every image in a folder tree."""
        self.opening.folder_dialog()

    def clear_worklist(self) -> None:
        """Remove every row (cancelling the analysis)."""
        self.cancel_analysis()
        self.display.forget()
        self.table_model.clear()
        self.viewer.clear("Drop chest X-rays or folders here, or use File › Open (Ctrl+O)")
        self.panel.set_result(None)
        self.update_actions()

    # -- drag and drop -------------------------------------------------------------------------

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        """Accept local files and folders dragged from the file manager."""
        self.dragMoveEvent(event)
        if event.isAccepted():
            self.statusBar().showMessage("Drop to add to the worklist")

    def dragMoveEvent(self, event: QtGui.QDragMoveEvent) -> None:
        """Keep accepting while the drag moves over child widgets."""
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QtGui.QDragLeaveEvent) -> None:
        """Clear the drop hint."""
        self.statusBar().clearMessage()
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        """Open what was dropped."""
        paths = local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.files_dropped.emit(paths)

    # -- batch analysis ------------------------------------------------------------------------

    @property
    def analysis_running(self) -> bool:
        """True while a worklist batch runs."""
        return self.batch.running

    def cancel_analysis(self) -> None:
        """Stop the running batch (and any export); queued rows become "cancelled"."""
        self.batch.cancel()
        self.exports.cancel()

    # -- selection and display -----------------------------------------------------------------

    def select_next(self) -> None:
        """Show the next row of the (sorted) worklist."""
        self.display.select_offset(1)

    def select_previous(self) -> None:
        """Show the previous row of the (sorted) worklist."""
        self.display.select_offset(-1)

    # -- export --------------------------------------------------------------------------------

    def export_csv_dialog(self) -> None:
        """File › Export CSV: choose where to save the table."""
        self.exports.csv_dialog()

    def export_csv(self, path: str | Path) -> int:
        """Write the worklist, in its sorted order, to ``path``; return the rows written."""
        return self.exports.export_csv(path)

    def export_pdf_dialog(self) -> None:
        """File › Export PDF: choose where to save the report."""
        self.exports.pdf_dialog()

    def export_pdf(self, path: str | Path) -> bool:
        """Write a PDF report (one page per row) in the background; False if it cannot start."""
        return self.exports.export_pdf(path)

    # -- dialogs and hooks ---------------------------------------------------------------------

    def show_model_card(self) -> ModelCardDialog | None:
        """Help › Model Card: training data, metrics, calibration, limitations, hashes."""
        return self.dialogs.model_card()

    def open_training_wizard(self) -> None:
        """Training › Train a New Model… (the wizard calls :meth:`reload_model` after install)."""
        self.dialogs.open_hook(_WIZARD_MODULE, "open_training_wizard", "Train a new model")

    def open_validation_dialog(self) -> QtWidgets.QDialog | None:
        """Analysis › Validate on Local Data… (lives in ``ui.validation_dialog``)."""
        return self.dialogs.validation()

    def open_calibration_dialog(self) -> QtWidgets.QDialog | None:
        """Analysis › Calibrate to This Site… (the dialog calls :meth:`reload_model` on install)."""
        return self.dialogs.calibration()

    def open_model_manager(self) -> None:
        """Training › Models… (the dialog calls :meth:`reload_model` after a switch)."""
        self.dialogs.open_hook(_MODELS_MODULE, "open_model_manager", "Models")

    def show_about(self) -> None:
        """Help › About."""
        self.dialogs.about()

    # -- state -----------------------------------------------------------------------------

    def update_actions(self) -> None:
        """Enable what can be done now."""
        has_rows = self.table_model.rowCount() > 0
        self.export_csv_action.setEnabled(has_rows)
        self.export_pdf_action.setEnabled(has_rows and self._active is not None
                                          and not self.exports.running)
        self.cancel_action.setEnabled(self.batch.running or self.exports.running)
        self.model_card_action.setEnabled(self._active is not None)
        self.clear_action.setEnabled(has_rows)

    def _on_table_model_counts_changed(self) -> None:
        if not self._counts_timer.isActive():  # restarting would postpone it while busy
            self._counts_timer.start()

    def _on_counts_timer_timeout(self) -> None:
        self.counts_label.setText(self.table_model.summary())
        self.update_actions()

    # -- Qt overrides --------------------------------------------------------------------------

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        """Announce the first show (the startup probe measures it)."""
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            self.window_shown.emit()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        """Stop background work cooperatively, then save the settings."""
        self.cancel_analysis()
        save_window_layout(self)
        self.receiver.wait(10000)
        self.batch.wait(10000)
        self.image_loader.wait(10000)
        self.pool.waitForDone(10000)
        super().closeEvent(event)
