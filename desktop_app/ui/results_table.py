"""The batch worklist's table: one row per film, sortable (e.g. by COVID-19 probability).

:class:`ResultsTableModel` is the Qt adapter of the core :class:`~desktop_app.core.node.worklist.
Worklist`, which owns the light rows (status, the result without pixels, a small thumbnail)
whoever added them: open, drop, the DICOM receiver or the watch folder. The selected image is
re-loaded at full resolution on demand. Sorting goes through a
:class:`QtCore.QSortFilterProxyModel` on :data:`SORT_ROLE`, which gives numbers for
probabilities, so "highest COVID-19 first" is one click on a header.

The gate column says "OOD" for a refused image and "caution" for an unusual film that kept its
label; the caution itself is in the details column and the tooltips, so it is never lost when
the worklist is scanned by label.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app.core.node.worklist import RowRecord, Status, Worklist
from desktop_app.core.node.worklist_store import ORIGIN_OPEN

if TYPE_CHECKING:
    from desktop_app.core.classify.analysis import ImageResult

__all__ = [
    "KEY_ROLE",
    "SORT_ROLE",
    "ResultsTableModel",
    "ResultsTableView",
    "RowRecord",
    "Status",
    "gray_qimage",
]

SORT_ROLE = QtCore.Qt.ItemDataRole.UserRole + 1
_STATUS_ORDER = {status: index for index, status in enumerate(Status)}
KEY_ROLE = QtCore.Qt.ItemDataRole.UserRole + 2


def gray_qimage(pixels: np.ndarray) -> QtGui.QImage:
    """Wrap an 8-bit grayscale array in a QImage that owns its memory."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = pixels.shape
    image = QtGui.QImage(pixels.data, width, height, width, QtGui.QImage.Format.Format_Grayscale8)
    return image.copy()  # detach from the numpy buffer


class ResultsTableModel(QtCore.QAbstractTableModel):
    """The worklist as a table; columns depend on the model's classes.

    Signals:
        counts_changed(): Rows were added, removed or changed status (status-bar summary).
    """

    counts_changed = QtCore.Signal()

    THUMB, NAME, STATUS, LABEL = range(4)

    def __init__(self, parent: QtCore.QObject | None = None,
                 worklist: Worklist | None = None) -> None:
        super().__init__(parent)
        self.worklist = worklist if worklist is not None else Worklist()
        self._classes: list[str] = []
        self._thumbnails: dict[int, QtGui.QImage] = {}
        self.worklist.subscribe(self)

    # -- structure -----------------------------------------------------------------------------

    @property
    def classes(self) -> list[str]:
        """Class names shown as probability columns."""
        return list(self._classes)

    def set_classes(self, classes: Sequence[str]) -> None:
        """Show one probability column per class (called when the model is loaded)."""
        if list(classes) == self._classes:
            return
        self.beginResetModel()
        self._classes = list(classes)
        self.endResetModel()

    def probability_column(self, name: str) -> int:
        """Column of a class's probability."""
        return 4 + self._classes.index(name)

    @property
    def ood_column(self) -> int:
        """Column of the out-of-distribution flag."""
        return 4 + len(self._classes)

    @property
    def details_column(self) -> int:
        """Column of the reason / error text."""
        return 5 + len(self._classes)

    @property
    def sender_column(self) -> int:
        """Column of the sender (calling AE title or watch folder) and the arrival time."""
        return 6 + len(self._classes)

    @property
    def send_column(self) -> int:
        """Column of the results' send status (sent to the PACS or not)."""
        return 7 + len(self._classes)

    def headers(self) -> list[str]:
        """Column titles."""
        return ["", "Name", "Status", "Label", *(f"P({c})" for c in self._classes),
                "OOD", "Details", "Received", "PACS"]

    def summary(self) -> str:
        """The status-bar summary: films, done, unreadable, not labelled, with a caution."""
        total = len(self.worklist)
        if total == 0:
            return ""
        parts = [f"{total} image(s)", f"{self.count(Status.DONE)} done"]
        errors = self.count(Status.ERROR)
        if errors:
            parts.append(f"{errors} unreadable")
        ood, cautioned = self.gate_counts()
        if ood:
            parts.append(f"{ood} not labelled (OOD)")
        if cautioned:
            parts.append(f"{cautioned} with a caution (unusual film)")
        return " · ".join(parts)

    # -- the worklist (kept as the table's API: the window and the tests use it) ---------------

    def add_paths(self, paths: Iterable[Path]) -> tuple[list[int], list[int]]:
        """Append rows for new files; return keys added and keys already present."""
        return self.worklist.add_paths(paths)

    def clear(self) -> None:
        """Remove every row."""
        self.worklist.clear()

    def records(self) -> list[RowRecord]:
        """All rows in order of arrival."""
        return self.worklist.records()

    def record(self, key: int) -> RowRecord:
        """The row with ``key``."""
        return self.worklist.record(key)

    def has_key(self, key: int) -> bool:
        """True if the row is still in the table (it may have been cleared)."""
        return self.worklist.has_key(key)

    def row_of(self, key: int) -> int:
        """Source row of ``key``."""
        return self.worklist.row_of(key)

    def keys_with_status(self, *statuses: Status) -> list[int]:
        """Keys of rows in any of ``statuses``, in order of arrival."""
        return self.worklist.keys_with_status(*statuses)

    def count(self, status: Status) -> int:
        """How many rows have ``status``."""
        return self.worklist.count(status)

    def gate_counts(self) -> tuple[int, int]:
        """``(refused, cautioned)``: rows not labelled by the gate, and labelled with a caution.

        The worklist summary shows both: a batch of ward films where many were only just
        accepted should be read with care, not just the refused ones.
        """
        texts = [record.gate_text for record in self.worklist.records()]
        return texts.count("OOD"), texts.count("caution")

    def set_status(self, keys: Iterable[int], status: Status) -> None:
        """Change the status of several rows."""
        self.worklist.set_status(keys, status)

    def set_result(self, key: int, result: ImageResult,
                   thumbnail: np.ndarray | None = None) -> None:
        """Store a row's result (light: pixels are dropped by the worker)."""
        self.worklist.set_result(key, result, thumbnail)

    # -- WorklistListener: the core's changes become Qt's row signals --------------------------

    def rows_about_to_be_inserted(self, first: int, last: int) -> None:
        """Announce appended rows to the views."""
        self.beginInsertRows(QtCore.QModelIndex(), first, last)

    def rows_inserted(self) -> None:
        """The appended rows are there."""
        self.endInsertRows()
        self.counts_changed.emit()

    def rows_changed(self, first: int, last: int) -> None:
        """Repaint changed rows (their thumbnails may be new)."""
        for row in range(first, last + 1):
            self._thumbnails.pop(self.worklist.record_at(row).key, None)
        self.dataChanged.emit(self.index(first, 0), self.index(last, self.columnCount() - 1))
        self.counts_changed.emit()

    def about_to_reset(self) -> None:
        """Every row is about to go."""
        self.beginResetModel()

    def reset(self) -> None:
        """The worklist is empty."""
        self._thumbnails.clear()
        self.endResetModel()
        self.counts_changed.emit()

    def _thumbnail(self, record: RowRecord) -> QtGui.QImage | None:
        if record.thumbnail is None:
            return None
        image = self._thumbnails.get(record.key)
        if image is None:
            image = self._thumbnails[record.key] = gray_qimage(record.thumbnail)
        return image

    # -- Qt model interface --------------------------------------------------------------------

    def rowCount(self, parent: QtCore.QModelIndex | None = None) -> int:
        """Number of rows (flat table)."""
        if parent is not None and parent.isValid():
            return 0
        return len(self.worklist)

    def columnCount(self, parent: QtCore.QModelIndex | None = None) -> int:
        """Number of columns."""
        if parent is not None and parent.isValid():
            return 0
        return 8 + len(self._classes)

    def headerData(self, section: int, orientation: QtCore.Qt.Orientation,
                   role: int = QtCore.Qt.ItemDataRole.DisplayRole) -> Any:
        """Column titles and tooltips."""
        if orientation != QtCore.Qt.Orientation.Horizontal:
            return None
        headers = self.headers()
        if not 0 <= section < len(headers):
            return None
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            return headers[section]
        if role == QtCore.Qt.ItemDataRole.ToolTipRole:
            if 4 <= section < 4 + len(self._classes):
                return (f"Calibrated probability of {self._classes[section - 4]}; "
                        "click to sort the worklist by it")
            if section == self.send_column:
                return ("Whether the film's results (DICOM SR and heat-map picture) reached "
                        "the PACS: pending (in the outbox, retried), sent, failed")
            if section == self.ood_column:
                return ("OOD: the model refused to label this image (not a whole frontal chest "
                        "film); caution: labelled, but an unusual film — read with care")
        return None

    def data(self, index: QtCore.QModelIndex,
             role: int = QtCore.Qt.ItemDataRole.DisplayRole) -> Any:
        """Cell contents for display, sorting, tooltips and colours."""
        if not index.isValid():
            return None
        record = self.worklist.record_at(index.row())
        column = index.column()
        if role == KEY_ROLE:
            return record.key
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            return self._display(record, column)
        if role == SORT_ROLE:
            return self._sort_value(record, column)
        if role == QtCore.Qt.ItemDataRole.DecorationRole and column == self.THUMB:
            return self._thumbnail(record)
        if role == QtCore.Qt.ItemDataRole.ToolTipRole:
            if column in (self.NAME, self.THUMB):
                return str(record.path)
            if column in (self.LABEL, self.details_column, self.STATUS, self.ood_column):
                return record.details or None
            if column == self.send_column:
                return record.send_error or None
        if role == QtCore.Qt.ItemDataRole.ForegroundRole:
            if record.status is Status.ERROR:
                return QtGui.QBrush(QtGui.QColor("#c62828"))
            if record.gate_text and column in (self.LABEL, self.ood_column):
                return QtGui.QBrush(QtGui.QColor("#b26a00"))
        if role == QtCore.Qt.ItemDataRole.TextAlignmentRole and 4 <= column <= self.ood_column:
            return int(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        return None

    def _probability(self, record: RowRecord, column: int) -> float | None:
        result = record.result
        # No probabilities for refused inputs: a number would read as a label.
        if result is None or not result.ok or not result.probabilities \
                or result.out_of_distribution:
            return None
        return result.probabilities.get(self._classes[column - 4])

    def _display(self, record: RowRecord, column: int) -> str | None:
        if column == self.THUMB:
            return None
        if column == self.NAME:
            return record.path.name
        if column == self.STATUS:
            return record.status.value
        if column == self.LABEL:
            return record.label_text
        if 4 <= column < 4 + len(self._classes):
            value = self._probability(record, column)
            return "" if value is None else f"{value:.1%}"
        if column == self.ood_column:
            return record.gate_text
        if column == self.details_column:
            return record.details
        if column == self.sender_column:
            return _sender_text(record)
        if column == self.send_column:
            return record.send_text
        return None

    def _sort_value(self, record: RowRecord, column: int) -> Any:
        if column == self.NAME:
            return record.path.name.lower()
        if column == self.STATUS:
            return _STATUS_ORDER[record.status]
        if column == self.LABEL:
            return record.label_text
        if 4 <= column < 4 + len(self._classes):
            value = self._probability(record, column)
            return -1.0 if value is None else value
        if column == self.ood_column:
            return {"OOD": 2, "caution": 1}.get(record.gate_text, 0)
        if column == self.details_column:
            return record.details
        if column == self.sender_column:
            return record.received.timestamp() if record.received is not None else 0.0
        if column == self.send_column:
            return record.send_text
        return record.key


def _sender_text(record: RowRecord) -> str:
    """Who sent the film and when: a DICOM sender, the watch folder, or opened by the user."""
    if record.received is None:
        return ""
    time = record.received.strftime("%H:%M:%S")
    if record.calling_ae:
        return f"{record.calling_ae} · {time}"
    return f"{'opened' if record.origin == ORIGIN_OPEN else 'watch folder'} · {time}"


class ResultsTableView(QtWidgets.QTableView):
    """The worklist table: row selection, thumbnails, keyboard navigation, sorting.

    Signals:
        current_key_changed(int): The selected row's key (-1 when nothing is selected).
    """

    current_key_changed = QtCore.Signal(int)

    def __init__(self, model: ResultsTableModel, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.source_model = model
        self.proxy = QtCore.QSortFilterProxyModel(self)
        self.proxy.setSourceModel(model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setDynamicSortFilter(True)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(-1, QtCore.Qt.SortOrder.AscendingOrder)  # insertion order at first
        self.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        # PACS/DICOM names differ at the end (UIDs, series numbers): keep both ends visible.
        self.setTextElideMode(QtCore.Qt.TextElideMode.ElideMiddle)
        self.setIconSize(QtCore.QSize(40, 40))
        self.verticalHeader().setDefaultSectionSize(44)
        self.verticalHeader().hide()
        self.horizontalHeader().setStretchLastSection(True)
        self.horizontalHeader().setHighlightSections(False)
        self.setAcceptDrops(False)  # drops are handled by the main window
        self.viewport().setAcceptDrops(False)
        self.setAccessibleName("Worklist of opened images")
        self.setAccessibleDescription(
            "One row per image: status, label and calibrated probabilities. Sortable."
        )
        self._resize_columns()

        model.modelReset.connect(self._on_model_reset)
        self.selectionModel().currentRowChanged.connect(self._on_selection_current_row_changed)

    def _resize_columns(self) -> None:
        header = self.horizontalHeader()
        widths = {ResultsTableModel.THUMB: 48, ResultsTableModel.NAME: 300,
                  ResultsTableModel.STATUS: 80, ResultsTableModel.LABEL: 200}
        for column in range(self.source_model.columnCount()):
            header.resizeSection(column, widths.get(column, 96))

    def current_key(self) -> int:
        """Key of the selected row, or -1."""
        index = self.currentIndex()
        return int(index.data(KEY_ROLE)) if index.isValid() else -1

    def select_key(self, key: int) -> None:
        """Select (and scroll to) the row with ``key``."""
        source = self.source_model.index(self.source_model.row_of(key), ResultsTableModel.NAME)
        index = self.proxy.mapFromSource(source)
        if index.isValid():
            self.setCurrentIndex(index)
            self.scrollTo(index)

    def keys_in_view_order(self) -> list[int]:
        """Row keys in the order shown (the sorted worklist)."""
        return [int(self.proxy.index(row, 0).data(KEY_ROLE))
                for row in range(self.proxy.rowCount())]

    def _on_model_reset(self) -> None:
        self._resize_columns()

    def _on_selection_current_row_changed(self, current: QtCore.QModelIndex,
                                          _previous: QtCore.QModelIndex) -> None:
        self.current_key_changed.emit(int(current.data(KEY_ROLE)) if current.isValid() else -1)
