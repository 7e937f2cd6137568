"""Help › Audit Trail…: the trail in a table, read off the UI thread."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from desktop_app.core.node.worklist_store import WorklistStore
from desktop_app.ui.audit_dialog import AuditControl


def test_audit_dialog_shows_the_trail_newest_first(qtbot, tmp_path: Path) -> None:
    with WorklistStore.in_folder(tmp_path) as store:
        store.add_film("1.2.3", origin="dicom", stored_file=tmp_path / "f.dcm", sha256="0",
                       calling_ae="XRAYROOM")
        store.record_result("1.2.3", {"ok": True, "label": "Normal", "model": "m1"})
    parent = QtWidgets.QWidget()
    qtbot.addWidget(parent)
    pool = QtCore.QThreadPool(parent)
    control = AuditControl(tmp_path, pool, parent)
    assert control.action.text() == "Audit &Trail…"
    control.action.trigger()
    dialog = control.dialog
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 2, timeout=10_000)
    assert [dialog.table.item(row, 1).text() for row in range(2)] == ["analysed", "received"]
    assert dialog.table.item(0, 2).text() == "Normal"
    assert dialog.table.item(1, 3).text() == "1.2.3"
    assert dialog.summary.text() == "2 event(s), newest first"
    pool.waitForDone(10_000)
