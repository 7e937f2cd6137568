"""The selected film in the viewer and the result panel.

:class:`ImageDisplay` follows the table's current row: it shows a cached full result at once,
else the row's answer while :class:`~desktop_app.ui.workers.ImageLoader` decodes the full
image (and the heat map) in the background. The two most recent full results are kept, so
going back and forth between two films costs no decoding.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6 import QtCore

from desktop_app import APP_NAME
from desktop_app.core.worklist import Status
from desktop_app.ui.results_table import ResultsTableModel
from desktop_app.ui.workers import BatchItem, make_thumbnail

if TYPE_CHECKING:
    from desktop_app.core.analysis import ImageResult
    from desktop_app.ui.main_window import MainWindow

__all__ = ["ImageDisplay"]

_FULL_CACHE_SIZE = 2


class ImageDisplay(QtCore.QObject):
    """Shows the current row of one window.

    Signals:
        image_shown(int): The full result of this row is now in the view and panel.
    """

    image_shown = QtCore.Signal(int)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self._full: OrderedDict[int, ImageResult] = OrderedDict()

    def forget(self) -> None:
        """Drop the cached full results (the model changed, or the worklist was cleared)."""
        self._full.clear()

    def select_offset(self, offset: int) -> None:
        """Select the row ``offset`` rows below (negative: above) the current one."""
        table = self._window.table
        rows = table.proxy.rowCount()
        if rows == 0:
            return
        current = table.currentIndex().row()
        row = 0 if current < 0 else max(0, min(rows - 1, current + offset))
        table.setCurrentIndex(table.proxy.index(row, ResultsTableModel.NAME))

    def on_current_key_changed(self, key: int) -> None:
        """The table's selection moved to ``key`` (-1: nothing selected)."""
        if key < 0:
            self._window.viewer.clear()
            self._window.panel.set_result(None)
            return
        self.show_key(key)

    def show_key(self, key: int) -> None:
        """Show row ``key``: at once when known, else after the background decode."""
        window = self._window
        record = window.table_model.record(key)
        window.setWindowTitle(f"{record.path.name} — {APP_NAME}")
        cached = self._full.get(key)
        if cached is not None:
            self.show_full(key, cached)
            return
        if record.result is not None and not record.result.ok:
            self.show_full(key, record.result)
            return
        if record.result is not None and not record.path.is_file():
            # A film of the persistent worklist whose file was moved or deleted since: its
            # stored answer still stands, only the pixels (and the heat map) are gone.
            window.viewer.clear(f"The file is no longer there:\n{record.path}\n"
                                "The stored answer is shown.")
            window.panel.set_result(record.result)
            return
        window.viewer.clear(f"Loading {record.path.name}…")
        if window.active_model is None:
            waiting = window.model_error or "Waiting for the model to load…"
            window.panel.set_message(record.path.name, waiting)
            return
        if record.result is not None and window.is_current_model(record.result):
            # The batch already answered for this film: show its result at once, while the
            # full image (for the viewer and the heat map) is decoded. During a batch of large
            # files that decode waits its turn on the cores for a second or more.
            window.panel.set_result(record.result)
        else:
            window.panel.set_message(record.path.name, "Analysing…")
        if window.batch.is_pending_in_batch(key):
            return  # the one-file batch keeps its pixels and will show them
        window.image_loader.request(key, record.path)

    def remember_full(self, key: int, result: ImageResult) -> None:
        """Keep a full result (pixels included) for quick re-display."""
        self._full[key] = result
        self._full.move_to_end(key)
        while len(self._full) > _FULL_CACHE_SIZE:
            self._full.popitem(last=False)

    def has_full(self, key: int) -> bool:
        """True when the full result of ``key`` is cached."""
        return key in self._full

    def show_full(self, key: int, result: ImageResult) -> None:
        """Put a result in the viewer and the panel."""
        viewer, panel = self._window.viewer, self._window.panel
        if result.ok and result.loaded is not None:
            viewer.set_result(result)
        else:
            viewer.clear(f"Could not read this file:\n{result.error}" if not result.ok else "")
        panel.set_result(result)
        panel.set_shown_class(viewer.shown_class())
        self.image_shown.emit(key)

    def on_batch_item_done(self, item: BatchItem) -> None:
        """The batch answered a row: show it when it is the current one."""
        if item.full is not None:
            self.remember_full(item.key, item.full)
        if item.key == self._window.table.current_key():
            if item.full is not None:
                self.show_full(item.key, item.full)
            elif not item.result.ok:
                self.show_full(item.key, item.result)

    def on_film_answered(self, key: int) -> None:
        """A received film got its answer: show it when it is the current row."""
        if key == self._window.table.current_key() and key not in self._full:
            self.show_key(key)

    def on_image_previewed(self, key: int, result: ImageResult) -> None:
        """Show the reduced decode (and the finished analysis) until the full image is read."""
        if not self._window.is_current_model(result):
            return
        self._fill_row(key, result)
        if key == self._window.table.current_key() and key not in self._full:
            self.show_full(key, result)

    def on_image_loaded(self, key: int, result: ImageResult) -> None:
        """The full image of ``key`` is decoded and analysed."""
        if not self._window.is_current_model(result):
            return
        self.remember_full(key, result)
        self._fill_row(key, result)
        if key == self._window.table.current_key():
            self.show_full(key, result)

    def on_image_failed(self, key: int, message: str) -> None:
        """The full image of ``key`` could not be analysed."""
        if key == self._window.table.current_key():
            self._window.viewer.clear(f"Could not analyse this image:\n{message}")
            self._window.panel.set_message("Analysis failed", message)

    def _fill_row(self, key: int, result: ImageResult) -> None:
        model = self._window.table_model
        record = model.record(key) if model.has_key(key) else None
        if record is not None and record.status is not Status.DONE:
            # The view's analysis is the same classify path: fill the row too.
            light = result if not result.ok else replace(result, loaded=None, prepared=None,
                                                         cams=None)
            model.set_result(key, light, make_thumbnail(result))
