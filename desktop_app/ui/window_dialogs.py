"""The main window's dialogs: model card, validation, calibration, model hooks, About.

The training wizard and the model manager live in their own modules, imported when asked
for (TensorFlow-backed training is optional in the classify-only build); this object opens
them, or explains that the build lacks them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from desktop_app import APP_NAME, DISCLAIMER, __version__
from desktop_app.ui.model_card_dialog import ModelCardDialog

if TYPE_CHECKING:
    from desktop_app.ui.main_window import MainWindow

__all__ = ["WindowDialogs"]


class WindowDialogs(QtCore.QObject):
    """Opens the dialogs of one window (one model card dialog, reused)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self._card_dialog: ModelCardDialog | None = None

    def _say_waiting(self) -> None:
        message = self._window.model_error or "The model is still loading…"
        self._window.statusBar().showMessage(message, 5000)

    def model_card(self) -> ModelCardDialog | None:
        """Help › Model Card: training data, metrics, calibration, limitations, hashes."""
        if self._window.active_model is None:
            self._say_waiting()
            return None
        card = self._window.active_model.bundle.card
        if self._card_dialog is None or self._card_dialog.card is not card:
            self._card_dialog = ModelCardDialog(card, self._window)
        self._card_dialog.show()
        self._card_dialog.raise_()
        self._card_dialog.activateWindow()
        return self._card_dialog

    def validation(self) -> QtWidgets.QDialog | None:
        """Analysis › Validate on Local Data… (lives in ``ui.validation_dialog``)."""
        if self._window.active_model is None:
            self._say_waiting()
            return None
        from desktop_app.ui.validation_dialog import open_validation_dialog

        dialog = open_validation_dialog(self._window, self._window.active_model.bundle)
        dialog.validation_finished.connect(self._on_validation_dialog_validation_finished)
        return dialog

    def calibration(self) -> QtWidgets.QDialog | None:
        """Analysis › Calibrate to This Site… (lives in ``ui.calibration_dialog``)."""
        if self._window.active_model is None:
            self._say_waiting()
            return None
        from desktop_app.ui.calibration_dialog import open_calibration_dialog

        return open_calibration_dialog(self._window, self._window.active_model.bundle)

    def _on_validation_dialog_validation_finished(self, _result: object) -> None:
        # The model card lists the stored validations: show the new one in an open card.
        if self._card_dialog is not None:
            from desktop_app.ui.model_card_dialog import model_card_html

            self._card_dialog.browser.setHtml(model_card_html(self._card_dialog.card))

    def open_hook(self, module_name: str, function: str, title: str) -> None:
        """Open ``module_name.function(window)``, or say that this build lacks it."""
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            module = None
        launcher = getattr(module, function, None)
        if callable(launcher):
            launcher(self._window)
            return
        QtWidgets.QMessageBox.information(
            self._window, title,
            f"This feature is not part of this build yet. It will be provided by "
            f"{module_name}.{function}().",
        )

    def about(self) -> None:
        """Help › About."""
        active = self._window.active_model
        model = active.bundle.card.model_id if active else "not loaded"
        QtWidgets.QMessageBox.about(
            self._window, f"About {APP_NAME}",
            f"<h3>{APP_NAME} {__version__}</h3><p>Offline decision support for chest X-rays "
            f"(Normal / Pneumonia / COVID-19).</p><p>Model: {model}</p><p>{DISCLAIMER}</p>",
        )
