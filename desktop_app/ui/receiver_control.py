"""File › Receive Films…: the window as a DICOM node, and the persistent worklist in the table.

:class:`ReceiverControl` starts and stops ``python -m desktop_app serve`` itself, from a
worker (:class:`~desktop_app.ui.receiver_worker.ReceiverWorker`); received and watched
films become worklist rows as they arrive and take their answers when the node commits
them (in order of arrival). A status-bar indicator shows listening / films received. At
start-up (once the first model is loaded) the films of the persistent worklist that arrived
today (received, watched, or opened in the window:
:class:`~desktop_app.ui.opened_persistence.OpenedFilmKeeper` keeps those) are added to the
session, so a restart does not lose the day's results. The network and classify code is
imported when the receiver is first used, not when the window opens.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6 import QtCore, QtWidgets

from desktop_app.core.node.worklist_store import WORKLIST_FILE, WorklistStore, start_of_local_day
from desktop_app.ui.window_menus import make_action
from desktop_app.ui.workers import FunctionWorker

if TYPE_CHECKING:
    from desktop_app.core.node.dicom_receiver import ReceivedFilm, ReceiverConfig
    from desktop_app.core.node.watch_folder import WatchedFilm
    from desktop_app.core.node.worklist_store import FilmRow
    from desktop_app.core.session.session import Session
    from desktop_app.ui.receiver_worker import AnalysedFilm, ReceiverWorker
    from desktop_app.ui.session_signals import SessionSignals
    from desktop_app.ui.settings import Settings

__all__ = ["ReceiverControl", "ReceiverDialog", "todays_films"]


def todays_films(data_dir: Path) -> list[FilmRow]:
    """Films of the persistent worklist received since local midnight (none if no worklist)."""
    if not (data_dir / WORKLIST_FILE).is_file():
        return []
    with WorklistStore.in_folder(data_dir) as store:
        return store.films(start_of_local_day(dt.date.today()))


class ReceiverDialog(QtWidgets.QDialog):
    """Where to listen, whom to accept and which folder to watch."""

    def __init__(self, options: dict[str, Any], parent: QtWidgets.QWidget | None = None) -> None:
        from desktop_app.core.node.dicom_receiver import (
            DEFAULT_AE_TITLE,
            DEFAULT_HOST,
            DEFAULT_PORT,
        )

        super().__init__(parent)
        self.setWindowTitle("Receive Films")
        self.host = QtWidgets.QLineEdit(str(options.get("host", DEFAULT_HOST)), self)
        self.host.setToolTip("127.0.0.1 accepts this computer only; give the network "
                             "address (or 0.0.0.0) for a modality or PACS")
        self.port = QtWidgets.QSpinBox(self)
        self.port.setRange(1, 65535)
        self.port.setValue(int(options.get("port", DEFAULT_PORT)))
        self.ae_title = QtWidgets.QLineEdit(str(options.get("ae_title", DEFAULT_AE_TITLE)), self)
        self.allowed = QtWidgets.QLineEdit(" ".join(options.get("allowed_aes", [])), self)
        self.allowed.setPlaceholderText("any (separate AE titles with spaces)")
        self.watch = QtWidgets.QLineEdit(str(options.get("watch", "")), self)
        self.watch.setPlaceholderText("no watch folder")
        from desktop_app.ui.results_sending import DestinationBox

        self.destination = DestinationBox(str(options.get("send_to", "")),
                                          self.ae_title.text().strip() or DEFAULT_AE_TITLE,
                                          self)
        form = QtWidgets.QFormLayout()
        form.addRow("Listen on:", self.host)
        form.addRow("Port:", self.port)
        form.addRow("AE title:", self.ae_title)
        form.addRow("Accept from AE titles:", self.allowed)
        form.addRow("Watch folder:", self.watch)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel, parent=self)
        buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).setText("Start")
        self.error = QtWidgets.QLabel("", self)
        self.error.setStyleSheet("color: #c62828")
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.destination)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        buttons.accepted.connect(self._on_buttons_accepted)
        buttons.rejected.connect(self.reject)

    def options(self) -> dict[str, Any]:
        """The choices as :meth:`Settings.set_receiver_options` keeps them."""
        return {"host": self.host.text().strip(), "port": self.port.value(),
                "ae_title": self.ae_title.text().strip(),
                "allowed_aes": self.allowed.text().split(), "watch": self.watch.text().strip(),
                "send_to": self.destination.send_to()}

    def _on_buttons_accepted(self) -> None:
        try:
            receiver_config(self.options())
        except ValueError as error:
            self.error.setText(str(error))
            return
        problem = self.destination.check()
        if problem is not None:
            self.error.setText(problem)
            return
        watch = self.watch.text().strip()
        if watch and not Path(watch).is_dir():
            self.error.setText(f"watch folder {watch!r} is not a folder")
            return
        self.accept()


def receiver_config(options: dict[str, Any]) -> ReceiverConfig:
    """The receiver configuration of dialog choices.

    Raises:
        ValueError: Quoting the bad value.
    """
    from desktop_app.core.node.dicom_receiver import ReceiverConfig

    return ReceiverConfig(host=options["host"], port=int(options["port"]),
                          ae_title=options["ae_title"],
                          allowed_aes=tuple(options.get("allowed_aes", ())))


class ReceiverControl(QtCore.QObject):
    """Owns the *Receive Films* action, the node worker and the status-bar indicator.

    Signals:
        film_analysed(int): The row of a received or watched film got its answer.
        state_changed(bool): The node started (True) or stopped (False).
        status_message(str, int): What happened, for the status bar, and for how many ms.
        error(str): Why the node stopped.
    """

    film_analysed = QtCore.Signal(int)
    state_changed = QtCore.Signal(bool)
    status_message = QtCore.Signal(str, int)
    error = QtCore.Signal(str)

    def __init__(self, signals: SessionSignals, settings: Settings, data_dir: Path,
                 pool: QtCore.QThreadPool, parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self._session: Session = signals.session
        self._settings = settings
        self._parent = parent
        #: The persistent worklist's folder (the user data folder).
        self.data_dir = data_dir
        self._loader_pool = pool
        self.worker: ReceiverWorker | None = None
        self._received = 0
        self._address = ""
        self._today_loaded = False
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self.indicator = QtWidgets.QLabel("", parent)
        self.indicator.setAccessibleName("DICOM receiver status")
        self.action = make_action(
            parent, "&Receive Films…", self.toggle, None,
            "Receive films from an X-ray unit or PACS (DICOM) and from a watch folder")
        self.action.setCheckable(True)
        signals.model_changed.connect(self._on_session_model_changed)

    @property
    def running(self) -> bool:
        """True while the node runs (or is stopping)."""
        return self.worker is not None

    def toggle(self) -> None:
        """Start the node (asking where to listen) or stop it."""
        if self.worker is not None:
            self.stop()
            return
        self.action.setChecked(False)
        dialog = ReceiverDialog(self._settings.receiver_options(), self._parent)
        if dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted:
            self._settings.set_receiver_options(dialog.options())
            if not self.start(dialog.options()):
                message = self._session.model_error or "The model is still loading…"
                self.status_message.emit(
                    f"The receiver needs a model to analyse films: {message}", 8000)

    def start(self, options: dict[str, Any]) -> bool:
        """Start the node with dialog choices; False when no model is loaded yet.

        Raises:
            ValueError: Quoting the bad value, if the choices are not valid.
        """
        from desktop_app.ui.receiver_worker import ReceiverWorker

        bundle = self._session.bundle
        if bundle is None or self.worker is not None:
            return False
        receiver_config(options)  # refuses bad choices here, with the value quoted
        worker = ReceiverWorker(options, self.data_dir, bundle)
        worker.signals.listening.connect(self._on_worker_listening)
        worker.signals.film_received.connect(self._on_worker_film_received)
        worker.signals.film_watched.connect(self._on_worker_film_watched)
        worker.signals.film_analysed.connect(self._on_worker_film_analysed)
        worker.signals.stopped.connect(self._on_worker_stopped)
        worker.signals.failed.connect(self._on_worker_failed)
        self.worker = worker
        self._received = 0
        self.action.setChecked(True)
        self.indicator.setText("Receiver starting…")
        self._pool.start(worker)
        self.state_changed.emit(True)
        return True

    def stop(self) -> None:
        """Stop the node after the films in hand (cooperative)."""
        if self.worker is not None:
            self.worker.stop()
            self.indicator.setText("Receiver stopping…")

    def wait(self, msecs: int) -> None:
        """Stop and wait for the node's thread (closing the window)."""
        self.stop()
        self._pool.waitForDone(msecs)

    def load_today(self) -> None:
        """Show today's films of the persistent worklist (read off the UI thread)."""
        worker = FunctionWorker(todays_films, self.data_dir)
        worker.signals.succeeded.connect(self._on_loader_succeeded)
        self._loader_pool.start(worker)

    def _on_session_model_changed(self) -> None:
        # Stored answers are shown only for the model that gave them: wait for the first.
        if self._session.active is not None and not self._today_loaded:
            self._today_loaded = True
            self.load_today()

    def _on_loader_succeeded(self, rows: list[FilmRow]) -> None:
        self._session.add_films(rows)
        if rows:
            self.status_message.emit(f"Loaded {len(rows)} film(s) of today from the worklist",
                                     8000)

    def _update_indicator(self) -> None:
        self.indicator.setText(f"Listening on {self._address} · {self._received} film(s) "
                               "received")

    def _on_worker_listening(self, host: str, port: int) -> None:
        self._address = f"{host}:{port}"
        self._update_indicator()

    def _on_worker_film_received(self, film: ReceivedFilm) -> None:
        self._received += 1
        self._session.add_received(film.stored_file, film.sop_instance_uid, film.calling_ae,
                                   film.received)
        self._update_indicator()

    def _on_worker_film_watched(self, film: WatchedFilm) -> None:
        self._session.add_received(film.path, film.sop_instance_uid, None,
                                   dt.datetime.now().astimezone())

    def _on_worker_film_analysed(self, film: AnalysedFilm) -> None:
        row = film.row
        # A film queued before this start has no row yet: it is shown now.
        key = self._session.add_received(row.stored_file, row.sop_instance_uid, row.calling_ae,
                                         row.received)
        if self._session.accept_answer(key, film.result, film.thumbnail):
            self.film_analysed.emit(key)

    def _ended(self) -> None:
        self.worker = None
        self.action.setChecked(False)
        self.state_changed.emit(False)

    def _on_worker_stopped(self) -> None:
        self._ended()
        self.indicator.setText(f"Receiver stopped · {self._received} film(s) received")

    def _on_worker_failed(self, message: str) -> None:
        self._ended()
        self.indicator.setText("Receiver stopped")
        self.error.emit(f"The DICOM receiver stopped: {message}")
