"""The batch worklist: one row per opened image, sortable (e.g. by COVID-19 probability).

:class:`ResultsTableModel` holds light :class:`RowRecord` objects — status, the result without
pixels and a small thumbnail — so a folder of 500 images costs a few megabytes; the selected
image is re-loaded at full resolution on demand. Sorting goes through a
:class:`QtCore.QSortFilterProxyModel` on :data:`SORT_ROLE`, which gives numbers for
probabilities, so "highest COVID-19 first" is one click on a header.

The gate column says "OOD" for a refused image and "caution" for an unusual film that kept its
label; the caution itself is in the details column and the tooltips, so it is never lost when
the worklist is scanned by label.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

if TYPE_CHECKING:
    from desktop_app.core.analysis import ImageResult

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
KEY_ROLE = QtCore.Qt.ItemDataRole.UserRole + 2


class Status(enum.Enum):
    """Where a row is in its life; the value is what the table shows."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"
    CANCELLED = "cancelled"


_STATUS_ORDER = {status: index for index, status in enumerate(Status)}


@dataclass
class RowRecord:
    """One opened image.

    Attributes:
        key: Stable id of the row (row numbers change when sorting).
        path: The file.
        status: Where it is in the queue.
        result: Its result without pixels (``None`` until analysed).
        thumbnail: What the model saw, small (``None`` until analysed or for errors).
    """

    key: int
    path: Path
    status: Status = Status.QUEUED
    result: ImageResult | None = None
    thumbnail: QtGui.QImage | None = None

    @property
    def label_text(self) -> str:
        """The label column: the label, flagged when uncertain or cautioned; nothing for OOD."""
        result = self.result
        if result is None or not result.ok:
            return ""
        if result.out_of_distribution:
            return "not labelled (out of distribution)"
        if result.decision is None:
            return ""
        flags = [word for word, on in (("uncertain", result.decision.uncertain),
                                       ("caution", result.caution is not None)) if on]
        return result.decision.label + (f" ({', '.join(flags)})" if flags else "")

    @property
    def gate_text(self) -> str:
        """The gate column: "OOD" (refused), "caution" (labelled, unusual film) or empty."""
        result = self.result
        if result is None or not result.ok:
            return ""
        if result.out_of_distribution:
            return "OOD"
        return "caution" if result.caution is not None else ""

    @property
    def details(self) -> str:
        """The details column: the error, the OOD reason or the decision's reason."""
        result = self.result
        if result is None:
            return ""
        if not result.ok:
            return result.error or "could not be read"
        if result.out_of_distribution and result.ood is not None:
            return result.ood.reason or "outside what the model was trained on"
        reason = result.decision.reason if result.decision is not None else ""
        if result.caution is not None:
            return f"Caution — {result.caution}. {reason}".rstrip()
        return reason


def gray_qimage(pixels: np.ndarray) -> QtGui.QImage:
    """Wrap an 8-bit grayscale array in a QImage that owns its memory."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = pixels.shape
    image = QtGui.QImage(pixels.data, width, height, width, QtGui.QImage.Format.Format_Grayscale8)
    return image.copy()  # detach from the numpy buffer


class ResultsTableModel(QtCore.QAbstractTableModel):
    """Rows of opened images; columns depend on the model's classes.

    Signals:
        counts_changed(): Row statuses changed (for the status-bar summary).
    """

    counts_changed = QtCore.Signal()

    THUMB, NAME, STATUS, LABEL = range(4)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._records: list[RowRecord] = []
        self._row_of: dict[int, int] = {}
        self._by_path: dict[Path, int] = {}
        self._classes: list[str] = []
        self._next_key = 0

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

    def headers(self) -> list[str]:
        """Column titles."""
        return ["", "Name", "Status", "Label", *(f"P({c})" for c in self._classes),
                "OOD", "Details"]

    # -- records -------------------------------------------------------------------------------

    def add_paths(self, paths: Iterable[Path]) -> tuple[list[int], list[int]]:
        """Append rows for new files.

        Returns:
            Keys of the rows added, and keys of files that were already in the table.
        """
        new: list[Path] = []
        existing: list[int] = []
        for path in paths:
            path = Path(path)
            if path in self._by_path:
                existing.append(self._by_path[path])
            elif path not in new:
                new.append(path)
        if not new:
            return [], existing
        first = len(self._records)
        self.beginInsertRows(QtCore.QModelIndex(), first, first + len(new) - 1)
        keys = []
        for path in new:
            record = RowRecord(self._next_key, path)
            self._next_key += 1
            self._row_of[record.key] = len(self._records)
            self._by_path[path] = record.key
            self._records.append(record)
            keys.append(record.key)
        self.endInsertRows()
        self.counts_changed.emit()
        return keys, existing

    def clear(self) -> None:
        """Remove every row."""
        self.beginResetModel()
        self._records.clear()
        self._row_of.clear()
        self._by_path.clear()
        self.endResetModel()
        self.counts_changed.emit()

    def records(self) -> list[RowRecord]:
        """All rows in insertion order."""
        return list(self._records)

    def record(self, key: int) -> RowRecord:
        """The row with ``key``."""
        return self._records[self._row_of[key]]

    def has_key(self, key: int) -> bool:
        """True if the row is still in the table (it may have been cleared)."""
        return key in self._row_of

    def row_of(self, key: int) -> int:
        """Source row of ``key``."""
        return self._row_of[key]

    def keys_with_status(self, *statuses: Status) -> list[int]:
        """Keys of rows in any of ``statuses``, in insertion order."""
        return [r.key for r in self._records if r.status in statuses]

    def count(self, status: Status) -> int:
        """How many rows have ``status``."""
        return sum(1 for r in self._records if r.status is status)

    def gate_counts(self) -> tuple[int, int]:
        """``(refused, cautioned)``: rows not labelled by the gate, and labelled with a caution.

        The worklist summary shows both: a batch of ward films where many were only just
        accepted should be read with care, not just the refused ones.
        """
        texts = [record.gate_text for record in self._records]
        return texts.count("OOD"), texts.count("caution")

    def set_status(self, keys: Iterable[int], status: Status) -> None:
        """Change the status of several rows."""
        rows = []
        for key in keys:
            row = self._row_of.get(key)
            if row is None:
                continue
            self._records[row].status = status
            rows.append(row)
        if rows:
            self._rows_changed(min(rows), max(rows))
            self.counts_changed.emit()

    def set_result(self, key: int, result: ImageResult,
                   thumbnail: np.ndarray | None = None) -> None:
        """Store a row's result (light: pixels are dropped by the worker)."""
        row = self._row_of.get(key)
        if row is None:
            return
        record = self._records[row]
        record.result = result
        record.status = Status.DONE if result.ok else Status.ERROR
        if thumbnail is not None:
            record.thumbnail = gray_qimage(thumbnail)
        self._rows_changed(row, row)
        self.counts_changed.emit()

    def _rows_changed(self, first: int, last: int) -> None:
        self.dataChanged.emit(self.index(first, 0), self.index(last, self.columnCount() - 1))

    # -- Qt model interface --------------------------------------------------------------------

    def rowCount(self, parent: QtCore.QModelIndex | None = None) -> int:
        """Number of rows (flat table)."""
        if parent is not None and parent.isValid():
            return 0
        return len(self._records)

    def columnCount(self, parent: QtCore.QModelIndex | None = None) -> int:
        """Number of columns."""
        if parent is not None and parent.isValid():
            return 0
        return 6 + len(self._classes)

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
            if section == self.ood_column:
                return ("OOD: the model refused to label this image (not a whole frontal chest "
                        "film); caution: labelled, but an unusual film — read with care")
        return None

    def data(self, index: QtCore.QModelIndex,
             role: int = QtCore.Qt.ItemDataRole.DisplayRole) -> Any:
        """Cell contents for display, sorting, tooltips and colours."""
        if not index.isValid():
            return None
        record = self._records[index.row()]
        column = index.column()
        if role == KEY_ROLE:
            return record.key
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            return self._display(record, column)
        if role == SORT_ROLE:
            return self._sort_value(record, column)
        if role == QtCore.Qt.ItemDataRole.DecorationRole and column == self.THUMB:
            return record.thumbnail
        if role == QtCore.Qt.ItemDataRole.ToolTipRole:
            if column in (self.NAME, self.THUMB):
                return str(record.path)
            if column in (self.LABEL, self.details_column, self.STATUS, self.ood_column):
                return record.details or None
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
        return record.key


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
