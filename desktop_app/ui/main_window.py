"""The LungLens main window: worklist, image view, result panel, menus and status bar.

The window owns no long work. It asks :mod:`desktop_app.ui.workers` to load the model, to
expand folders, to classify the worklist (one batch at a time, cancellable) and to reload the
selected image at full resolution; results come back as signals and update the table model,
the viewer and the panel. Nothing here blocks the UI thread for more than a frame, and
failures end up in the table, the status bar or a banner — never in a storm of dialogs.
"""

from __future__ import annotations

import datetime as dt
import importlib
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app import APP_NAME, DISCLAIMER, __version__
from desktop_app.ui.banner import Banner, BannerLevel
from desktop_app.ui.image_view import ImageViewer
from desktop_app.ui.model_card_dialog import ModelCardDialog
from desktop_app.ui.result_panel import ResultPanel
from desktop_app.ui.results_table import ResultsTableModel, ResultsTableView, Status
from desktop_app.ui.settings import Settings
from desktop_app.ui.window_geometry import remember_window_geometry, restore_window_geometry
from desktop_app.ui.workers import (
    BatchAnalysisWorker,
    BatchItem,
    FunctionWorker,
    ImageLoader,
    TaskWorker,
    expand_paths,
    load_active_model,
    make_thumbnail,
)

if TYPE_CHECKING:
    # The classify path is imported by the workers, after the window is shown (start-up time).
    from desktop_app.core.analysis import ExpandedInputs, ImageResult
    from desktop_app.core.model_store import ActiveModel

__all__ = ["IMAGE_FILTER", "MainWindow"]

IMAGE_FILTER = (
    "Chest X-ray images (*.png *.jpg *.jpeg *.dcm *.dicom *.dic *.tif *.tiff *.bmp);;"
    "All files (*)"
)
_FULL_CACHE_SIZE = 2
# Decoding threads of a worklist batch (Pillow releases the GIL while decoding); on a busy
# two-core PC one thread was slower and no smoother for the UI.
DECODE_WORKERS = 2
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
        self._model_error: str | None = None
        self._batch: BatchAnalysisWorker | None = None
        self._batch_done: set[int] = set()
        self._batch_started = 0.0
        self._pending: list[int] = []
        self._export: TaskWorker | None = None
        self._full: OrderedDict[int, ImageResult] = OrderedDict()
        self._shown_once = False
        self._card_dialog: ModelCardDialog | None = None
        # Model loading, folder expansion and PDF export share a small pool; the worklist
        # batch has its own single thread so it never waits behind an export.
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._batch_pool = QtCore.QThreadPool(self)
        self._batch_pool.setMaxThreadCount(1)
        self._batch_pool.setExpiryTimeout(-1)

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

        # -- status bar ------------------------------------------------------------------------
        self.model_status = QtWidgets.QLabel("Loading model…", self)
        self.model_status.setAccessibleName("Model status")
        self.counts_label = QtWidgets.QLabel("", self)
        self.progress_bar = QtWidgets.QProgressBar(self)
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setAccessibleName("Analysis progress")
        self.progress_bar.hide()
        self.cancel_button = QtWidgets.QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop the analysis or export (Esc)")
        self.cancel_button.setAccessibleName("Cancel analysis")
        self.cancel_button.hide()
        status = self.statusBar()
        status.addPermanentWidget(self.counts_label)
        status.addPermanentWidget(self.progress_bar)
        status.addPermanentWidget(self.cancel_button)
        status.addPermanentWidget(self.model_status)

        # The status-bar summary scans every row: refresh it at most ten times a second.
        self._counts_timer = QtCore.QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(100)

        self._create_actions()
        self._create_menus()
        self._create_toolbar()
        self._restore_settings()
        self._update_actions()

        # -- connections -----------------------------------------------------------------------
        self.files_dropped.connect(self._on_self_files_dropped)
        self.table.current_key_changed.connect(self._on_table_current_key_changed)
        self.table_model.counts_changed.connect(self._on_table_model_counts_changed)
        self._counts_timer.timeout.connect(self._on_counts_timer_timeout)
        self.image_loader.image_previewed.connect(self._on_image_loader_image_previewed)
        self.image_loader.image_loaded.connect(self._on_image_loader_image_loaded)
        self.image_loader.image_failed.connect(self._on_image_loader_image_failed)
        self.viewer.shown_class_changed.connect(self.panel.set_shown_class)
        self.viewer.opacity_changed.connect(self._on_viewer_opacity_changed)
        self.viewer.heatmap_toggled.connect(self._on_viewer_heatmap_toggled)
        self.panel.model_card_requested.connect(self.show_model_card)
        self.cancel_button.clicked.connect(self.cancel_analysis)
        self.recent_menu.aboutToShow.connect(self._on_recent_menu_about_to_show)

        # Started from the event loop, i.e. after show(): the loader's imports would otherwise
        # compete with building and showing the window for the interpreter lock.
        QtCore.QTimer.singleShot(0, self._start_model_load)

    # -- construction helpers ------------------------------------------------------------------

    def _action(self, text: str, slot: object, shortcut: QtGui.QKeySequence | str | None = None,
                tip: str | None = None,
                icon: QtWidgets.QStyle.StandardPixmap | None = None) -> QtGui.QAction:
        action = QtGui.QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QtGui.QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        action.triggered.connect(slot)
        return action

    def _create_actions(self) -> None:
        pixmap = QtWidgets.QStyle.StandardPixmap
        keys = QtGui.QKeySequence.StandardKey
        self.open_action = self._action("&Open Images…", self.open_files_dialog, keys.Open,
                                        "Open one or more chest X-ray images (Ctrl+O)",
                                        pixmap.SP_DialogOpenButton)
        self.open_folder_action = self._action(
            "Open &Folder…", self.open_folder_dialog, "Ctrl+Shift+O",
            "Open every image in a folder and its subfolders (Ctrl+Shift+O)", pixmap.SP_DirOpenIcon
        )
        self.export_csv_action = self._action(
            "Export Worklist as &CSV…", self.export_csv_dialog, "Ctrl+E",
            "Save the table of results as a CSV file (Ctrl+E)", pixmap.SP_DialogSaveButton
        )
        self.export_pdf_action = self._action(
            "Export &PDF Report…", self.export_pdf_dialog, "Ctrl+Shift+E",
            "Save a PDF report with one page per image (Ctrl+Shift+E)", pixmap.SP_FileIcon
        )
        self.clear_action = self._action("C&lear Worklist", self.clear_worklist, None,
                                         "Remove every image from the worklist")
        self.quit_action = self._action("&Quit", self.close, keys.Quit)
        self.cancel_action = self._action(
            "&Cancel Analysis", self.cancel_analysis, "Esc",
            "Stop the running analysis or export (Esc)", pixmap.SP_BrowserStop
        )
        self.next_action = self._action("&Next Image", self.select_next, "N",
                                        "Show the next image of the worklist (N)")
        self.previous_action = self._action("&Previous Image", self.select_previous, "P",
                                            "Show the previous image of the worklist (P)")
        self.model_card_action = self._action(
            "Model &Card…", self.show_model_card, "Ctrl+I",
            "Training data, metrics, calibration and limitations of the model (Ctrl+I)",
            pixmap.SP_FileDialogInfoView,
        )
        self.train_action = self._action("&Train a New Model…", self.open_training_wizard, None,
                                         "Retrain the classifier on your own labelled images")
        self.models_action = self._action("&Models…", self.open_model_manager, None,
                                          "Switch, roll back or delete installed models")
        self.validate_action = self._action(
            "&Validate on Local Data…", self.open_validation_dialog, None,
            "Measure the installed model on your own labelled films (no training needed)")
        self.about_action = self._action(f"&About {APP_NAME}", self.show_about)

    def _create_menus(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.open_folder_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addSeparator()
        file_menu.addAction(self.export_csv_action)
        file_menu.addAction(self.export_pdf_action)
        file_menu.addSeparator()
        file_menu.addAction(self.clear_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        view_menu = menu.addMenu("&View")
        viewer = self.viewer
        for action in (viewer.original_action, viewer.model_input_action, None,
                       viewer.heatmap_action, None, viewer.fit_action, viewer.zoom_in_action,
                       viewer.zoom_out_action, viewer.actual_size_action, None,
                       viewer.auto_window_action, viewer.reset_window_action):
            if action is None:
                view_menu.addSeparator()
            else:
                view_menu.addAction(action)

        analysis_menu = menu.addMenu("&Analysis")
        analysis_menu.addAction(self.next_action)
        analysis_menu.addAction(self.previous_action)
        analysis_menu.addSeparator()
        analysis_menu.addAction(self.cancel_action)
        analysis_menu.addSeparator()
        analysis_menu.addAction(self.validate_action)

        training_menu = menu.addMenu("&Training")
        training_menu.addAction(self.train_action)
        training_menu.addAction(self.models_action)

        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.model_card_action)
        help_menu.addAction(self.about_action)

    def _create_toolbar(self) -> None:
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addAction(self.open_action)
        toolbar.addAction(self.open_folder_action)
        toolbar.addSeparator()
        toolbar.addAction(self.export_csv_action)
        toolbar.addAction(self.export_pdf_action)
        toolbar.addSeparator()
        toolbar.addAction(self.cancel_action)
        toolbar.addSeparator()
        toolbar.addAction(self.model_card_action)
        # The shortcut-only actions must live on a widget of the window to fire.
        self.addAction(self.next_action)
        self.addAction(self.previous_action)

    def _restore_settings(self) -> None:
        restore_window_geometry(self, self.settings)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)
        splitters = self.settings.splitter_states()
        if len(splitters) == 2:
            self.main_splitter.restoreState(splitters[0])
            self.top_splitter.restoreState(splitters[1])

    def _save_settings(self) -> None:
        remember_window_geometry(self, self.settings)
        self.settings.set_window_state(self.saveState())
        self.settings.set_splitter_states([self.main_splitter.saveState(),
                                           self.top_splitter.saveState()])
        self.settings.set_overlay_opacity(self.viewer.opacity_slider.value())
        self.settings.set_heatmap_visible(self.viewer.heatmap_action.isChecked())
        self.settings.sync()

    # -- model -----------------------------------------------------------------------------

    @property
    def active_model(self) -> ActiveModel | None:
        """The model in use, or ``None`` while loading or after a failure."""
        return self._active

    def _start_model_load(self) -> None:
        self.model_status.setText("Loading model…")
        worker = FunctionWorker(load_active_model, self._model_dir)
        worker.signals.succeeded.connect(self._on_model_loader_succeeded)
        worker.signals.failed.connect(self._on_model_loader_failed)
        self._pool.start(worker)

    def reload_model(self) -> None:
        """Load the store's active model again (hook for the Models dialog and the wizard).

        The running batch stops; once the new model is loaded the worklist is classified
        again with it. A ``--model``/``$LUNGLENS_MODEL_DIR`` override stays in force.
        """
        if self._batch is not None:
            self._batch.cancel()
        self._start_model_load()

    def _on_model_loader_succeeded(self, active: ActiveModel) -> None:
        previous = self._active
        self._active = active
        self._model_error = None
        card = active.bundle.card
        if previous is not None and previous.bundle is not active.bundle:
            # A new model (installed by the wizard, or switched): every row's answer came from
            # the old one, so the whole worklist is classified again.
            keys = [r.key for r in self.table_model.records()]
            self.table_model.set_status(keys, Status.QUEUED)
            self._pending = keys
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
        self._full.clear()
        self.model_status.setText(f"Model: {card.model_id}")
        self.model_status.setToolTip(str(active.bundle.path))
        if active.warning:
            self.banner.show_message(f"Model warning: {active.warning}", BannerLevel.WARNING)
            self.statusBar().showMessage(active.warning, 15000)
        self._update_actions()
        self.model_loaded.emit(active)
        self._schedule()
        if current >= 0 and self.table_model.has_key(current):
            if self.table.current_key() == current:
                self._show_key(current)
            else:
                self.table.select_key(current)  # shows it through current_key_changed

    def _on_model_loader_failed(self, message: str) -> None:
        self._active = None
        self._model_error = message
        self.model_status.setText("No model")
        self.model_status.setToolTip(message)
        self.banner.show_message(
            f"No usable model could be loaded, so images cannot be classified: {message}. "
            "Reinstall LungLens or choose another model (Training › Models…).",
            BannerLevel.ERROR,
        )
        self.panel.set_message("No model", message)
        self._update_actions()
        self.model_failed.emit(message)

    # -- opening files -------------------------------------------------------------------------

    def open_paths(self, paths: Sequence[str | Path], *, remember: bool = True) -> None:
        """Add files and folders to the worklist (folders are expanded off the UI thread)."""
        paths = [Path(p) for p in paths if str(p)]
        if not paths:
            return
        if remember:
            self.settings.add_recent_files([str(p.resolve()) for p in paths])
            first = paths[0].resolve()
            self.settings.set_last_folder(first if first.is_dir() else first.parent)
        if any(p.is_dir() for p in paths):
            self.statusBar().showMessage("Looking for images…")
        worker = FunctionWorker(expand_paths, paths)
        worker.signals.succeeded.connect(self._on_expander_succeeded)
        worker.signals.failed.connect(self._on_expander_failed)
        self._pool.start(worker)

    def _on_expander_succeeded(self, expanded: ExpandedInputs) -> None:
        keys, existing = self.table_model.add_paths(expanded.files)
        message = f"Added {len(keys)} image(s)"
        if existing:
            message += f", {len(existing)} already in the worklist"
        if expanded.skipped:
            message += f"; skipped {len(expanded.skipped)} file(s) that are not images"
        if not expanded.files:
            message = "No images found"
        self.statusBar().showMessage(message, 8000)
        if keys:
            self._pending.extend(keys)
            self.files_added.emit(keys)
            self._schedule()
        target = (keys or existing or [None])[0]
        if target is not None and (self.table.current_key() < 0 or not keys):
            self.table.select_key(target)
            self.table.setFocus()
        self._update_actions()

    def _on_expander_failed(self, message: str) -> None:
        self.statusBar().showMessage(f"Could not open: {message}", 10000)

    def open_files_dialog(self) -> None:
        """File › Open: choose one or more images."""
        files, _ = QtWidgets.QFileDialog.getOpenFileNames(
            self, "Open chest X-ray images", self.settings.last_folder(), IMAGE_FILTER
        )
        if files:
            self.open_paths(files)

    def open_folder_dialog(self) -> None:
        """File › Open Folder: every image in a folder tree."""
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self, "Open a folder of chest X-rays", self.settings.last_folder()
        )
        if folder:
            self.open_paths([folder])

    def clear_worklist(self) -> None:
        """Remove every row (cancelling the analysis)."""
        self.cancel_analysis()
        self._pending.clear()
        self._full.clear()
        self.table_model.clear()
        self.viewer.clear("Drop chest X-rays or folders here, or use File › Open (Ctrl+O)")
        self.panel.set_result(None)
        self._update_actions()

    def _on_recent_menu_about_to_show(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files()
        for index, path in enumerate(recent, start=1):
            action = self.recent_menu.addAction(f"&{index % 10}  {path}")
            action.setData(path)
            action.triggered.connect(self._on_recent_action_triggered)
        if not recent:
            self.recent_menu.addAction("No recent files").setEnabled(False)
        self.recent_menu.addSeparator()
        self.recent_menu.addAction("Clear Recent Files").triggered.connect(
            self.settings.clear_recent_files
        )

    def _on_recent_action_triggered(self) -> None:
        action = self.sender()
        if isinstance(action, QtGui.QAction) and action.data():
            self.open_paths([str(action.data())])

    # -- drag and drop -------------------------------------------------------------------------

    @staticmethod
    def _local_paths(mime: QtCore.QMimeData) -> list[Path]:
        if not mime.hasUrls():
            return []
        return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        """Accept local files and folders dragged from the file manager."""
        if self._local_paths(event.mimeData()):
            event.acceptProposedAction()
            self.statusBar().showMessage("Drop to add to the worklist")
        else:
            event.ignore()

    def dragMoveEvent(self, event: QtGui.QDragMoveEvent) -> None:
        """Keep accepting while the drag moves over child widgets."""
        if self._local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QtGui.QDragLeaveEvent) -> None:
        """Clear the drop hint."""
        self.statusBar().clearMessage()
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        """Open what was dropped."""
        paths = self._local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.files_dropped.emit(paths)

    def _on_self_files_dropped(self, paths: list[Path]) -> None:
        self.open_paths(paths)

    # -- batch analysis ------------------------------------------------------------------------

    @property
    def analysis_running(self) -> bool:
        """True while a worklist batch runs."""
        return self._batch is not None

    def _schedule(self) -> None:
        """Start a batch with the queued rows if the model is ready and nothing runs."""
        if self._batch is not None or self._active is None or not self._pending:
            return
        keys, self._pending = self._pending, []
        items = [(key, self.table_model.record(key).path) for key in keys]
        # One file (e.g. from the command line): keep its pixels so it shows without a re-load.
        batch = BatchAnalysisWorker(self._active.bundle, items, keep_loaded=len(items) == 1,
                                   decode_workers=DECODE_WORKERS)
        batch.signals.item_finished.connect(self._on_batch_item_finished)
        batch.signals.progress_changed.connect(self._on_batch_progress_changed)
        batch.signals.batch_finished.connect(self._on_batch_finished)
        batch.signals.batch_failed.connect(self._on_batch_failed)
        self._batch = batch
        self._batch_done = set()
        self._batch_started = time.monotonic()
        self.table_model.set_status(keys[:8], Status.RUNNING)
        self.progress_bar.setRange(0, len(keys))
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(f"%v / {len(keys)}")
        self.progress_bar.show()
        self.cancel_button.show()
        self._update_actions()
        self._batch_pool.start(batch)

    def cancel_analysis(self) -> None:
        """Stop the running batch (and any export); queued rows become "cancelled"."""
        if self._batch is not None:
            self._batch.cancel()
            self.statusBar().showMessage("Cancelling…")
        if self._pending:
            self.table_model.set_status(self._pending, Status.CANCELLED)
            self._pending.clear()
        if self._export is not None:
            self._export.cancel()

    def _on_batch_item_finished(self, item: BatchItem) -> None:
        if item.key in self._batch_done or not self._is_current_model(item.result):
            return  # a late answer of a batch cancelled by a model change
        self._batch_done.add(item.key)
        self.table_model.set_result(item.key, item.result, item.thumbnail)
        if item.full is not None:
            self._remember_full(item.key, item.full)
        if item.key == self.table.current_key():
            if item.full is not None:
                self._show_full(item.key, item.full)
            elif not item.result.ok:
                self._show_full(item.key, item.result)

    def _on_batch_progress_changed(self, done: int, total: int) -> None:
        self.progress_bar.setValue(done)
        if self._batch is not None:
            model = self.table_model
            model.set_status(
                [k for k in self._batch.keys[done:done + 8]
                 if model.has_key(k) and model.record(k).status is Status.QUEUED],
                Status.RUNNING,
            )
        message = f"Analysing {done} of {total}…"
        elapsed = time.monotonic() - self._batch_started
        if 0 < done < total and elapsed > 2.0:
            remaining = elapsed / done * (total - done)
            message += f" about {_duration(remaining)} left (Esc to cancel)"
        self.statusBar().showMessage(message)

    def _on_batch_finished(self, cancelled: bool) -> None:
        batch = self._batch
        self._batch = None
        if batch is not None:
            model = self.table_model
            pending = set(self._pending)
            unfinished = [k for k in batch.keys if k not in self._batch_done
                          and k not in pending and model.has_key(k)
                          and model.record(k).status in (Status.QUEUED, Status.RUNNING)]
            self.table_model.set_status(unfinished, Status.CANCELLED)
        self.progress_bar.hide()
        self.cancel_button.setVisible(self._export is not None)
        done = len(self._batch_done)
        self.statusBar().showMessage(
            f"Cancelled after {done} image(s)" if cancelled else f"Analysed {done} image(s)", 8000
        )
        self._update_actions()
        self.analysis_finished.emit(cancelled)
        self._schedule()

    def _on_batch_failed(self, message: str) -> None:
        batch = self._batch
        self._batch = None
        if batch is not None:
            pending = set(self._pending)
            unfinished = [k for k in batch.keys if k not in self._batch_done
                          and k not in pending]
            self.table_model.set_status(unfinished, Status.CANCELLED)
        self.progress_bar.hide()
        self.cancel_button.setVisible(self._export is not None)
        self.banner.show_message(f"Classification stopped: {message}", BannerLevel.ERROR)
        self._update_actions()
        self.analysis_finished.emit(True)

    # -- selection and display -----------------------------------------------------------------

    def select_next(self) -> None:
        """Show the next row of the (sorted) worklist."""
        self._select_offset(1)

    def select_previous(self) -> None:
        """Show the previous row of the (sorted) worklist."""
        self._select_offset(-1)

    def _select_offset(self, offset: int) -> None:
        rows = self.table.proxy.rowCount()
        if rows == 0:
            return
        current = self.table.currentIndex().row()
        row = 0 if current < 0 else max(0, min(rows - 1, current + offset))
        self.table.setCurrentIndex(self.table.proxy.index(row, ResultsTableModel.NAME))

    def _on_table_current_key_changed(self, key: int) -> None:
        if key < 0:
            self.viewer.clear()
            self.panel.set_result(None)
            return
        self._show_key(key)

    def _show_key(self, key: int) -> None:
        record = self.table_model.record(key)
        self.setWindowTitle(f"{record.path.name} — {APP_NAME}")
        cached = self._full.get(key)
        if cached is not None:
            self._show_full(key, cached)
            return
        if record.result is not None and not record.result.ok:
            self._show_full(key, record.result)
            return
        self.viewer.clear(f"Loading {record.path.name}…")
        if self._active is None:
            waiting = self._model_error or "Waiting for the model to load…"
            self.panel.set_message(record.path.name, waiting)
            return
        if record.result is not None and self._is_current_model(record.result):
            # The batch already answered for this film: show its result at once, while the
            # full image (for the viewer and the heat map) is decoded. During a batch of large
            # files that decode waits its turn on the cores for a second or more.
            self.panel.set_result(record.result)
        else:
            self.panel.set_message(record.path.name, "Analysing…")
        batch = self._batch
        if (batch is not None and len(batch.keys) == 1 and batch.keys == [key]
                and key not in self._batch_done):
            return  # the one-file batch keeps its pixels and will show them
        self.image_loader.request(key, record.path)

    def _remember_full(self, key: int, result: ImageResult) -> None:
        self._full[key] = result
        self._full.move_to_end(key)
        while len(self._full) > _FULL_CACHE_SIZE:
            self._full.popitem(last=False)

    def _show_full(self, key: int, result: ImageResult) -> None:
        if result.ok and result.loaded is not None:
            self.viewer.set_result(result)
        else:
            self.viewer.clear(f"Could not read this file:\n{result.error}" if not result.ok
                              else "")
        self.panel.set_result(result)
        self.panel.set_shown_class(self.viewer.shown_class())
        self.image_shown.emit(key)

    def _is_current_model(self, result: ImageResult) -> bool:
        return self._active is not None and result.model_id == self._active.bundle.card.model_id

    def _on_image_loader_image_previewed(self, key: int, result: ImageResult) -> None:
        """Show the reduced decode (and the finished analysis) until the full image is read."""
        if not self._is_current_model(result):
            return
        self._fill_row(key, result)
        if key == self.table.current_key() and key not in self._full:
            self._show_full(key, result)

    def _fill_row(self, key: int, result: ImageResult) -> None:
        record = self.table_model.record(key) if self.table_model.has_key(key) else None
        if record is not None and record.status is not Status.DONE:
            # The view's analysis is the same classify path: fill the row too.
            light = result if not result.ok else _light(result)
            self.table_model.set_result(key, light, make_thumbnail(result))

    def _on_image_loader_image_loaded(self, key: int, result: ImageResult) -> None:
        if not self._is_current_model(result):
            return
        self._remember_full(key, result)
        self._fill_row(key, result)
        if key == self.table.current_key():
            self._show_full(key, result)

    def _on_image_loader_image_failed(self, key: int, message: str) -> None:
        if key == self.table.current_key():
            self.viewer.clear(f"Could not analyse this image:\n{message}")
            self.panel.set_message("Analysis failed", message)

    # -- export --------------------------------------------------------------------------------

    def _default_export_name(self, suffix: str) -> str:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
        return str(Path(self.settings.last_folder()) / f"lunglens-{stamp}.{suffix}")

    def export_csv_dialog(self) -> None:
        """File › Export CSV: choose where to save the table."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export worklist as CSV", self._default_export_name("csv"), "CSV (*.csv)"
        )
        if path:
            self.export_csv(path)

    def export_csv(self, path: str | Path) -> int:
        """Write the worklist, in its sorted order, to ``path``; return the rows written."""
        from desktop_app.ui.exporters import write_csv

        records = [self.table_model.record(k) for k in self.table.keys_in_view_order()]
        model_id = self._active.bundle.card.model_id if self._active else None
        try:
            count = write_csv(path, records, self.table_model.classes, model_id)
        except OSError as error:
            self.banner.show_message(f"Could not save the CSV file: {error}", BannerLevel.ERROR)
            return 0
        self.statusBar().showMessage(f"Saved {count} row(s) to {path}", 8000)
        return count

    def export_pdf_dialog(self) -> None:
        """File › Export PDF: choose where to save the report."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export PDF report", self._default_export_name("pdf"), "PDF (*.pdf)"
        )
        if path:
            self.export_pdf(path)

    def export_pdf(self, path: str | Path) -> bool:
        """Write a PDF report (one page per row, worklist order) in the background.

        Returns:
            False if it could not start (no model, no rows or an export already running).
        """
        if self._active is None or self._export is not None or self.table_model.rowCount() == 0:
            return False
        from desktop_app.ui.exporters import write_pdf_report

        files = [self.table_model.record(k).path for k in self.table.keys_in_view_order()]
        task = TaskWorker(write_pdf_report, Path(path), self._active.bundle, files)
        task.signals.progress_changed.connect(self._on_export_progress_changed)
        task.signals.succeeded.connect(self._on_export_succeeded)
        task.signals.failed.connect(self._on_export_failed)
        self._export = task
        self._export_path = str(path)
        self.statusBar().showMessage("Writing the PDF report…")
        self.cancel_button.show()
        self._update_actions()
        self._pool.start(task)
        return True

    def _on_export_progress_changed(self, done: int, total: int) -> None:
        self.statusBar().showMessage(f"Writing the PDF report: page {done} of {total}…")

    def _on_export_succeeded(self, pages: int) -> None:
        self._export = None
        self.cancel_button.setVisible(self._batch is not None)
        self._update_actions()
        if pages == 0:
            self.statusBar().showMessage("PDF export cancelled", 8000)
            self.export_failed.emit("cancelled")
            return
        self.statusBar().showMessage(f"Saved a {pages}-page report to {self._export_path}", 10000)
        self.export_finished.emit(self._export_path)

    def _on_export_failed(self, message: str) -> None:
        self._export = None
        self.cancel_button.setVisible(self._batch is not None)
        self._update_actions()
        self.banner.show_message(f"The PDF report could not be written: {message}",
                                 BannerLevel.ERROR)
        self.export_failed.emit(message)

    # -- dialogs and hooks ---------------------------------------------------------------------

    def show_model_card(self) -> ModelCardDialog | None:
        """Help › Model Card: training data, metrics, calibration, limitations, hashes."""
        if self._active is None:
            self.statusBar().showMessage(self._model_error or "The model is still loading…", 5000)
            return None
        card = self._active.bundle.card
        if self._card_dialog is None or self._card_dialog.card is not card:
            self._card_dialog = ModelCardDialog(card, self)
        self._card_dialog.show()
        self._card_dialog.raise_()
        self._card_dialog.activateWindow()
        return self._card_dialog

    def open_training_wizard(self) -> None:
        """Hook: Training › Train a New Model… (the wizard lives in ``ui.training_wizard``).

        The wizard module is expected to provide ``open_training_wizard(main_window)``; after
        installing a model it should call :meth:`reload_model`.
        """
        self._open_hook(_WIZARD_MODULE, "open_training_wizard", "Train a new model")

    def open_validation_dialog(self) -> QtWidgets.QDialog | None:
        """Analysis › Validate on Local Data… (lives in ``ui.validation_dialog``)."""
        if self._active is None:
            self.statusBar().showMessage(self._model_error or "The model is still loading…", 5000)
            return None
        from desktop_app.ui.validation_dialog import open_validation_dialog

        dialog = open_validation_dialog(self, self._active.bundle)
        dialog.validation_finished.connect(self._on_validation_dialog_validation_finished)
        return dialog

    def _on_validation_dialog_validation_finished(self, _result: object) -> None:
        # The model card lists the stored validations: show the new one in an open card.
        if self._card_dialog is not None:
            from desktop_app.ui.model_card_dialog import model_card_html

            self._card_dialog.browser.setHtml(model_card_html(self._card_dialog.card))

    def open_model_manager(self) -> None:
        """Hook: Training › Models… (switch, roll back, delete; lives in ``ui.models_dialog``).

        The module is expected to provide ``open_model_manager(main_window)``; after switching
        models it should call :meth:`reload_model`.
        """
        self._open_hook(_MODELS_MODULE, "open_model_manager", "Models")

    def _open_hook(self, module_name: str, function: str, title: str) -> None:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            module = None
        launcher = getattr(module, function, None)
        if callable(launcher):
            launcher(self)
            return
        QtWidgets.QMessageBox.information(
            self, title,
            f"This feature is not part of this build yet. It will be provided by "
            f"{module_name}.{function}().",
        )

    def show_about(self) -> None:
        """Help › About."""
        model = self._active.bundle.card.model_id if self._active else "not loaded"
        QtWidgets.QMessageBox.about(
            self, f"About {APP_NAME}",
            f"<h3>{APP_NAME} {__version__}</h3><p>Offline decision support for chest X-rays "
            f"(Normal / Pneumonia / COVID-19).</p><p>Model: {model}</p><p>{DISCLAIMER}</p>",
        )

    # -- state -----------------------------------------------------------------------------

    def _update_actions(self) -> None:
        has_rows = self.table_model.rowCount() > 0
        self.export_csv_action.setEnabled(has_rows)
        self.export_pdf_action.setEnabled(has_rows and self._active is not None
                                          and self._export is None)
        self.cancel_action.setEnabled(self._batch is not None or self._export is not None)
        self.model_card_action.setEnabled(self._active is not None)
        self.clear_action.setEnabled(has_rows)

    def _on_table_model_counts_changed(self) -> None:
        if not self._counts_timer.isActive():  # restarting would postpone it while busy
            self._counts_timer.start()

    def _on_counts_timer_timeout(self) -> None:
        model = self.table_model
        total = model.rowCount()
        if total == 0:
            self.counts_label.setText("")
        else:
            parts = [f"{total} image(s)", f"{model.count(Status.DONE)} done"]
            errors = model.count(Status.ERROR)
            if errors:
                parts.append(f"{errors} unreadable")
            ood, cautioned = model.gate_counts()
            if ood:
                parts.append(f"{ood} not labelled (OOD)")
            if cautioned:
                parts.append(f"{cautioned} with a caution (unusual film)")
            self.counts_label.setText(" · ".join(parts))
        self._update_actions()

    def _on_viewer_opacity_changed(self, value: int) -> None:
        self.settings.set_overlay_opacity(value)

    def _on_viewer_heatmap_toggled(self, checked: bool) -> None:
        self.settings.set_heatmap_visible(checked)

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
        self._save_settings()
        self._batch_pool.waitForDone(10000)
        self.image_loader.wait(10000)
        self._pool.waitForDone(10000)
        super().closeEvent(event)


def _light(result: ImageResult) -> ImageResult:
    return replace(result, loaded=None, prepared=None, cams=None)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    return f"{round(seconds / 60)} min"
