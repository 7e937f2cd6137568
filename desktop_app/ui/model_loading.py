"""Loading the model in use off the UI thread, at start-up and whenever it changes.

:class:`ModelLoading` runs :func:`~desktop_app.ui.workers.load_active_model` in a worker and
gives the session the result: the session decides what a new model means for the worklist
(every row answered again) and tells its listeners. The window shows what this reports.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore

from desktop_app.ui.workers import FunctionWorker, load_active_model

if TYPE_CHECKING:
    from desktop_app.core.model.model_store import ActiveModel
    from desktop_app.core.session.session import Session

__all__ = ["ModelLoading"]


class ModelLoading(QtCore.QObject):
    """Loads the store's active model (or ``model_dir``) into a session.

    Signals:
        started(): A load began (the running batch should stop: its model is on the way out).
        loaded(object, bool): The :class:`ActiveModel` now in use, and whether it replaced
            another (the worklist is being classified again).
        failed(str): Why no model could be loaded.
    """

    started = QtCore.Signal()
    loaded = QtCore.Signal(object, bool)
    failed = QtCore.Signal(str)

    def __init__(self, session: Session, pool: QtCore.QThreadPool,
                 model_dir: Path | str | None = None,
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._pool = pool
        #: A ``--model``/``$LUNGLENS_MODEL_DIR`` override, kept for every reload.
        self.model_dir = model_dir

    def load(self) -> None:
        """Load the model in a worker (the store's active one unless overridden).

        Called at start-up and by the Models dialog, the wizard and the calibration dialog
        after they change the active model; once loaded, the worklist is classified again.
        """
        self.started.emit()
        worker = FunctionWorker(load_active_model, self.model_dir)
        worker.signals.succeeded.connect(self._on_loader_succeeded)
        worker.signals.failed.connect(self._on_loader_failed)
        self._pool.start(worker)

    def _on_loader_succeeded(self, active: ActiveModel) -> None:
        replaced = self._session.use_model(active)
        self.loaded.emit(active, replaced)

    def _on_loader_failed(self, message: str) -> None:
        self._session.model_failed(message)
        self.failed.emit(message)
