"""A non-blocking message strip at the top of the window (model warnings, load failures).

Modal dialogs interrupt a reading session and pile up in batches; a banner states the
problem, stays until dismissed and never blocks the worklist.
"""

from __future__ import annotations

import enum

from PySide6 import QtCore, QtWidgets

__all__ = ["Banner", "BannerLevel"]


class BannerLevel(enum.Enum):
    """Severity, which picks the colours."""

    INFO = ("#e3f2fd", "#1565c0", "#0d2b4d")
    WARNING = ("#fff8e1", "#ff8f00", "#4e3400")
    ERROR = ("#ffebee", "#c62828", "#5f1010")


class Banner(QtWidgets.QFrame):
    """A dismissible coloured message.

    Signals:
        dismissed(): The user closed the banner.
    """

    dismissed = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.level = BannerLevel.INFO
        self.label = QtWidgets.QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setAccessibleName("Notification")
        self.close_button = QtWidgets.QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAccessibleName("Dismiss notification")
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.close_button, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        self.hide()

        self.close_button.clicked.connect(self._on_close_button_clicked)

    def show_message(self, text: str, level: BannerLevel = BannerLevel.INFO) -> None:
        """Show ``text`` (replacing any previous message)."""
        self.level = level
        background, border, foreground = level.value
        self.setStyleSheet(
            f"QFrame#banner {{ background: {background}; border-bottom: 2px solid {border}; }}"
            f"QFrame#banner QLabel {{ color: {foreground}; }}"
        )
        self.label.setText(text)
        self.show()

    def text(self) -> str:
        """The message shown (empty when hidden)."""
        return self.label.text() if self.isVisible() or not self.isHidden() else ""

    def _on_close_button_clicked(self) -> None:
        self.hide()
        self.dismissed.emit()
