"""The window's dialogs: model card, validation, calibration, model hooks, About.

The training wizard and the model manager live in their own modules, imported when asked
for (TensorFlow-backed training is optional in the classify-only build); this object opens
them, or explains that the build lacks them. A dialog that changes the model in use calls
the ``reload_model`` it is given, so the new model is loaded like at start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from desktop_app import APP_NAME, DISCLAIMER, __version__
from desktop_app.ui.model_card_dialog import ModelCardDialog
from desktop_app.ui.window_menus import make_action

if TYPE_CHECKING:
    from desktop_app.core.session.session import Session
    from desktop_app.ui.session_signals import SessionSignals

__all__ = ["MODELS_MODULE", "WIZARD_MODULE", "WindowDialogs"]

WIZARD_MODULE = "desktop_app.ui.training_wizard"
MODELS_MODULE = "desktop_app.ui.models_dialog"


class WindowDialogs(QtCore.QObject):
    """The dialog actions of one window (one model card dialog, reused).

    Signals:
        status_message(str, int): Why a dialog cannot open yet, for the status bar.
    """

    status_message = QtCore.Signal(str, int)

    def __init__(self, signals: SessionSignals, reload_model: Callable[[], None],
                 parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self._session: Session = signals.session
        self._reload_model = reload_model
        self._parent = parent
        self._card_dialog: ModelCardDialog | None = None
        pixmap = QtWidgets.QStyle.StandardPixmap
        self.model_card_action = make_action(
            parent, "Model &Card…", self.model_card, "Ctrl+I",
            "Training data, metrics, calibration and limitations of the model (Ctrl+I)",
            pixmap.SP_FileDialogInfoView)
        self.train_action = make_action(parent, "&Train a New Model…", self.training_wizard,
                                        None, "Retrain the classifier on your own labelled images")
        self.models_action = make_action(parent, "&Models…", self.model_manager, None,
                                         "Switch, roll back or delete installed models")
        self.validate_action = make_action(
            parent, "&Validate on Local Data…", self.validation, None,
            "Measure the installed model on your own labelled films (no training needed)")
        self.calibrate_action = make_action(
            parent, "Ca&librate to This Site…", self.calibration, None,
            "Set the model's thresholds and gate limits from this site's films (same weights)")
        self.about_action = make_action(parent, f"&About {APP_NAME}", self.about)
        self._on_session_model_changed()
        signals.model_changed.connect(self._on_session_model_changed)

    def _on_session_model_changed(self) -> None:
        self.model_card_action.setEnabled(self._session.active is not None)

    def _say_waiting(self) -> None:
        message = self._session.model_error or "The model is still loading…"
        self.status_message.emit(message, 5000)

    def model_card(self) -> ModelCardDialog | None:
        """Help › Model Card: training data, metrics, calibration, limitations, hashes."""
        bundle = self._session.bundle
        if bundle is None:
            self._say_waiting()
            return None
        card = bundle.card
        if self._card_dialog is None or self._card_dialog.card is not card:
            self._card_dialog = ModelCardDialog(card, self._parent)
        self._card_dialog.show()
        self._card_dialog.raise_()
        self._card_dialog.activateWindow()
        return self._card_dialog

    def validation(self) -> QtWidgets.QDialog | None:
        """Analysis › Validate on Local Data… (lives in ``ui.validation_dialog``)."""
        bundle = self._session.bundle
        if bundle is None:
            self._say_waiting()
            return None
        from desktop_app.ui.validation_dialog import open_validation_dialog

        dialog = open_validation_dialog(self._parent, bundle)
        dialog.validation_finished.connect(self._on_validation_dialog_validation_finished)
        return dialog

    def calibration(self) -> QtWidgets.QDialog | None:
        """Analysis › Calibrate to This Site… (lives in ``ui.calibration_dialog``)."""
        bundle = self._session.bundle
        if bundle is None:
            self._say_waiting()
            return None
        from desktop_app.ui.calibration_dialog import open_calibration_dialog

        return open_calibration_dialog(self._parent, bundle, self._reload_model)

    def training_wizard(self) -> None:
        """Training › Train a New Model… (the wizard reloads the model after install)."""
        self.open_hook(WIZARD_MODULE, "open_training_wizard", "Train a new model")

    def model_manager(self) -> None:
        """Training › Models… (the dialog reloads the model after a switch)."""
        self.open_hook(MODELS_MODULE, "open_model_manager", "Models")

    def _on_validation_dialog_validation_finished(self, _result: object) -> None:
        # The model card lists the stored validations: show the new one in an open card.
        if self._card_dialog is not None:
            from desktop_app.ui.model_card_dialog import model_card_html

            self._card_dialog.browser.setHtml(model_card_html(self._card_dialog.card))

    def open_hook(self, module_name: str, function: str, title: str) -> None:
        """Open ``module_name.function(parent, reload_model)``, or say that this build lacks it."""
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            module = None
        launcher = getattr(module, function, None)
        if callable(launcher):
            launcher(self._parent, self._reload_model)
            return
        QtWidgets.QMessageBox.information(
            self._parent, title,
            f"This feature is not part of this build yet. It will be provided by "
            f"{module_name}.{function}().",
        )

    def about(self) -> None:
        """Help › About."""
        model = self._session.model_id or "not loaded"
        QtWidgets.QMessageBox.about(
            self._parent, f"About {APP_NAME}",
            f"<h3>{APP_NAME} {__version__}</h3><p>Offline decision support for chest X-rays "
            f"(Normal / Pneumonia / COVID-19).</p><p>Model: {model}</p><p>{DISCLAIMER}</p>",
        )
