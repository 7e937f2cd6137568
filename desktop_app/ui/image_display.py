"""The selected film in the viewer and the result panel, and moving through the worklist.

:class:`ImageDisplay` follows the table's current row: it shows a cached full result at once,
else the row's answer while :class:`~desktop_app.ui.workers.ImageLoader` decodes the full
image (and the heat map) in the background. The two most recent full results are kept, so
going back and forth between two films costs no decoding.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from desktop_app import APP_NAME
from desktop_app.core.node.worklist import Status
from desktop_app.ui.results_table import ResultsTableModel
from desktop_app.ui.window_menus import make_action
from desktop_app.ui.workers import BatchItem, make_thumbnail

if TYPE_CHECKING:
    from desktop_app.core.classify.analysis import ImageResult
    from desktop_app.core.session.session import Session
    from desktop_app.ui.batch_control import BatchControl
    from desktop_app.ui.image_view import ImageViewer
    from desktop_app.ui.result_panel import ResultPanel
    from desktop_app.ui.results_table import ResultsTableView
    from desktop_app.ui.session_signals import SessionSignals
    from desktop_app.ui.workers import ImageLoader

__all__ = ["EMPTY_HINT", "ImageDisplay"]

_FULL_CACHE_SIZE = 2
#: What the viewer says when the worklist is empty.
EMPTY_HINT = "Drop chest X-rays or folders here, or use File › Open (Ctrl+O)"


class ImageDisplay(QtCore.QObject):
    """Shows the table's current row in the viewer and the panel.

    Signals:
        image_shown(int): The full result of this row is now in the view and panel.
        title_changed(str): The window title naming the film shown.
    """

    image_shown = QtCore.Signal(int)
    title_changed = QtCore.Signal(str)

    def __init__(self, signals: SessionSignals, table: ResultsTableView, viewer: ImageViewer,
                 panel: ResultPanel, image_loader: ImageLoader, batch: BatchControl,
                 parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self._session: Session = signals.session
        self._table = table
        self._viewer = viewer
        self._panel = panel
        self._loader = image_loader
        self._batch = batch
        self._full: OrderedDict[int, ImageResult] = OrderedDict()
        self.next_action = make_action(parent, "&Next Image", self.select_next, "N",
                                       "Show the next image of the worklist (N)")
        self.previous_action = make_action(parent, "&Previous Image", self.select_previous,
                                           "P", "Show the previous image of the worklist (P)")
        table.current_key_changed.connect(self.on_current_key_changed)
        image_loader.image_previewed.connect(self.on_image_previewed)
        image_loader.image_loaded.connect(self.on_image_loaded)
        image_loader.image_failed.connect(self.on_image_failed)
        batch.item_done.connect(self.on_batch_item_done)
        signals.model_changed.connect(self.forget)
        signals.worklist_cleared.connect(self._on_session_worklist_cleared)

    def forget(self) -> None:
        """Drop the cached full results (the model changed, or the worklist was cleared)."""
        self._full.clear()

    def select_next(self) -> None:
        """Show the next row of the (sorted) worklist."""
        self.select_offset(1)

    def select_previous(self) -> None:
        """Show the previous row of the (sorted) worklist."""
        self.select_offset(-1)

    def select_offset(self, offset: int) -> None:
        """Select the row ``offset`` rows below (negative: above) the current one."""
        table = self._table
        rows = table.proxy.rowCount()
        if rows == 0:
            return
        current = table.currentIndex().row()
        row = 0 if current < 0 else max(0, min(rows - 1, current + offset))
        table.setCurrentIndex(table.proxy.index(row, ResultsTableModel.NAME))

    def on_current_key_changed(self, key: int) -> None:
        """The table's selection moved to ``key`` (-1: nothing selected)."""
        if key < 0:
            self._viewer.clear()
            self._panel.set_result(None)
            return
        self.show_key(key)

    def show_key(self, key: int) -> None:
        """Show row ``key``: at once when known, else after the background decode."""
        session = self._session
        viewer, panel = self._viewer, self._panel
        record = session.worklist.record(key)
        self.title_changed.emit(f"{record.path.name} — {APP_NAME}")
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
            viewer.clear(f"The file is no longer there:\n{record.path}\n"
                         "The stored answer is shown.")
            panel.set_result(record.result)
            return
        viewer.clear(f"Loading {record.path.name}…")
        if session.active is None:
            waiting = session.model_error or "Waiting for the model to load…"
            panel.set_message(record.path.name, waiting)
            return
        if record.result is not None and session.is_current_model(record.result):
            # The batch already answered for this film: show its result at once, while the
            # full image (for the viewer and the heat map) is decoded. During a batch of large
            # files that decode waits its turn on the cores for a second or more.
            panel.set_result(record.result)
        else:
            panel.set_message(record.path.name, "Analysing…")
        if self._batch.is_pending_in_batch(key):
            return  # the one-file batch keeps its pixels and will show them
        self._loader.request(key, record.path)

    def show_current_again(self, key: int) -> None:
        """Show ``key`` again after the model changed (the table's selection may be lost).

        New class columns reset the table, which drops the selection: re-select the row,
        which shows it, or show it when it is still selected.
        """
        if key < 0 or not self._session.worklist.has_key(key):
            return
        if self._table.current_key() == key:
            self.show_key(key)
        else:
            self._table.select_key(key)  # shows it through current_key_changed

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
        viewer, panel = self._viewer, self._panel
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
        if item.key == self._table.current_key():
            if item.full is not None:
                self.show_full(item.key, item.full)
            elif not item.result.ok:
                self.show_full(item.key, item.result)

    def on_film_answered(self, key: int) -> None:
        """A received film got its answer: show it when it is the current row."""
        if key == self._table.current_key() and key not in self._full:
            self.show_key(key)

    def on_image_previewed(self, key: int, result: ImageResult) -> None:
        """Show the reduced decode (and the finished analysis) until the full image is read."""
        if not self._session.is_current_model(result):
            return
        self._fill_row(key, result)
        if key == self._table.current_key() and key not in self._full:
            self.show_full(key, result)

    def on_image_loaded(self, key: int, result: ImageResult) -> None:
        """The full image of ``key`` is decoded and analysed."""
        if not self._session.is_current_model(result):
            return
        self.remember_full(key, result)
        self._fill_row(key, result)
        if key == self._table.current_key():
            self.show_full(key, result)

    def on_image_failed(self, key: int, message: str) -> None:
        """The full image of ``key`` could not be analysed."""
        if key == self._table.current_key():
            self._viewer.clear(f"Could not analyse this image:\n{message}")
            self._panel.set_message("Analysis failed", message)

    def _fill_row(self, key: int, result: ImageResult) -> None:
        worklist = self._session.worklist
        record = worklist.record(key) if worklist.has_key(key) else None
        if record is not None and record.status is not Status.DONE:
            # The view's analysis is the same classify path: fill the row too.
            light = result if not result.ok else replace(result, loaded=None, prepared=None,
                                                         cams=None)
            self._session.accept_answer(key, light, make_thumbnail(result))

    def _on_session_worklist_cleared(self) -> None:
        self.forget()
        self._viewer.clear(EMPTY_HINT)
        self._panel.set_result(None)
