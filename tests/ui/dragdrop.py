"""Drag-and-drop as the platform delivers it (QDragEnterEvent, then QDropEvent)."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets


def mime_for(paths: list[Path]) -> QtCore.QMimeData:
    """URL mime data for local files or folders, as a file manager sends it."""
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def send_drop(widget: QtWidgets.QWidget, mime: QtCore.QMimeData) -> bool:
    """Send a drag-enter and, if accepted, a drop at the widget's centre.

    Returns:
        Whether the drop was accepted (False when the drag-enter was refused).
    """
    centre = widget.rect().center()  # QDragEnterEvent takes a QPoint, QDropEvent a QPointF
    action = QtCore.Qt.DropAction.CopyAction
    button = QtCore.Qt.MouseButton.LeftButton
    modifier = QtCore.Qt.KeyboardModifier.NoModifier
    enter = QtGui.QDragEnterEvent(centre, action, mime, button, modifier)
    QtWidgets.QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    drop = QtGui.QDropEvent(QtCore.QPointF(centre), action, mime, button, modifier)
    QtWidgets.QApplication.sendEvent(widget, drop)
    return drop.isAccepted()
