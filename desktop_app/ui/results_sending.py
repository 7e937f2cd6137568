"""Results back to the PACS, in the window: the destination, its test, the send status, a menu.

* :class:`DestinationBox` is the *Send results to* part of *File › Receive Films…*: the
  destination's AE title, host and port (kept with the receiver's choices in the settings)
  and a *Test* button that sends a C-ECHO from a worker thread, never from the UI thread.
* :class:`SendControl` owns *File › Send Results to PACS*: the selected films that are DICOM
  get their results made and sent to the destination. When the window's node runs, it picks
  them up (it writes what films owe and sends its outbox); otherwise a ``send`` command runs
  as a child process, like ``serve``. It also follows the outbox every few seconds, so the
  table's *PACS* column shows pending, sent or failed as the node records them.

Every database read and every network call runs in a pool thread; the UI thread only applies
what comes back.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6 import QtCore, QtWidgets

from desktop_app.core.node.worklist_store import WORKLIST_FILE, WorklistStore
from desktop_app.ui.window_menus import make_action
from desktop_app.ui.workers import FunctionWorker

if TYPE_CHECKING:
    from desktop_app.core.session.session import Session
    from desktop_app.ui.receiver_control import ReceiverControl
    from desktop_app.ui.results_table import ResultsTableView
    from desktop_app.ui.session_signals import SessionSignals
    from desktop_app.ui.settings import Settings

__all__ = ["DestinationBox", "SendControl", "read_send_states", "request_and_send"]

_DICOM_DEFAULT_PORT = 104


def _echo(destination: str, calling_ae: str) -> str:
    from desktop_app.core.node.destination import Destination
    from desktop_app.core.node.result_sender import echo

    problem = echo(Destination.parse(destination), calling_ae)
    return f"{destination} answered the C-ECHO" if problem is None else problem


class DestinationBox(QtWidgets.QGroupBox):
    """Where results go: AE title, host, port (an empty AE title: results are not sent)."""

    def __init__(self, send_to: str, calling_ae: str,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Send results to (DICOM SR and heat-map picture)", parent)
        from desktop_app.core.node.destination import Destination

        try:
            current = Destination.parse(send_to) if send_to else None
        except ValueError:
            current = None
        self.calling_ae = calling_ae
        self.ae_title = QtWidgets.QLineEdit(current.ae_title if current else "", self)
        self.ae_title.setPlaceholderText("not sent (give the PACS's AE title)")
        self.host = QtWidgets.QLineEdit(current.host if current else "", self)
        self.port = QtWidgets.QSpinBox(self)
        self.port.setRange(1, 65535)
        self.port.setValue(current.port if current else _DICOM_DEFAULT_PORT)
        self.test_button = QtWidgets.QPushButton("Test", self)
        self.test_button.setToolTip("Send a C-ECHO to the destination")
        self.test_result = QtWidgets.QLabel("", self)
        self.test_result.setWordWrap(True)
        form = QtWidgets.QFormLayout(self)
        form.addRow("AE title:", self.ae_title)
        form.addRow("Host:", self.host)
        form.addRow("Port:", self.port)
        form.addRow(self.test_button, self.test_result)
        self.test_button.clicked.connect(self._on_test_button_clicked)

    def send_to(self) -> str:
        """``AET@HOST:PORT``, or ``""`` when no AE title is given (results are not sent)."""
        title = self.ae_title.text().strip()
        if not title:
            return ""
        host = self.host.text().strip()
        host = f"[{host}]" if ":" in host else host
        return f"{title}@{host}:{self.port.value()}"

    def check(self) -> str | None:
        """Why the destination is not valid (the value quoted), or ``None``."""
        from desktop_app.core.node.destination import Destination

        text = self.send_to()
        if not text:
            return None
        try:
            Destination.parse(text)
        except ValueError as error:
            return str(error)
        return None

    def _on_test_button_clicked(self) -> None:
        problem = self.check()
        if problem is not None or not self.send_to():
            self.test_result.setText(problem or "Give the destination's AE title first")
            return
        self.test_button.setEnabled(False)
        self.test_result.setText("Testing…")
        worker = FunctionWorker(_echo, self.send_to(), self.calling_ae)
        worker.signals.succeeded.connect(self._on_worker_done)
        worker.signals.failed.connect(self._on_worker_done)
        QtCore.QThreadPool.globalInstance().start(worker)

    def _on_worker_done(self, message: str) -> None:
        self.test_button.setEnabled(True)
        self.test_result.setText(message)


def read_send_states(data_dir: Path) -> dict[str, tuple[str, str | None]]:
    """``{film UID: (send status, error)}`` from the outbox (empty when no worklist)."""
    from desktop_app.core.node.outbox_store import Outbox

    if not (Path(data_dir) / WORKLIST_FILE).is_file():
        return {}
    with WorklistStore.in_folder(data_dir) as store:
        return {uid: (state.status, state.error)
                for uid, state in Outbox(store).film_states().items()}


def _send_command(data_dir: Path, model_dir: Path) -> list[str]:
    if getattr(sys, "frozen", False):
        command = [sys.executable, "send"]
    else:
        command = [sys.executable, "-m", "desktop_app", "send"]
    return [*command, "--data-dir", str(data_dir), "--model", str(model_dir)]


def request_and_send(data_dir: Path, film_uids: list[str], destination: str,
                     model_dir: Path | None) -> str:
    """Ask for the films' results; send them with a ``send`` child unless a node will.

    Args:
        data_dir: The worklist's folder.
        film_uids: The films (SOP Instance UIDs).
        destination: ``AET@HOST:PORT``.
        model_dir: The model that answered them, for a ``send`` child (``None``: a node
            serving the folder will write and send them).

    Returns:
        What happened, for the status bar.
    """
    from desktop_app.core.node.outbox_store import Outbox
    from desktop_app.ui.receiver_worker import child_environment

    with WorklistStore.in_folder(data_dir) as store:
        marked = Outbox(store).want_results(film_uids, destination)
    if model_dir is None:
        return f"Results of {marked} film(s) queued for {destination}"
    run = subprocess.run(_send_command(data_dir, model_dir), capture_output=True, text=True,
                         env=child_environment(), timeout=600, check=False,
                         stdin=subprocess.DEVNULL)
    lines = run.stdout.strip().splitlines() or run.stderr.strip().splitlines() or [""]
    return f"Results of {marked} film(s) for {destination}: {lines[-1]}"


class SendControl(QtCore.QObject):
    """*File › Send Results to PACS* and the *PACS* column's follower.

    Signals:
        status_message(str, int): What happened, for the status bar, and for how many ms.
    """

    status_message = QtCore.Signal(str, int)

    def __init__(self, signals: SessionSignals, settings: Settings, data_dir: Path,
                 pool: QtCore.QThreadPool, receiver: ReceiverControl, table: ResultsTableView,
                 parent: QtWidgets.QWidget, follow_ms: int = 2000) -> None:
        super().__init__(parent)
        self._session: Session = signals.session
        self._settings = settings
        self.data_dir = data_dir
        self._pool = pool
        self._receiver = receiver
        self._table = table
        self._reading = False
        self.action = make_action(parent, "&Send Results to PACS", self.send_selected, None,
                                  "Send the selected DICOM films' results (SR and heat-map "
                                  "picture) to the destination set in Receive Films…")
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(follow_ms)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    def selected_films(self) -> list[str]:
        """SOP Instance UIDs of the selected rows that are DICOM films of the worklist."""
        from desktop_app.core.imaging.sniffing import sniff_format
        from desktop_app.ui.results_table import KEY_ROLE

        worklist = self._session.worklist
        films = []
        for index in self._table.selectionModel().selectedRows():
            key = index.data(KEY_ROLE)
            if key is None or not worklist.has_key(key):
                continue
            record = worklist.record(key)
            if record.sop_instance_uid and record.path.is_file() \
                    and sniff_format(record.path) == "DICOM":
                films.append(record.sop_instance_uid)
        return films

    def send_selected(self) -> None:
        """Queue (and, without a running node, send) the selected films' results."""
        destination = str(self._settings.receiver_options().get("send_to") or "")
        if not destination:
            self.status_message.emit("Set where results go in File › Receive Films… "
                                     "(Send results to)", 8000)
            return
        films = self.selected_films()
        if not films:
            self.status_message.emit("Select DICOM films of the worklist to send their "
                                     "results", 8000)
            return
        bundle = self._session.bundle
        model_dir = None if self._receiver.running or bundle is None else bundle.path
        worker = FunctionWorker(request_and_send, self.data_dir, films, destination, model_dir)
        worker.signals.succeeded.connect(self._on_worker_succeeded)
        worker.signals.failed.connect(self._on_worker_succeeded)
        self._pool.start(worker)
        self.status_message.emit(f"Sending the results of {len(films)} film(s) to "
                                 f"{destination}…", 4000)

    def refresh(self) -> None:
        """Read the send states in a pool thread and show them in the table."""
        if self._reading or not len(self._session.worklist):
            return
        self._reading = True
        worker = FunctionWorker(read_send_states, self.data_dir)
        worker.signals.succeeded.connect(self._on_states_read)
        worker.signals.failed.connect(self._on_states_failed)
        self._pool.start(worker)

    def _on_states_read(self, states: dict[str, tuple[str, str | None]]) -> None:
        self._reading = False
        self._session.worklist.set_send_states(states)

    def _on_states_failed(self, _message: str) -> None:
        self._reading = False

    def _on_worker_succeeded(self, message: Any) -> None:
        self.status_message.emit(str(message), 10000)
        self.refresh()
