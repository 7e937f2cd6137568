"""The LungLens main window: assembles the worklist table, image view, result panel and menus.

The window owns no rows, no rules and no long work. The rows, the model in use and the queue
of rows waiting for an answer live in the core :class:`~desktop_app.core.session.session.
Session`, which the window's parts observe through
:class:`~desktop_app.ui.session_signals.SessionSignals`: opening files
(:mod:`~desktop_app.ui.file_opening`), the batch (:mod:`~desktop_app.ui.batch_control`), the
display (:mod:`~desktop_app.ui.image_display`), the exports
(:mod:`~desktop_app.ui.export_control`), the DICOM receiver
(:mod:`~desktop_app.ui.receiver_control`), the dialogs (:mod:`~desktop_app.ui.window_dialogs`)
and Cancel (:mod:`~desktop_app.ui.cancel_control`). Each gets the session and the widgets it
draws on, never the window, declares its own actions and reports by signal; the window
creates them, puts their actions in the menus and the toolbar and connects their reports to
the status bar and the banner. Failures end up in the table, the status bar or a banner —
never in a storm of dialogs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app import APP_NAME
from desktop_app.core.locations import user_data_dir
from desktop_app.core.model.calibration_line import calibration_line
from desktop_app.core.session.session import Session
from desktop_app.ui.audit_dialog import AuditControl
from desktop_app.ui.banner import Banner, BannerLevel
from desktop_app.ui.batch_control import BatchControl
from desktop_app.ui.cancel_control import CancelControl
from desktop_app.ui.export_control import ExportControl
from desktop_app.ui.file_opening import IMAGE_FILTER, FileOpening, local_paths
from desktop_app.ui.image_display import ImageDisplay
from desktop_app.ui.image_view import ImageViewer
from desktop_app.ui.model_loading import ModelLoading
from desktop_app.ui.opened_persistence import OpenedFilmKeeper
from desktop_app.ui.receiver_control import ReceiverControl
from desktop_app.ui.result_panel import ResultPanel
from desktop_app.ui.results_sending import SendControl
from desktop_app.ui.results_table import ResultsTableModel, ResultsTableView
from desktop_app.ui.session_signals import SessionSignals
from desktop_app.ui.settings import Settings
from desktop_app.ui.window_dialogs import WindowDialogs
from desktop_app.ui.window_geometry import restore_window_layout, save_window_layout
from desktop_app.ui.window_menus import (
    create_menus,
    create_status_bar,
    create_toolbar,
    make_action,
)
from desktop_app.ui.workers import ImageLoader

if TYPE_CHECKING:
    from desktop_app.core.model.model_store import ActiveModel

__all__ = ["IMAGE_FILTER", "MainWindow"]


class MainWindow(QtWidgets.QMainWindow):
    """The application window.

    Signals:
        window_shown(): The window was shown for the first time (startup probe).
        files_dropped(list): Local paths dropped on the window.
        model_loaded(object): The :class:`ActiveModel` now in use.
        model_failed(str): Why no model could be loaded.
        analysis_finished(bool): A worklist batch ended; True if cancelled.
        image_shown(int): The full result of this row is now in the view and panel.
    """

    window_shown = QtCore.Signal()
    files_dropped = QtCore.Signal(list)
    model_loaded = QtCore.Signal(object)
    model_failed = QtCore.Signal(str)
    analysis_finished = QtCore.Signal(bool)
    image_shown = QtCore.Signal(int)

    def __init__(self, *, model_dir: Path | str | None = None,
                 settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self._shown_once = False
        # Model loading, folder expansion and PDF export share a small pool; the batch and
        # the receiver have their own threads.
        self.pool = QtCore.QThreadPool(self)
        self.pool.setMaxThreadCount(2)

        self.setWindowTitle(APP_NAME)
        self.setMinimumSize(960, 600)
        self.setAcceptDrops(True)

        self._make_session_widgets()
        self._make_parts(model_dir)
        self._lay_out()
        self._add_menus_and_toolbar()
        create_status_bar(self.statusBar(), (
            self.receiver.indicator, self.counts_label, self.batch.progress_bar,
            self.cancel.button, self.model_status))
        # The status-bar summary scans every row: refresh it at most ten times a second.
        self._counts_timer = QtCore.QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(100)
        restore_window_layout(self, self.settings, self._splitters())

        self._connect()

        # Started from the event loop, i.e. after show(): the loader's imports would otherwise
        # compete with building and showing the window for the interpreter lock.
        QtCore.QTimer.singleShot(0, self.models.load)

    def _make_session_widgets(self) -> None:
        """The session and the widgets that show it (table, viewer, panel, status labels)."""
        self.session = Session()
        # The table listens before the parts do: a part reacting to a cleared worklist finds
        # the table (and its selection) already empty.
        self.table_model = ResultsTableModel(self, self.session.worklist)
        self.session_signals = SessionSignals(self.session, self)
        self.banner = Banner(self)
        self.table = ResultsTableView(self.table_model, self)
        self.viewer = ImageViewer(self)
        self.viewer.set_opacity_percent(self.settings.overlay_opacity())
        self.viewer.set_heatmap_visible(self.settings.heatmap_visible())
        self.panel = ResultPanel(self)
        self.image_loader = ImageLoader(self)
        self.model_status = QtWidgets.QLabel("Loading model…", self)
        self.model_status.setAccessibleName("Model status")
        self.counts_label = QtWidgets.QLabel("", self)

    def _make_parts(self, model_dir: Path | str | None) -> None:
        """The parts that observe the session: models, batch, exports, files, receiver..."""
        signals = self.session_signals
        data_dir = user_data_dir()
        #: Keeps opened and dropped films in the persistent worklist of the user data folder.
        self.keeper = OpenedFilmKeeper(data_dir, self)
        self.models = ModelLoading(self.session, self.pool, model_dir, self)
        self.batch = BatchControl(signals, self.keeper, self)
        self.exports = ExportControl(signals, self.table, self.settings, self.pool, self)
        self.cancel = CancelControl(self.batch, self.exports, self)
        self.opening = FileOpening(signals, self.keeper, self.settings, self.table, self.pool,
                                   self)
        self.display = ImageDisplay(signals, self.table, self.viewer, self.panel,
                                    self.image_loader, self.batch, self)
        self.receiver = ReceiverControl(signals, self.settings, data_dir, self.pool, self)
        self.sending = SendControl(signals, self.settings, data_dir, self.pool, self.receiver,
                                   self.table, self)
        self.audit = AuditControl(data_dir, self.pool, self)
        self.dialogs = WindowDialogs(signals, self.models.load, self)
        self.quit_action = make_action(self, "&Quit", self.close,
                                       QtGui.QKeySequence.StandardKey.Quit)

    def _connect(self) -> None:
        self.files_dropped.connect(self.opening.open_paths)
        self.table_model.counts_changed.connect(self._on_table_model_counts_changed)
        self._counts_timer.timeout.connect(self._on_counts_timer_timeout)
        self.viewer.shown_class_changed.connect(self.panel.set_shown_class)
        self.viewer.opacity_changed.connect(self.settings.set_overlay_opacity)
        self.viewer.heatmap_toggled.connect(self.settings.set_heatmap_visible)
        self.panel.model_card_requested.connect(self.dialogs.model_card)
        self.display.image_shown.connect(self.image_shown)
        self.display.title_changed.connect(self.setWindowTitle)
        self.receiver.film_analysed.connect(self.display.on_film_answered)
        self.batch.finished.connect(self.analysis_finished)
        self.models.started.connect(self.batch.stop_running)
        self.models.started.connect(self._on_models_started)
        self.models.loaded.connect(self._on_models_loaded)
        self.models.failed.connect(self._on_models_failed)
        for part in (self.batch, self.exports, self.opening, self.receiver, self.sending,
                     self.dialogs):
            part.status_message.connect(self._on_part_status_message)
        for part in (self.batch, self.exports, self.receiver):
            part.error.connect(self._on_part_error)

    def _lay_out(self) -> None:
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

    def _splitters(self) -> tuple[QtWidgets.QSplitter, QtWidgets.QSplitter]:
        return self.main_splitter, self.top_splitter

    def _add_menus_and_toolbar(self) -> None:
        """File, View, Analysis, Training and Help; the main toolbar; shortcut-only actions."""
        opening, exports, display, dialogs = self.opening, self.exports, self.display, self.dialogs
        viewer = self.viewer
        create_menus(self.menuBar(), (
            ("&File", (opening.open_action, opening.open_folder_action, opening.recent_menu,
                       self.receiver.action, self.sending.action, None, exports.csv_action,
                       exports.pdf_action, None,
                       opening.clear_action, None, self.quit_action)),
            ("&View", (viewer.original_action, viewer.model_input_action, None,
                       viewer.heatmap_action, None, viewer.fit_action, viewer.zoom_in_action,
                       viewer.zoom_out_action, viewer.actual_size_action, None,
                       viewer.auto_window_action, viewer.reset_window_action)),
            ("&Analysis", (display.next_action, display.previous_action, None,
                           self.cancel.action, None, dialogs.validate_action,
                           dialogs.calibrate_action)),
            ("&Training", (dialogs.train_action, dialogs.models_action)),
            ("&Help", (dialogs.model_card_action, self.audit.action, dialogs.about_action)),
        ))
        create_toolbar(self, "Main", "mainToolbar", (
            opening.open_action, opening.open_folder_action, None, exports.csv_action,
            exports.pdf_action, None, self.cancel.action, None, dialogs.model_card_action))
        # The shortcut-only actions must live on a widget of the window to fire.
        self.addAction(display.next_action)
        self.addAction(display.previous_action)

    # -- kept for benchmarks/ (gui_responsiveness.py, dicom_node.py drive the window) ----------

    @property
    def active_model(self) -> ActiveModel | None:
        """The model in use (the session's), or ``None`` while loading or after a failure."""
        return self.session.active

    def open_paths(self, paths: Sequence[str | Path]) -> None:
        """Add files and folders to the worklist (as dropping them does)."""
        self.opening.open_paths(paths)

    def select_next(self) -> None:
        """Show the next row of the worklist (as Analysis › Next Image does)."""
        self.display.select_next()

    # -- reports of the parts --------------------------------------------------------------

    def _on_part_status_message(self, message: str, msecs: int) -> None:
        self.statusBar().showMessage(message, msecs)

    def _on_part_error(self, message: str) -> None:
        self.banner.show_message(message, BannerLevel.ERROR)

    def _on_models_started(self) -> None:
        self.model_status.setText("Loading model…")

    def _on_models_loaded(self, active: ActiveModel, replaced: bool) -> None:
        card = active.bundle.card
        if replaced:
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
        calibrated = calibration_line(card)
        self.model_status.setText(f"Model: {card.model_id}"
                                  + (f" — {calibrated}" if calibrated else ""))
        self.model_status.setToolTip(str(active.bundle.path))
        if active.warning:
            self.banner.show_message(f"Model warning: {active.warning}", BannerLevel.WARNING)
            self.statusBar().showMessage(active.warning, 15000)
        self.model_loaded.emit(active)
        self.display.show_current_again(current)

    def _on_models_failed(self, message: str) -> None:
        self.model_status.setText("No model")
        self.model_status.setToolTip(message)
        self.banner.show_message(
            f"No usable model could be loaded, so images cannot be classified: {message}. "
            "Reinstall LungLens or choose another model (Training › Models…).",
            BannerLevel.ERROR,
        )
        self.panel.set_message("No model", message)
        self.model_failed.emit(message)

    def _on_table_model_counts_changed(self) -> None:
        if not self._counts_timer.isActive():  # restarting would postpone it while busy
            self._counts_timer.start()

    def _on_counts_timer_timeout(self) -> None:
        self.counts_label.setText(self.table_model.summary())

    # -- Qt overrides --------------------------------------------------------------------------

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

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        """Announce the first show (the startup probe measures it)."""
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            self.window_shown.emit()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        """Stop background work cooperatively, then save the settings."""
        self.cancel.cancel()
        save_window_layout(self, self.settings, self._splitters(), self.viewer)
        self.receiver.wait(10000)
        self.keeper.wait(10000)
        self.batch.wait(10000)
        self.image_loader.wait(10000)
        self.pool.waitForDone(10000)
        super().closeEvent(event)
