"""Showing a model-changing window (wizard, model manager) beside the main window."""

from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtWidgets

__all__ = ["show_reloading_on"]


def show_reloading_on(
    window: QtWidgets.QWidget, changed: Any, main_window: QtWidgets.QWidget
) -> None:
    """Show ``window`` modeless, freed on close; reload the main window's model on ``changed``.

    Modeless so the main window stays usable; the main window reloads the active model through
    its own loader (``reload_model``), so the new model is verified and loaded off the UI
    thread exactly like at start-up. Windows without that hook (tests) just show.

    Args:
        window: The wizard or dialog to show.
        changed: Its signal emitted when the active model changed (any arguments).
        main_window: The window whose ``reload_model`` is called.
    """
    window.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    reload_model = getattr(main_window, "reload_model", None)
    if callable(reload_model):
        changed.connect(lambda *_args: reload_model())
    window.show()
