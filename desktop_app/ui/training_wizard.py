"""Train a new model: a QWizard from a folder of labelled X-rays to an installed model.

Six pages (:class:`Pages`), one module each under :mod:`desktop_app.ui.wizard_pages`:
Data -> Check -> Settings -> Training -> Results -> Install. All long work (reading and
checking the data, measuring speed, training, evaluating, installing) runs in the wizard's own
thread pool through :mod:`desktop_app.ui.training_worker`, calling the plain functions of
:mod:`desktop_app.ui.training_tasks`, which chain ``model_training``'s public functions the way
its CLI does. TensorFlow is imported only inside those workers.

The pattern follows Qt's ``licensewizard`` example: ``class Pages(IntEnum)``, mandatory fields
(``registerField("name*")``) gating Next/Finish, ``validatePage`` for the steps that act.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app.core.model.model_store import ModelStore
from desktop_app.ui.modeless import show_reloading_on
from desktop_app.ui.wizard_pages.check_page import CheckPage
from desktop_app.ui.wizard_pages.common import Pages, WizardContext
from desktop_app.ui.wizard_pages.data_page import DataPage
from desktop_app.ui.wizard_pages.install_page import InstallPage
from desktop_app.ui.wizard_pages.results_page import ResultsPage
from desktop_app.ui.wizard_pages.settings_page import SettingsPage
from desktop_app.ui.wizard_pages.training_page import TrainingPage

__all__ = ["Pages", "TrainingWizard", "open_training_wizard"]


class TrainingWizard(QtWidgets.QWizard):
    """The training wizard.

    Closing it while training asks first, then cancels cooperatively and closes when the
    worker has stopped (within one batch); nothing half-trained is installed.

    Signals:
        model_installed(object): A model was installed and activated (a ``ModelEntry``); the
            main window reloads its model on this.
    """

    model_installed = QtCore.Signal(object)

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        *,
        store: ModelStore | None = None,
        min_images_per_class: int | None = None,
        bootstrap_rounds: int = 200,
        run_root: Path | None = None,
        settings_defaults: Mapping[str, Any] | None = None,
        measure_speed: bool = True,
    ) -> None:
        """Create the wizard.

        Args:
            parent: Owner window.
            store: Model store to install into (default: the user's).
            min_images_per_class: Dataset-check minimum (default: model_training's).
            bootstrap_rounds: Bootstrap resamples for AUROC confidence intervals; fewer is
                faster (tests use a handful).
            run_root: Folder for run output (default: ``<user data>/runs``).
            settings_defaults: ``TrainingConfig`` fields the Settings page starts from.
            measure_speed: Measure the training speed on the Settings page (tests that do
                not look at the estimate turn it off to save a model build).
        """
        super().__init__(parent)
        pool = QtCore.QThreadPool(self)
        pool.setMaxThreadCount(2)
        self.context = WizardContext(store=store or ModelStore(), pool=pool,
                                     min_images_per_class=min_images_per_class,
                                     bootstrap_rounds=bootstrap_rounds, run_root=run_root)
        self._closing = False
        self.setWindowTitle("Train a New Model")
        self.setAccessibleName("Train a new model")
        self.setWizardStyle(QtWidgets.QWizard.WizardStyle.ModernStyle)
        self.setOption(QtWidgets.QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QtWidgets.QWizard.WizardOption.HaveHelpButton, False)
        self.setMinimumSize(820, 640)

        self.data_page = DataPage(self.context)
        self.check_page = CheckPage(self.context)
        self.settings_page = SettingsPage(self.context, settings_defaults,
                                          measure_speed=measure_speed)
        self.training_page = TrainingPage(self.context)
        self.results_page = ResultsPage(self.context)
        self.install_page = InstallPage(self.context)
        for page_id, page in ((Pages.DATA, self.data_page), (Pages.CHECK, self.check_page),
                              (Pages.SETTINGS, self.settings_page),
                              (Pages.TRAINING, self.training_page),
                              (Pages.RESULTS, self.results_page),
                              (Pages.INSTALL, self.install_page)):
            self.setPage(page_id, page)
        self.setStartId(Pages.DATA)

        app = QtCore.QCoreApplication.instance()
        if app is not None:
            # Quitting the app while training: stop within one batch instead of making the
            # thread pool's destructor wait for the whole run.
            app.aboutToQuit.connect(self.context.cancel_all)
        self.install_page.model_installed.connect(self._on_install_page_model_installed)
        self.training_page.training_stopped.connect(self._on_training_page_training_stopped)

    # -- closing --------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while training or installing."""
        return self.training_page.running or self.install_page.installing

    def reject(self) -> None:
        """Cancel/Esc/close: ask while training, refuse while installing, else close."""
        if self._closing:
            return
        if self.install_page.installing:
            QtWidgets.QMessageBox.information(
                self, "Installing", "The model is being installed; this takes a few seconds. "
                "The wizard closes when it is done.")
            return
        if self.training_page.running:
            answer = QtWidgets.QMessageBox.question(
                self, "Stop training?",
                "Training is still running. Stop it and close the wizard? Nothing will be "
                "installed.",
                QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.No,
                QtWidgets.QMessageBox.StandardButton.No)
            if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                return
            self._closing = True
            self.training_page.cancel()
            self.button(QtWidgets.QWizard.WizardButton.CancelButton).setEnabled(False)
            return  # closes in _on_training_page_training_stopped
        self.context.cancel_all()
        super().reject()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        """Route the window's close button through :meth:`reject` (ask while busy)."""
        if self.busy or self._closing:
            event.ignore()
            self.reject()
            return
        super().closeEvent(event)

    def wait_for_tasks(self, msecs: int = 30_000) -> bool:
        """Block until the wizard's background tasks ended (tests and shutdown)."""
        return self.context.pool.waitForDone(msecs)

    # -- slots ----------------------------------------------------------------------------------

    def _on_training_page_training_stopped(self) -> None:
        if self._closing:
            self._closing = False
            self.context.cancel_all()
            super().reject()

    def _on_install_page_model_installed(self, entry: Any) -> None:
        self.model_installed.emit(entry)


def open_training_wizard(parent: QtWidgets.QWidget,
                         reload_model: Callable[[], None] | None = None) -> TrainingWizard:
    """Training › Train a New Model… (hook called by the main window's dialogs).

    The wizard is modeless so the main window stays usable; when a model is installed
    ``reload_model`` loads the active model again through the window's own loader.
    """
    wizard = TrainingWizard(parent)
    show_reloading_on(wizard, wizard.model_installed, reload_model)
    return wizard
