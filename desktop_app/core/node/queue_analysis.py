"""Answering the worklist's queue: the films still ``queued`` go through the classify path.

The queue is the database, not memory: whatever arrived (received, watched, opened) and was
committed is analysed here in order of arrival, after a restart too. Each result is committed
the moment it is produced, onto a row that is still queued, so a film is answered once even
when the process dies between two films.
"""

from __future__ import annotations

from collections.abc import Callable

from desktop_app.core.classify.analysis import Analyzer, ImageResult
from desktop_app.core.classify.row_thumbnails import make_thumbnail, thumbnail_png
from desktop_app.core.node.worklist_store import ORIGIN_OPEN, FilmRow, WorklistStore

__all__ = ["QueueAnalyser"]

ResultCallback = Callable[[FilmRow, ImageResult], None]


class QueueAnalyser:
    """Takes queued films from a store, classifies them and commits the results."""

    def __init__(self, store: WorklistStore, analyzer: Analyzer, *, batch_size: int = 8,
                 send_to: str | None = None) -> None:
        """Bind a store to an analyzer.

        Args:
            store: The worklist.
            analyzer: The classify path (one per thread: this object is used by one thread).
            batch_size: Films taken from the queue at a time; also how many films a stop
                request may wait for (the films in hand are finished, not dropped).
            send_to: The destination (``AET@HOST:PORT``) whose results each received or
                watched film owes, committed with its answer; films opened in the window
                are sent only when the user asks.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.store = store
        self.analyzer = analyzer
        self.batch_size = batch_size
        self.send_to = send_to

    def run_pending(self, *, cancelled: Callable[[], bool] | None = None,
                    on_result: ResultCallback | None = None) -> int:
        """Analyse queued films until the queue is empty or ``cancelled()`` is true.

        Films that arrive meanwhile are taken too (the queue is read again after each
        batch). Returns how many results were committed.
        """
        committed = 0
        while not (cancelled is not None and cancelled()):
            rows = self.store.queued(limit=self.batch_size)
            if not rows:
                break
            results = self.analyzer.analyse([row.stored_file for row in rows],
                                            batch_size=self.batch_size)
            for row, result in zip(rows, results, strict=False):
                thumbnail = make_thumbnail(result)
                if self.store.record_result(
                        row.sop_instance_uid, result.to_json(),
                        thumbnail_png(thumbnail) if thumbnail is not None else None,
                        send_to=self.send_to if row.origin != ORIGIN_OPEN else None):
                    committed += 1
                    if on_result is not None:
                        on_result(row, result)
        return committed
