"""Placing actions in menus and toolbars, and making an action (what the user can ask for).

Each part of the window declares its own actions (:func:`make_action`); the window only
puts them in order with :func:`add_actions`, so these functions know no window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6 import QtCore, QtGui, QtWidgets

__all__ = ["MenuItem", "add_actions", "create_menus", "create_status_bar", "create_toolbar",
           "make_action"]

#: An entry of a menu or toolbar: an action, a submenu, or ``None`` for a separator.
MenuItem = QtGui.QAction | QtWidgets.QMenu | None


def make_action(parent: QtWidgets.QWidget, text: str, slot: Callable[[], object],
                shortcut: QtGui.QKeySequence | QtGui.QKeySequence.StandardKey | str | None = None,
                tip: str | None = None,
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


def add_actions(target: QtWidgets.QWidget, items: Sequence[MenuItem]) -> None:
    """Add ``items`` to a menu or toolbar in order; ``None`` is a separator."""
    for item in items:
        if item is None:
            target.addSeparator()
        elif isinstance(item, QtWidgets.QMenu):
            target.addMenu(item)
        else:
            target.addAction(item)


def create_menus(menu_bar: QtWidgets.QMenuBar,
                 menus: Sequence[tuple[str, Sequence[MenuItem]]]) -> list[QtWidgets.QMenu]:
    """One menu per ``(title, items)``, in order."""
    created = []
    for title, items in menus:
        menu = menu_bar.addMenu(title)
        add_actions(menu, items)
        created.append(menu)
    return created


def create_toolbar(window: QtWidgets.QMainWindow, title: str, object_name: str,
                   items: Sequence[MenuItem]) -> QtWidgets.QToolBar:
    """A fixed toolbar with text beside the icons (its state is saved under ``object_name``)."""
    toolbar = window.addToolBar(title)
    toolbar.setObjectName(object_name)
    toolbar.setMovable(False)
    toolbar.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    add_actions(toolbar, items)
    return toolbar


def create_status_bar(status: QtWidgets.QStatusBar,
                      widgets: Sequence[QtWidgets.QWidget]) -> None:
    """Put ``widgets`` on the right of the status bar, in order (messages do not hide them)."""
    for widget in widgets:
        status.addPermanentWidget(widget)
