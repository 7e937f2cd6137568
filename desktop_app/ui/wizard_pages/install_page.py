"""Page 6 — Install: name the model; Finish installs it atomically after a LiteRT self-test."""

from __future__ import annotations

from functools import partial

from PySide6 import QtCore, QtWidgets

from desktop_app.core.model.model_store import ModelEntry
from desktop_app.ui.training_tasks import install_model
from desktop_app.ui.training_worker import BackgroundTask
from desktop_app.ui.wizard_pages.common import WizardContext, set_status, status_label
from desktop_app.ui.wizard_pages.results_page import is_worse

__all__ = ["InstallPage"]


class InstallPage(QtWidgets.QWizardPage):
    """The mandatory name gates Finish; Finish runs the install in a worker.

    ``ModelStore.install`` copies the bundle into a staging folder, verifies it, calls the
    self-test (the staged bundle is loaded in LiteRT and the app's Analyzer classifies a few
    held-out images) and only then renames it into place and activates it. If anything fails,
    the staging folder is removed and the previous model stays active.

    Signals:
        model_installed(object): The installed :class:`ModelEntry` (now active).
        install_failed(str): Why the model was not installed.
    """

    model_installed = QtCore.Signal(object)
    install_failed = QtCore.Signal(str)

    def __init__(self, context: WizardContext) -> None:
        super().__init__()
        self._context = context
        self._task: BackgroundTask | None = None
        self.setTitle("Install the new model")
        self.setSubTitle("It becomes the model the app uses. The current model stays "
                         "available under Training › Models…, where you can switch back.")
        self.setFinalPage(True)
        self.setButtonText(QtWidgets.QWizard.WizardButton.FinishButton, "&Install")
        self.name_edit = QtWidgets.QLineEdit()
        self.name_edit.setAccessibleName("Name of the new model")
        self.name_edit.setPlaceholderText("e.g. clinic-2026-11")
        self.name_edit.setMaxLength(80)
        label = QtWidgets.QLabel("Model &name:")
        label.setBuddy(self.name_edit)
        self.summary = status_label("Model to install")
        self.where = status_label("Where the model is stored")
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setAccessibleName("Installing")
        self.progress.hide()
        self.status = status_label("Install status")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(label)
        row.addWidget(self.name_edit, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(row)
        layout.addWidget(self.where)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.registerField("modelName*", self.name_edit)

    @property
    def installing(self) -> bool:
        """True while the install runs."""
        return self._task is not None and not self._task.is_done()

    def initializePage(self) -> None:
        """Say where the model will be stored."""
        outcome = self._context.outcome
        if outcome is not None:
            new = outcome.new_test or {}
            accuracy = (new.get("overall") or {}).get("accuracy")
            figures = f" (held-out accuracy {accuracy:.3f})" if accuracy is not None else ""
            model_id = outcome.report.get("model_id", "")
            text = f"Model {model_id}{figures}, from {outcome.bundle_dir}."
            worse = is_worse(new, outcome.current) if new else []
            if worse:
                set_status(self.summary, text + " It scored worse than the installed model "
                           f"({'; '.join(worse)}): installing it is not recommended.", "warning")
            else:
                set_status(self.summary, text)
        self.where.setText(f"Models are kept in {self._context.store.root} (your user data "
                           "folder), never in the program folder.")

    def isComplete(self) -> bool:
        """Finish needs a name and no install in progress."""
        return super().isComplete() and not self.installing

    def validatePage(self) -> bool:
        """Finish starts the install; the wizard closes when it succeeded."""
        if self._context.installed is not None:
            return True
        self.start_install()
        return False  # the wizard closes when the install succeeded

    def start_install(self) -> None:
        """Install under the typed name in a worker (copy, verify, self-test, rename)."""
        outcome = self._context.outcome
        if outcome is None or self.installing:
            return
        name = self.name_edit.text().strip()
        store = self._context.store
        bundle_dir, images = outcome.bundle_dir, list(outcome.test_paths)
        if not images and self._context.summary is not None:
            # No test split: the self-test uses dataset images (it checks the model runs,
            # not how well).
            images = self._context.summary.table["path"].astype(str).head(6).tolist()
        task = BackgroundTask(lambda _state: install_model(store, bundle_dir, name, images))
        self._task = task
        task.signals.succeeded.connect(partial(self._on_task_succeeded, task))
        task.signals.failed.connect(partial(self._on_task_failed, task))
        self.name_edit.setEnabled(False)
        self.progress.show()
        set_status(self.status, f"Installing “{name}”: copying, checking the files and "
                                "classifying held-out images with the new model…")
        self.completeChanged.emit()
        self._context.start(task)

    def _on_task_succeeded(self, task: BackgroundTask, entry: ModelEntry) -> None:
        if task is not self._task:
            return
        self._task = None
        self._context.installed = entry
        self.progress.hide()
        set_status(self.status, f"Installed “{entry.key}” ({entry.model_id}); it is now the "
                                "active model.", "ok")
        self.completeChanged.emit()
        self.model_installed.emit(entry)
        wizard = self.wizard()
        if wizard is not None:
            wizard.accept()

    def _on_task_failed(self, task: BackgroundTask, error: BaseException) -> None:
        if task is not self._task:
            return
        self._task = None
        self.progress.hide()
        self.name_edit.setEnabled(True)
        message = str(error) or type(error).__name__
        set_status(self.status, f"The model was not installed: {message}. The current model "
                                "is unchanged.", "error")
        self.completeChanged.emit()
        self.install_failed.emit(message)
