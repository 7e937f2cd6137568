"""QApplication setup and :func:`run_gui`, the GUI entry point of ``python -m desktop_app``.

Order matters here: the organisation and application names are set before anything creates a
``QSettings`` (so preferences go to the per-user location, never next to the program), the
high-DPI rounding policy before the ``QApplication`` exists, and the window is shown before
the model is loaded (the model loads in a worker thread).

``LUNGLENS_STARTUP_PROBE=1`` turns the run into a measurement for ``benchmarks/startup.py``:
the app prints the wall-clock times of its first show and of the first result on stderr and
quits.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app import APP_AUTHOR, APP_NAME, __version__
from desktop_app.core.locations import resources_dir

__all__ = ["PROBE_ENV", "StartupProbe", "create_application", "run_gui"]

PROBE_ENV = "LUNGLENS_STARTUP_PROBE"
_PROBE_TIMEOUT_MS = 60_000


def create_application(argv: Sequence[str] | None = None) -> QtWidgets.QApplication:
    """Return the QApplication, creating and configuring it if needed."""
    existing = QtWidgets.QApplication.instance()
    QtCore.QCoreApplication.setOrganizationName(APP_AUTHOR)
    QtCore.QCoreApplication.setOrganizationDomain("lunglens.invalid")
    QtCore.QCoreApplication.setApplicationName(APP_NAME)
    QtCore.QCoreApplication.setApplicationVersion(__version__)
    if isinstance(existing, QtWidgets.QApplication):
        return existing
    # Fractional scale factors (125 %, 150 %) render crisply instead of being rounded.
    QtGui.QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        QtCore.Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    app = QtWidgets.QApplication(list(argv) if argv is not None else [sys.argv[0]])
    app.setApplicationDisplayName(APP_NAME)
    icon = resources_dir() / "icons" / "lunglens.png"
    if icon.is_file():
        app.setWindowIcon(QtGui.QIcon(str(icon)))
    QtGui.QGuiApplication.setDesktopFileName("lunglens")
    return app


class StartupProbe(QtCore.QObject):
    """Prints when the window appeared and when the first result was shown, then quits.

    Times are ``time.time()`` wall-clock seconds so the benchmark (which started the process)
    can subtract its own launch time.
    """

    def __init__(self, window: QtWidgets.QWidget, *, expect_result: bool) -> None:
        super().__init__(window)
        self._window = window
        self._expect_result = expect_result
        self._times: dict[str, float] = {}
        QtCore.QTimer.singleShot(_PROBE_TIMEOUT_MS, self._on_timer_timeout)
        window.window_shown.connect(self._on_window_shown)
        window.model_loaded.connect(self._on_window_model_loaded)
        window.model_failed.connect(self._on_window_model_failed)
        window.image_shown.connect(self._on_window_image_shown)

    def _record(self, name: str) -> None:
        self._times.setdefault(name, time.time())
        done = "window_shown" in self._times and "model_loaded" in self._times
        if self._expect_result:
            done = done and "first_result" in self._times
        if done:
            self._finish(0)

    def _finish(self, code: int) -> None:
        fields = " ".join(f"{name}={value:.4f}" for name, value in self._times.items())
        print(f"LUNGLENS_STARTUP {fields}", file=sys.stderr, flush=True)
        QtWidgets.QApplication.exit(code)

    def _on_window_shown(self) -> None:
        # The show event is queued before the first paint; record after it is processed.
        QtCore.QTimer.singleShot(0, lambda: self._record("window_shown"))

    def _on_window_model_loaded(self, _active: object) -> None:
        self._record("model_loaded")

    def _on_window_model_failed(self, _message: str) -> None:
        self._times["model_failed"] = time.time()
        self._finish(1)

    def _on_window_image_shown(self, _key: int) -> None:
        self._record("first_result")

    def _on_timer_timeout(self) -> None:
        self._finish(2)


def run_gui(files: Sequence[str] | None = None, *, model_dir: str | Path | None = None) -> int:
    """Open the main window (optionally with images) and run the event loop.

    Args:
        files: Images or folders to open (from the command line).
        model_dir: A model bundle folder to use instead of the installed one
            (``--model``; ``$LUNGLENS_MODEL_DIR`` works too).

    Returns:
        The application's exit status.
    """
    app = create_application()
    from desktop_app.ui.main_window import MainWindow

    window = MainWindow(model_dir=model_dir)
    probe = None
    if os.environ.get(PROBE_ENV) == "1":
        probe = StartupProbe(window, expect_result=bool(files))
    window.show()
    if files:
        window.opening.open_paths(list(files))
    code = app.exec()
    del probe
    return int(code)
