"""The window opens where it fits the screen, and its toolbar's controls stay reachable."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app.ui.settings import Settings
from desktop_app.ui.window_geometry import (
    default_window_rect,
    fits_available,
    remember_window_geometry,
    restore_window_geometry,
)


def test_default_rect_is_most_of_the_screen_centred() -> None:
    screen = QtCore.QRect(0, 0, 1600, 1000)
    assert default_window_rect(screen, QtCore.QSize(960, 600)) == QtCore.QRect(120, 75, 1360, 850)
    # Never below the window's minimum size.
    small = default_window_rect(QtCore.QRect(0, 0, 1000, 700), QtCore.QSize(960, 600))
    assert small.size() == QtCore.QSize(960, 600)
    assert small.center() == QtCore.QRect(0, 0, 1000, 700).center()
    assert fits_available(QtCore.QRect(10, 10, 500, 400), screen)
    assert not fits_available(QtCore.QRect(1400, 10, 500, 400), screen)  # off the right edge
    assert not fits_available(QtCore.QRect(0, 0, 1700, 900), screen)  # larger than the screen


def _available() -> QtCore.QRect:
    return QtGui.QGuiApplication.primaryScreen().availableGeometry()


def test_a_geometry_saved_on_this_screen_that_fits_is_restored(qtbot) -> None:
    widget = QtWidgets.QWidget()
    qtbot.addWidget(widget)
    widget.setGeometry(40, 50, 400, 300)
    settings = Settings()
    remember_window_geometry(widget, settings)
    again = QtWidgets.QWidget()
    qtbot.addWidget(again)
    assert restore_window_geometry(again, settings)
    assert again.geometry() == QtCore.QRect(40, 50, 400, 300)


def test_a_geometry_from_another_screen_or_too_large_is_ignored(qtbot) -> None:
    widget = QtWidgets.QWidget()
    qtbot.addWidget(widget)
    widget.setMinimumSize(200, 150)
    widget.setGeometry(40, 50, 400, 300)
    settings = Settings()
    remember_window_geometry(widget, settings)
    # Saved on a smaller screen (e.g. a test run's virtual one): not restored.
    settings.set_screen_geometry(QtCore.QRect(0, 0, 1070, 600))
    again = QtWidgets.QWidget()
    again.setMinimumSize(200, 150)
    qtbot.addWidget(again)
    assert not restore_window_geometry(again, settings)
    assert again.geometry() == default_window_rect(_available(), again.minimumSize())
    # Saved on this screen but larger than it: not restored either.
    available = _available()
    widget.setGeometry(available.adjusted(-50, -50, 50, 50))
    remember_window_geometry(widget, settings)
    settings.set_screen_geometry(available)
    third = QtWidgets.QWidget()
    third.setMinimumSize(200, 150)
    qtbot.addWidget(third)
    restored = restore_window_geometry(third, settings)
    assert restored == fits_available(third.geometry(), available)
    assert fits_available(third.geometry(), available) or third.geometry() == \
        default_window_rect(available, third.minimumSize())


def test_main_window_ignores_a_geometry_saved_for_another_screen(qtbot, make_window) -> None:
    first = make_window(wait_model=False)
    first.close()
    settings = Settings()
    settings.set_screen_geometry(QtCore.QRect(0, 0, 640, 480))
    window = make_window(wait_model=False)
    assert window.geometry().size() == default_window_rect(
        _available(), window.minimumSize()).size()


def test_toolbar_controls_stay_reachable_at_the_minimum_size(qtbot, make_window) -> None:
    window = make_window(wait_model=False)
    window.resize(window.minimumSize())
    qtbot.waitUntil(lambda: window.width() == window.minimumWidth(), timeout=5_000)
    main = window.findChild(QtWidgets.QToolBar, "mainToolbar")
    for action in main.actions():
        if action.isSeparator():
            continue
        button = main.widgetForAction(action)
        assert button is not None
        assert button.isVisible(), action.text()  # every main control is on the toolbar
    # The image toolbar may not fit beside the result panel: what does not fit is behind
    # the toolbar's extension button, never cut off.
    image = window.viewer.toolbar
    hidden = [a for a in image.actions() if not a.isSeparator()
              and image.widgetForAction(a) is not None
              and not image.widgetForAction(a).isVisible()]
    extension = [b for b in image.findChildren(QtWidgets.QToolButton)
                 if b.objectName() == "qt_toolbar_ext_button"]
    if hidden:
        assert extension
        assert extension[0].isVisible()
