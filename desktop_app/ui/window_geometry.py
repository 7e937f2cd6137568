"""Where the main window opens: the saved place when it still fits, else most of the screen.

A saved geometry is only worth restoring on the screen it was saved on. One saved on another
screen (a laptop's, a projector's, or a small virtual one) can open a window that is too small
for the toolbar and the result panel, or partly off screen. So the screen's available area is
saved with the geometry, and the saved geometry is used only when that area is unchanged and
the window lies wholly inside it; otherwise the window takes :data:`DEFAULT_SHARE` of the
screen, centred.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app.ui.settings import Settings

if TYPE_CHECKING:
    from desktop_app.ui.image_view import ImageViewer

__all__ = [
    "DEFAULT_SHARE",
    "default_window_rect",
    "fits_available",
    "remember_window_geometry",
    "restore_window_geometry",
    "restore_window_layout",
    "save_window_layout",
]

#: Share of the screen's available width and height a window takes when nothing fits.
DEFAULT_SHARE = 0.85


def fits_available(window: QtCore.QRect, available: QtCore.QRect) -> bool:
    """True when the window lies wholly inside the screen's available area."""
    return window.isValid() and available.isValid() and available.contains(window)


def default_window_rect(available: QtCore.QRect, minimum: QtCore.QSize) -> QtCore.QRect:
    """:data:`DEFAULT_SHARE` of the available area, centred, never below ``minimum``."""
    size = QtCore.QSize(round(available.width() * DEFAULT_SHARE),
                        round(available.height() * DEFAULT_SHARE)).expandedTo(minimum)
    rect = QtCore.QRect(QtCore.QPoint(0, 0), size)
    rect.moveCenter(available.center())
    return rect


def _available(widget: QtWidgets.QWidget) -> QtCore.QRect:
    screen = (QtGui.QGuiApplication.screenAt(widget.geometry().center())
              or widget.screen() or QtGui.QGuiApplication.primaryScreen())
    return screen.availableGeometry() if screen else QtCore.QRect(0, 0, 1400, 900)


def restore_window_geometry(window: QtWidgets.QWidget, settings: Settings) -> bool:
    """Restore the saved geometry when it fits the same screen; else size to the screen.

    Returns:
        True when the saved geometry was used.
    """
    saved = settings.geometry()
    saved_screen = settings.screen_geometry()
    if saved is not None and saved_screen is not None and window.restoreGeometry(saved):
        available = _available(window)
        if saved_screen == available and fits_available(window.geometry(), available):
            return True
    available = _available(window)
    window.setGeometry(default_window_rect(available, window.minimumSize()))
    return False


def remember_window_geometry(window: QtWidgets.QWidget, settings: Settings) -> None:
    """Save the geometry with the available area of the screen it is on."""
    settings.set_geometry(window.saveGeometry())
    settings.set_screen_geometry(_available(window))


def restore_window_layout(window: QtWidgets.QMainWindow, settings: Settings,
                          splitters: Sequence[QtWidgets.QSplitter]) -> None:
    """Geometry, toolbar state and splitter positions as the user left them."""
    restore_window_geometry(window, settings)
    state = settings.window_state()
    if state is not None:
        window.restoreState(state)
    saved = settings.splitter_states()
    if len(saved) == len(splitters):
        for splitter, splitter_state in zip(splitters, saved, strict=True):
            splitter.restoreState(splitter_state)


def save_window_layout(window: QtWidgets.QMainWindow, settings: Settings,
                       splitters: Sequence[QtWidgets.QSplitter], viewer: ImageViewer) -> None:
    """Remember the layout and the viewer's overlay choices (closing the window)."""
    remember_window_geometry(window, settings)
    settings.set_window_state(window.saveState())
    settings.set_splitter_states([splitter.saveState() for splitter in splitters])
    settings.set_overlay_opacity(viewer.opacity_slider.value())
    settings.set_heatmap_visible(viewer.heatmap_action.isChecked())
    settings.sync()
