"""Showing a model-changing window (wizard, model manager, calibration) beside the main window."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6 import QtCore, QtWidgets

__all__ = ["show_reloading_on"]


def show_reloading_on(window: QtWidgets.QWidget, changed: Any,
                      reload_model: Callable[[], None] | None) -> None:
    """Show ``window`` modeless, freed on close; call ``reload_model`` on ``changed``.

    Modeless so the main window stays usable; the main window reloads the active model through
    its own loader, so the new model is verified and loaded off the UI thread exactly like at
    start-up. Without a ``reload_model`` (a dialog opened on its own, in tests) it just shows.

    Args:
        window: The wizard or dialog to show.
        changed: Its signal emitted when the active model changed (any arguments).
        reload_model: What loads the active model again.
    """
    window.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    if reload_model is not None:
        changed.connect(lambda *_args: reload_model())
    window.show()
