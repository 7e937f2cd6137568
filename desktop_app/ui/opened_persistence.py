"""Keeping the window's opened and dropped films in the persistent worklist.

:class:`OpenedFilmKeeper` owns one connection to the worklist database of the user data
folder for the window: the file opener registers files through it (in its worker thread,
:func:`~desktop_app.core.node.opened_films.register_opened`) and the batch hands it each answer of
an opened film, which is committed on a thread of its own (a commit waits for ``fsync``, and
the UI thread must not). Received and watched films are not written here: the node commits
their answers.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore

from desktop_app.core.node.worklist_store import ORIGIN_OPEN, FilmRow, WorklistStore
from desktop_app.ui.workers import FunctionWorker

if TYPE_CHECKING:
    import numpy as np

    from desktop_app.core.classify.analysis import ImageResult
    from desktop_app.core.node.worklist import RowRecord

__all__ = ["OpenedFilmKeeper"]


class OpenedFilmKeeper(QtCore.QObject):
    """Registers opened files and commits their answers, off the UI thread."""

    def __init__(self, data_dir: Path, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.data_dir = Path(data_dir)
        self._store: WorklistStore | None = None
        self._lock = threading.Lock()
        # One writer thread: answers are committed in the order they were given.
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(1)

    def _opened_store(self) -> WorklistStore:
        with self._lock:
            if self._store is None:
                self._store = WorklistStore.in_folder(self.data_dir)
            return self._store

    def register(self, files: Sequence[Path]) -> dict[Path, FilmRow]:
        """Rows for opened files (call from a worker thread: every file is hashed)."""
        from desktop_app.core.node.opened_films import register_opened  # the imaging code

        if not files:
            return {}
        return register_opened(self._opened_store(), files)

    def keep_answer(self, record: RowRecord, result: ImageResult,
                    thumbnail: np.ndarray | None) -> None:
        """Commit the answer of an opened film in the background (other rows are ignored)."""
        if record.origin != ORIGIN_OPEN or record.sop_instance_uid is None:
            return
        from desktop_app.core.classify.row_thumbnails import thumbnail_png

        png = thumbnail_png(thumbnail) if thumbnail is not None else None
        self._pool.start(FunctionWorker(self._commit, record.sop_instance_uid,
                                        result.to_json(), png))

    def _commit(self, uid: str, json_record: dict[str, object], png: bytes | None) -> bool:
        return self._opened_store().record_result(uid, json_record, png,
                                                  replace_other_model=True)

    def wait(self, msecs: int) -> None:
        """Finish the pending commits and close the connection (closing the window)."""
        self._pool.waitForDone(msecs)
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
