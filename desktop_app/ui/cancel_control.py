"""Analysis › Cancel Analysis and the status bar's Cancel button: one owner for both.

The batch and the PDF export each run in the background and each can be cancelled; the
button shows and the action is enabled while either runs. Only this object touches them, so
one part ending cannot hide the button while the other still runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from desktop_app.ui.window_menus import make_action

if TYPE_CHECKING:
    from desktop_app.ui.batch_control import BatchControl
    from desktop_app.ui.export_control import ExportControl

__all__ = ["CancelControl"]


class CancelControl(QtCore.QObject):
    """Cancels the batch and the export; shows the button while either runs."""

    def __init__(self, batch: BatchControl, exports: ExportControl,
                 parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self._batch = batch
        self._exports = exports
        self.action = make_action(parent, "&Cancel Analysis", self.cancel, "Esc",
                                  "Stop the running analysis or export (Esc)",
                                  QtWidgets.QStyle.StandardPixmap.SP_BrowserStop)
        self.button = QtWidgets.QPushButton("Cancel", parent)
        self.button.setToolTip("Stop the analysis or export (Esc)")
        self.button.setAccessibleName("Cancel analysis")
        self.button.hide()
        self._on_work_running_changed()
        self.button.clicked.connect(self.cancel)
        batch.running_changed.connect(self._on_work_running_changed)
        exports.running_changed.connect(self._on_work_running_changed)

    def cancel(self) -> None:
        """Stop the running batch (queued rows become "cancelled") and any PDF export."""
        self._batch.cancel()
        self._exports.cancel()

    def _on_work_running_changed(self) -> None:
        running = self._batch.running or self._exports.running
        self.button.setVisible(running)
        self.action.setEnabled(running)
