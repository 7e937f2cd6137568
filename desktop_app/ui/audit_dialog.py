"""Help › Audit Trail…: the data folder's append-only trail as a table.

What ``python -m desktop_app audit`` prints, newest first: films received and analysed,
results written, sent or failed (with the DICOM status), models and calibrations installed,
switched or rolled back. Read in a pool thread; the dialog only shows what comes back.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from desktop_app.core.audit_trail import AuditEvent
from desktop_app.core.node.worklist_store import WORKLIST_FILE, WorklistStore
from desktop_app.ui.window_menus import make_action
from desktop_app.ui.workers import FunctionWorker

__all__ = ["AuditControl", "AuditDialog", "read_audit"]

_COLUMNS = ("Time", "What", "Outcome", "Film or model", "Detail")


def read_audit(data_dir: Path) -> list[AuditEvent]:
    """The trail, newest first (empty when the folder has no worklist yet)."""
    if not (Path(data_dir) / WORKLIST_FILE).is_file():
        return []
    with WorklistStore.in_folder(data_dir) as store:
        return list(reversed(store.audit_events()))


class AuditDialog(QtWidgets.QDialog):
    """The audit trail in a read-only table."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Audit Trail")
        self.resize(900, 500)
        self.table = QtWidgets.QTableWidget(0, len(_COLUMNS), self)
        self.table.setHorizontalHeaderLabels(_COLUMNS)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.summary = QtWidgets.QLabel("Reading the audit trail…", self)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)

    def show_events(self, events: list[AuditEvent]) -> None:
        """Fill the table."""
        self.table.setRowCount(len(events))
        for row, event in enumerate(events):
            values = (event.time, event.what, event.outcome,
                      event.film_uid or event.model_id or "", event.detail or "")
            for column, value in enumerate(values):
                self.table.setItem(row, column, QtWidgets.QTableWidgetItem(value))
        self.table.resizeColumnsToContents()
        self.summary.setText(f"{len(events)} event(s), newest first")


class AuditControl(QtCore.QObject):
    """Owns *Help › Audit Trail…*."""

    def __init__(self, data_dir: Path, pool: QtCore.QThreadPool,
                 parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self._pool = pool
        self._parent = parent
        self.dialog: AuditDialog | None = None
        self.action = make_action(parent, "Audit &Trail…", self.show, None,
                                  "What LungLens received, answered and sent, and which "
                                  "models it installed")

    def show(self) -> None:
        """Open the dialog (modeless) and read the trail into it."""
        self.dialog = AuditDialog(self._parent)
        worker = FunctionWorker(read_audit, self.data_dir)
        worker.signals.succeeded.connect(self.dialog.show_events)
        self._pool.start(worker)
        self.dialog.show()
