"""LungLens as a DICOM node: receiver, watch folder and analysis around one worklist.

:class:`DicomNode` is the long work behind both ``python -m desktop_app serve`` and the
window's *Receive Films…*: a plain object whose :meth:`DicomNode.run` blocks until asked to
stop, reporting through callbacks (the Qt adapter turns them into signals). Films are
answered in order of arrival from the database queue; a stop request finishes the films in
hand (one analysis batch, at most 16 films) and returns.

Data folder layout (the user data folder or ``--data-dir``)::

    worklist.sqlite3         the worklist (WAL mode)
    received/YYYYMMDD/<SOP Instance UID>.dcm
    results/YYYYMMDD/<SOP Instance UID>.dcm    the SR and SC of each film
    node.lock                held while a node serves this folder
    outbox.lock              held by the one process sending the results
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.classify.analysis import Analyzer, ImageResult
from desktop_app.core.imaging.film_files import remove_partial_files
from desktop_app.core.node.data_folder_lock import DataFolderBusyError, DataFolderLock
from desktop_app.core.node.destination import Destination
from desktop_app.core.node.dicom_receiver import (
    DEFAULT_AE_TITLE,
    ReceivedFilm,
    ReceiverConfig,
    StorageReceiver,
)
from desktop_app.core.node.outbox_sender import OutboxSender, outbox_lock
from desktop_app.core.node.outbox_store import Outbox
from desktop_app.core.node.queue_analysis import QueueAnalyser
from desktop_app.core.node.result_writer import ResultWriter
from desktop_app.core.node.watch_folder import WatchFolder
from desktop_app.core.node.worklist_store import ORIGIN_OPEN, FilmRow, WorklistStore

__all__ = ["RECEIVED_FOLDER", "DicomNode", "NodeCallbacks", "NodeOptions"]

LOGGER = logging.getLogger("desktop_app.dicom")
RECEIVED_FOLDER = "received"


@dataclass(frozen=True)
class NodeOptions:
    """What the node serves.

    Attributes:
        receiver: How to listen (``None``: no network, e.g. a watch folder only).
        data_dir: The folder holding the worklist and the received films.
        watch: A folder to watch, or ``None``.
        poll_seconds: Watch-folder scan interval (and the longest idle wait).
        settle_seconds: How long a watched file must stay unchanged to count as complete.
        batch_size: Films analysed at a time (as ``classify``'s LiteRT batches).
        send_to: Where each received or watched film's results are sent (``None``: they
            are not made; rows queued by the window are still sent).
        calling_ae: Our AE title when sending.
        send_timeout: Seconds before a destination that does not answer is given up.
        retry_base_seconds: The outbox's first back-off (doubles with each attempt).
    """

    receiver: ReceiverConfig | None
    data_dir: Path
    watch: Path | None = None
    poll_seconds: float = 1.0
    settle_seconds: float = 2.0
    batch_size: int = 16
    send_to: Destination | None = None
    calling_ae: str = DEFAULT_AE_TITLE
    send_timeout: float = 30.0
    retry_base_seconds: float = 2.0


@dataclass
class NodeCallbacks:
    """Optional observers, called from the node's threads (never touch widgets in them).

    Attributes:
        listening: ``(host, port)`` once the receiver is bound.
        received: A film was acknowledged and queued.
        analysed: A film's result was committed.
    """

    listening: Callable[[tuple[str, int]], None] | None = None
    received: Callable[[ReceivedFilm], None] | None = None
    analysed: Callable[[FilmRow, ImageResult], None] | None = None


class DicomNode:
    """Receives, watches and analyses until :meth:`stop` (or the ``stop`` event) is set."""

    def __init__(self, options: NodeOptions, analyzer_factory: Callable[[], Analyzer],
                 callbacks: NodeCallbacks | None = None) -> None:
        """Prepare a node; nothing is bound or opened before :meth:`run`.

        Args:
            options: What to serve.
            analyzer_factory: Builds the analyzer in the thread that runs the node (an
                Analyzer belongs to one thread).
            callbacks: Observers.
        """
        self.options = options
        self.analyzer_factory = analyzer_factory
        self.callbacks = callbacks or NodeCallbacks()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.receiver: StorageReceiver | None = None

    def stop(self) -> None:
        """Ask :meth:`run` to finish the films in hand and return (any thread, signal-safe)."""
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop.is_set()

    def _on_received(self, film: ReceivedFilm) -> None:
        if self.callbacks.received is not None:
            self.callbacks.received(film)
        self._wake.set()

    def run(self) -> int:
        """Serve until stopped; return how many results were committed.

        Raises:
            DataFolderBusyError: If another node serves the data folder.
            OSError: If the port cannot be bound or the folders cannot be written.
            ModelBundleError: If the analyzer cannot be built.
        """
        data_dir = Path(self.options.data_dir)
        with DataFolderLock(data_dir):
            received_dir = data_dir / RECEIVED_FOLDER
            leftovers = remove_partial_files(received_dir)
            if leftovers:
                LOGGER.info("removed %d partial file(s) of films never acknowledged", leftovers)
            analyzer = self.analyzer_factory()
            with WorklistStore.in_folder(data_dir) as store:
                backlog = store.counts()["queued"]
                if backlog:
                    LOGGER.info("resuming: %d film(s) queued before the last stop", backlog)
                watcher = (WatchFolder(self.options.watch, store,
                                       settle_seconds=self.options.settle_seconds)
                           if self.options.watch is not None else None)
                if self.options.receiver is not None:
                    self.receiver = StorageReceiver(self.options.receiver, store, received_dir,
                                                    on_received=self._on_received)
                    self.receiver.start()
                    if self.callbacks.listening is not None:
                        self.callbacks.listening(self.receiver.address)
                outbox = Outbox(store, retry_base_seconds=self.options.retry_base_seconds)
                sender = self._start_sender(outbox, data_dir)
                try:
                    return self._serve(store, analyzer, watcher,
                                       ResultWriter(outbox, data_dir), sender)
                finally:
                    if self.receiver is not None:
                        self.receiver.stop()
                    if sender is not None:
                        sender[0].stop(self.options.send_timeout + 5)
                        sender[1].release()

    @staticmethod
    def _write_owed(writer: ResultWriter, analyzer: Analyzer) -> int:
        try:
            return writer.write_owed(analyzer)
        except OSError as error:
            LOGGER.error("results owed not written: %s", error)
            return 0

    def _start_sender(self, outbox: Outbox, data_dir: Path
                      ) -> tuple[OutboxSender, DataFolderLock] | None:
        """Start sending the outbox, unless another process (a ``send`` command) is."""
        lock = outbox_lock(data_dir)
        try:
            lock.acquire()
        except DataFolderBusyError as error:
            LOGGER.warning("results are not sent by this node: %s", error)
            return None
        sender = OutboxSender(outbox, self.options.calling_ae,
                              echo_at_start=self.options.send_to,
                              timeout=self.options.send_timeout)
        sender.start()
        return sender, lock

    def _serve(self, store: WorklistStore, analyzer: Analyzer, watcher: WatchFolder | None,
               writer: ResultWriter, sender: tuple[OutboxSender, DataFolderLock] | None
               ) -> int:
        send_to = str(self.options.send_to) if self.options.send_to is not None else None
        queue = QueueAnalyser(store, analyzer, batch_size=self.options.batch_size,
                              send_to=send_to)

        def on_result(row: FilmRow, result: ImageResult) -> None:
            if send_to is not None and row.origin != ORIGIN_OPEN:
                try:
                    writer.write(row, result, analyzer.card, send_to)
                except OSError as error:  # e.g. a full disk: owed, written again later
                    LOGGER.error("results of %s not written: %s", row.sop_instance_uid, error)
                if sender is not None:
                    sender[0].wake()
            if self.callbacks.analysed is not None:
                self.callbacks.analysed(row, result)

        committed = 0
        while not self._stop.is_set():
            self._wake.clear()
            if watcher is not None:
                watcher.scan()
            committed += queue.run_pending(cancelled=self._stop.is_set, on_result=on_result)
            # Results owed but not written: a crash came between the answer and the outbox,
            # or the window asked for an answered film's results.
            if not self._stop.is_set() and self._write_owed(writer, analyzer) \
                    and sender is not None:
                sender[0].wake()
            self._wake.wait(self.options.poll_seconds)
        LOGGER.info("stopping: %d result(s) committed; %d film(s) left queued for next start",
                    committed, store.counts()["queued"])
        return committed
