"""The main window's actions, menus and toolbar (what the user can ask for, and where).

Kept apart from :mod:`desktop_app.ui.main_window` so the window module stays composition:
these functions only create ``QAction`` objects bound to the window's slots and place them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app import APP_NAME

if TYPE_CHECKING:
    from desktop_app.ui.main_window import MainWindow

__all__ = ["create_actions", "create_menus", "create_status_bar", "create_toolbar",
           "make_action"]


def make_action(parent: QtWidgets.QWidget, text: str, slot: object,
                shortcut: QtGui.QKeySequence | str | None = None, tip: str | None = None,
                icon: QtWidgets.QStyle.StandardPixmap | None = None) -> QtGui.QAction:
    """An action with its shortcut, tooltip (also the status tip) and standard icon."""
    action = QtGui.QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(QtGui.QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    if icon is not None:
        action.setIcon(parent.style().standardIcon(icon))
    action.triggered.connect(slot)
    return action


def create_actions(window: MainWindow) -> None:
    """The window's actions, as attributes of the window (tests and menus find them there)."""
    pixmap = QtWidgets.QStyle.StandardPixmap
    keys = QtGui.QKeySequence.StandardKey
    w = window
    w.open_action = make_action(w, "&Open Images…", w.open_files_dialog, keys.Open,
                                "Open one or more chest X-ray images (Ctrl+O)",
                                pixmap.SP_DialogOpenButton)
    w.open_folder_action = make_action(
        w, "Open &Folder…", w.open_folder_dialog, "Ctrl+Shift+O",
        "Open every image in a folder and its subfolders (Ctrl+Shift+O)", pixmap.SP_DirOpenIcon)
    w.export_csv_action = make_action(
        w, "Export Worklist as &CSV…", w.export_csv_dialog, "Ctrl+E",
        "Save the table of results as a CSV file (Ctrl+E)", pixmap.SP_DialogSaveButton)
    w.export_pdf_action = make_action(
        w, "Export &PDF Report…", w.export_pdf_dialog, "Ctrl+Shift+E",
        "Save a PDF report with one page per image (Ctrl+Shift+E)", pixmap.SP_FileIcon)
    w.clear_action = make_action(w, "C&lear Worklist", w.clear_worklist, None,
                                 "Remove every image from the worklist")
    w.quit_action = make_action(w, "&Quit", w.close, keys.Quit)
    w.cancel_action = make_action(w, "&Cancel Analysis", w.cancel_analysis, "Esc",
                                  "Stop the running analysis or export (Esc)",
                                  pixmap.SP_BrowserStop)
    w.next_action = make_action(w, "&Next Image", w.select_next, "N",
                                "Show the next image of the worklist (N)")
    w.previous_action = make_action(w, "&Previous Image", w.select_previous, "P",
                                    "Show the previous image of the worklist (P)")
    w.model_card_action = make_action(
        w, "Model &Card…", w.show_model_card, "Ctrl+I",
        "Training data, metrics, calibration and limitations of the model (Ctrl+I)",
        pixmap.SP_FileDialogInfoView)
    w.train_action = make_action(w, "&Train a New Model…", w.open_training_wizard, None,
                                 "Retrain the classifier on your own labelled images")
    w.models_action = make_action(w, "&Models…", w.open_model_manager, None,
                                  "Switch, roll back or delete installed models")
    w.validate_action = make_action(
        w, "&Validate on Local Data…", w.open_validation_dialog, None,
        "Measure the installed model on your own labelled films (no training needed)")
    w.calibrate_action = make_action(
        w, "Ca&librate to This Site…", w.open_calibration_dialog, None,
        "Set the model's thresholds and gate limits from this site's films (same weights)")
    w.about_action = make_action(w, f"&About {APP_NAME}", w.show_about)


def _add_actions(target: QtWidgets.QWidget,
                 actions: Sequence[QtGui.QAction | None]) -> None:
    """Add ``actions`` to a menu or toolbar in order; ``None`` is a separator."""
    for action in actions:
        if action is None:
            target.addSeparator()
        else:
            target.addAction(action)


def create_menus(window: MainWindow) -> None:
    """File, View, Analysis, Training and Help."""
    menu = window.menuBar()
    file_menu = menu.addMenu("&File")
    _add_actions(file_menu, (window.open_action, window.open_folder_action))
    window.recent_menu = file_menu.addMenu("Open &Recent")
    _add_actions(file_menu, (window.receiver.action, None, window.export_csv_action,
                             window.export_pdf_action, None, window.clear_action, None,
                             window.quit_action))
    viewer = window.viewer
    _add_actions(menu.addMenu("&View"), (
        viewer.original_action, viewer.model_input_action, None, viewer.heatmap_action, None,
        viewer.fit_action, viewer.zoom_in_action, viewer.zoom_out_action,
        viewer.actual_size_action, None, viewer.auto_window_action,
        viewer.reset_window_action))
    _add_actions(menu.addMenu("&Analysis"), (
        window.next_action, window.previous_action, None, window.cancel_action, None,
        window.validate_action, window.calibrate_action))
    _add_actions(menu.addMenu("&Training"), (window.train_action, window.models_action))
    _add_actions(menu.addMenu("&Help"), (window.model_card_action, window.about_action))


def create_toolbar(window: MainWindow) -> None:
    """The main toolbar, and the shortcut-only actions."""
    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("mainToolbar")
    toolbar.setMovable(False)
    toolbar.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    _add_actions(toolbar, (window.open_action, window.open_folder_action, None,
                           window.export_csv_action, window.export_pdf_action, None,
                           window.cancel_action, None, window.model_card_action))
    # The shortcut-only actions must live on a widget of the window to fire.
    window.addAction(window.next_action)
    window.addAction(window.previous_action)


def create_status_bar(window: MainWindow) -> None:
    """Receiver indicator, row counts, progress, Cancel and the model in use."""
    window.model_status = QtWidgets.QLabel("Loading model…", window)
    window.model_status.setAccessibleName("Model status")
    window.counts_label = QtWidgets.QLabel("", window)
    window.progress_bar = QtWidgets.QProgressBar(window)
    window.progress_bar.setMaximumWidth(220)
    window.progress_bar.setAccessibleName("Analysis progress")
    window.progress_bar.hide()
    window.cancel_button = QtWidgets.QPushButton("Cancel", window)
    window.cancel_button.setToolTip("Stop the analysis or export (Esc)")
    window.cancel_button.setAccessibleName("Cancel analysis")
    window.cancel_button.hide()
    status = window.statusBar()
    for widget in (window.receiver.indicator, window.counts_label, window.progress_bar,
                   window.cancel_button, window.model_status):
        status.addPermanentWidget(widget)
