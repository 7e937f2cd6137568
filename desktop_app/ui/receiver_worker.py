"""The window's DICOM receiver: the headless node (``serve``) as a child process, watched.

The window runs exactly the node of ``python -m desktop_app serve``, in its own process: its
network threads (pynetdicom decodes every PDU in Python) and its analysis then never compete
with the window's event loop for the interpreter lock (measured in the window's process, they
pushed event-loop p99 latency to 120-190 ms while 500 films arrived). This worker starts it,
reads its log for the address it listens on, and follows the shared worklist database:
films that arrive and answers that are committed become queued signals. It never touches a
widget. Stopping is cooperative: the node gets SIGTERM (CTRL_BREAK on Windows), finishes the
films in hand and exits 0; ``stopped`` follows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6 import QtCore

import desktop_app
from desktop_app.core.classify.row_thumbnails import thumbnail_from_png
from desktop_app.core.node.dicom_receiver import ReceivedFilm, listening_address
from desktop_app.core.node.stored_results import result_from_row
from desktop_app.core.node.watch_folder import WatchedFilm
from desktop_app.core.node.worklist_store import ORIGIN_OPEN, WORKLIST_FILE, FilmRow, WorklistStore

if TYPE_CHECKING:
    from desktop_app.core.classify.analysis import ImageResult
    from desktop_app.core.model.model_bundle import ModelBundle

__all__ = ["AnalysedFilm", "ReceiverWorker", "child_environment", "serve_command"]

#: How often the worklist database is read for new films and answers.
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class AnalysedFilm:
    """A film the node answered, as the worklist keeps it (no pixels).

    Attributes:
        row: The film's worklist row (UID, file, sender, arrival).
        result: The result without pixels.
        thumbnail: What the model saw, small.
    """

    row: FilmRow
    result: ImageResult
    thumbnail: np.ndarray | None


def serve_command(options: dict[str, Any], data_dir: Path, model_dir: Path) -> list[str]:
    """The ``serve`` command line for the dialog's choices (the frozen app is its own CLI)."""
    if getattr(sys, "frozen", False):
        command = [sys.executable, "serve"]
    else:
        command = [sys.executable, "-m", "desktop_app", "serve"]
    command += ["--host", str(options["host"]), "--port", str(options["port"]),
                "--ae-title", str(options["ae_title"]), "--data-dir", str(data_dir),
                "--model", str(model_dir), "--poll", "0.2", "--parent-pid", str(os.getpid())]
    if options.get("allowed_aes"):
        command += ["--allow-ae", *options["allowed_aes"]]
    if options.get("watch"):
        command += ["--watch", str(options["watch"])]
    if options.get("send_to"):
        command += ["--send-to", str(options["send_to"])]
    return command


def child_environment() -> dict[str, str]:
    """The environment of a child command (``serve``, ``send``): this very package first.

    A source tree is not always on the path, and the child must run the window's code.
    """
    env = dict(os.environ)
    package_root = str(Path(desktop_app.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    return env


class _ReceiverSignals(QtCore.QObject):
    """Signals of :class:`ReceiverWorker`.

    Signals:
        listening(str, int): Bound to this host and port.
        film_received(object): A :class:`ReceivedFilm` was acknowledged and queued.
        film_watched(object): A :class:`WatchedFilm` was queued from the watch folder.
        film_analysed(object): An :class:`AnalysedFilm`'s result was committed.
        stopped(): The node stopped (after :meth:`ReceiverWorker.stop`).
        failed(str): The node could not start or stopped on an error.
    """

    listening = QtCore.Signal(str, int)
    film_received = QtCore.Signal(object)
    film_watched = QtCore.Signal(object)
    film_analysed = QtCore.Signal(object)
    stopped = QtCore.Signal()
    failed = QtCore.Signal(str)


class ReceiverWorker(QtCore.QRunnable):
    """Runs one ``serve`` process until :meth:`stop` and reports what it does."""

    def __init__(self, options: dict[str, Any], data_dir: Path, bundle: ModelBundle) -> None:
        super().__init__()
        self.signals = _ReceiverSignals()
        self.command = serve_command(options, data_dir, bundle.path)
        self.data_dir = Path(data_dir)
        self._card = bundle.card
        self._stop = threading.Event()
        self._process: subprocess.Popen[str] | None = None
        self._log: deque[str] = deque(maxlen=20)
        self._last_seq = 0
        self._pending: set[str] = set()
        self._store: WorklistStore | None = None

    def stop(self) -> None:
        """Ask the node to finish the films in hand and exit."""
        self._stop.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.CTRL_BREAK_EVENT if os.name == "nt"  # type: ignore[attr-defined]
                                else signal.SIGTERM)

    def run(self) -> None:
        """Start the node, follow it, and end with ``stopped`` or ``failed``."""
        try:
            self._resume_point()
            self._process = self._start()
        except OSError as error:
            self.signals.failed.emit(f"cannot start the receiver: {error}")
            return
        reader = threading.Thread(target=self._read_log, daemon=True)
        reader.start()
        if self._stop.is_set():  # stopped while starting
            self.stop()
        try:
            while True:
                self._follow()
                try:
                    self._process.wait(POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    continue
            reader.join(5)
            self._follow()
        finally:
            if self._store is not None:
                self._store.close()
        code = self._process.returncode
        if code == 0 or (self._stop.is_set() and code == -signal.SIGTERM):
            self.signals.stopped.emit()
            return
        errors = [line for line in self._log if line.startswith("error:")]
        reason = errors[-1].removeprefix("error: ") if errors else (
            self._log[-1] if self._log else f"the node exited with status {code}")
        self.signals.failed.emit(reason)

    def _start(self) -> subprocess.Popen[str]:
        env = child_environment()
        flags = subprocess.CREATE_NEW_PROCESS_GROUP if os.name == "nt" else 0  # type: ignore[attr-defined]
        return subprocess.Popen(self.command, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                env=env, creationflags=flags)

    def _read_log(self) -> None:
        process = self._process
        if process is None or process.stderr is None:
            return
        for line in process.stderr:
            line = line.rstrip()
            self._log.append(line.split(" ", 3)[-1] if " INFO " in line else line)
            address = listening_address(line)
            if address is not None:
                self.signals.listening.emit(*address)

    def _opened_store(self) -> WorklistStore | None:
        """The worklist, once the node has created it (one connection for the whole run)."""
        if self._store is None and (self.data_dir / WORKLIST_FILE).is_file():
            self._store = WorklistStore.in_folder(self.data_dir)
        return self._store

    def _resume_point(self) -> None:
        """Films already in the worklist are not new; those still queued will be answered."""
        store = self._opened_store()
        if store is None:
            return
        rows = store.films()
        self._last_seq = max((row.seq for row in rows), default=0)
        self._pending = {row.sop_instance_uid for row in rows if row.status == "queued"}

    def _follow(self) -> None:
        """Report films that arrived and answers committed since the last look."""
        store = self._opened_store()
        if store is None:
            return
        for row in store.films_after(self._last_seq):
            self._last_seq = row.seq
            self._announce(row)
            self._pending.add(row.sop_instance_uid)
        answered = store.answered(sorted(self._pending)) if self._pending else []
        for row in answered:
            self._pending.discard(row.sop_instance_uid)
            result = result_from_row(row, self._card)
            if result is not None:
                thumbnail = (thumbnail_from_png(row.thumbnail_png)
                             if row.thumbnail_png is not None else None)
                self.signals.film_analysed.emit(AnalysedFilm(row, result, thumbnail))

    def _announce(self, row: FilmRow) -> None:
        if row.origin == ORIGIN_OPEN:
            return  # the window added it itself; its answer is still followed
        if row.origin == "watch":
            self.signals.film_watched.emit(WatchedFilm(row.sop_instance_uid, row.stored_file))
        else:
            self.signals.film_received.emit(ReceivedFilm(
                row.sop_instance_uid, row.calling_ae or "", row.stored_file, row.received))
