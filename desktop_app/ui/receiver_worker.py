"""The Qt adapter of the DICOM node: :class:`~desktop_app.core.dicom_node.DicomNode` in a thread.

The node's callbacks become queued signals (they run in the receiver's association threads
and the node's analysis thread); the worker never touches a widget. Stopping is cooperative:
:meth:`ReceiverWorker.stop` asks the node to finish the films in hand, and ``stopped`` is
emitted when it has.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from PySide6 import QtCore

from desktop_app.core.dicom_node import DicomNode, NodeCallbacks, NodeOptions
from desktop_app.ui.workers import analyzer_for, make_thumbnail

if TYPE_CHECKING:
    from desktop_app.core.analysis import ImageResult
    from desktop_app.core.dicom_receiver import ReceivedFilm
    from desktop_app.core.model_bundle import ModelBundle
    from desktop_app.core.watch_folder import WatchedFilm
    from desktop_app.core.worklist_store import FilmRow

__all__ = ["AnalysedFilm", "ReceiverWorker"]


@dataclass(frozen=True)
class AnalysedFilm:
    """A film the node answered, as the worklist keeps it (no pixels).

    Attributes:
        sop_instance_uid: The film.
        result: The result without pixels.
        thumbnail: What the model saw, small.
    """

    sop_instance_uid: str
    result: ImageResult
    thumbnail: np.ndarray | None


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
    """Runs one :class:`DicomNode` until :meth:`stop`."""

    def __init__(self, options: NodeOptions, bundle: ModelBundle) -> None:
        super().__init__()
        self.signals = _ReceiverSignals()
        self._bundle = bundle
        callbacks = NodeCallbacks(listening=self._on_listening, received=self._on_received,
                                  watched=self._on_watched, analysed=self._on_analysed)
        self.node = DicomNode(options, lambda: analyzer_for(bundle), callbacks)

    def stop(self) -> None:
        """Ask the node to finish the films in hand and stop."""
        self.node.stop()

    def _on_listening(self, address: tuple[str, int]) -> None:
        self.signals.listening.emit(address[0], address[1])

    def _on_received(self, film: ReceivedFilm) -> None:
        self.signals.film_received.emit(film)

    def _on_watched(self, film: WatchedFilm) -> None:
        self.signals.film_watched.emit(film)

    def _on_analysed(self, row: FilmRow, result: ImageResult) -> None:
        light = replace(result, loaded=None, prepared=None, cams=None)
        self.signals.film_analysed.emit(
            AnalysedFilm(row.sop_instance_uid, light, make_thumbnail(result)))

    def run(self) -> None:
        """Serve; always end with ``stopped`` or ``failed``."""
        try:
            self.node.run()
        except Exception as error:
            traceback.print_exc()
            self.signals.failed.emit(f"{type(error).__name__}: {error}"
                                     if not str(error) else str(error))
            return
        self.signals.stopped.emit()
