"""Training › Models…: the installed models, their cards, and switch / roll back / delete.

Everything is done by :class:`~desktop_app.core.model.model_store.ModelStore` (which verifies a
model before switching to it and never deletes the bundled one); this dialog shows its
entries and asks before deleting. The main window reloads its model when
:attr:`ModelsDialog.active_model_changed` fires.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6 import QtCore, QtWidgets

from desktop_app.core.errors import LungLensError
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.model.model_store import ModelEntry, ModelStore
from desktop_app.ui.modeless import show_reloading_on

__all__ = ["ModelsDialog", "metrics_summary", "open_model_manager"]

_COLUMNS = ("Name", "Model id", "Created", "Test accuracy", "Macro AUROC", "Status")


def metrics_summary(metrics: dict[str, Any]) -> tuple[str, str]:
    """(accuracy, macro AUROC) of the card's test metrics as text (``—`` when absent)."""
    overall = (metrics.get("test") or {}).get("overall") or {}

    def fmt(value: Any) -> str:
        return f"{value:.3f}" if isinstance(value, int | float) else "—"

    return fmt(overall.get("accuracy")), fmt(overall.get("macro_auroc"))


class ModelsDialog(QtWidgets.QDialog):
    """Lists the models with their cards; switch, roll back, delete.

    Signals:
        active_model_changed(str): The store's active model changed (its key).
    """

    active_model_changed = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None, *,
                 store: ModelStore | None = None) -> None:
        super().__init__(parent)
        self.store = store or ModelStore()
        self._entries: list[ModelEntry] = []
        self.setWindowTitle("Models")
        self.setAccessibleName("Installed models")
        self.resize(980, 540)

        self.table = QtWidgets.QTableWidget(0, len(_COLUMNS))
        self.table.setHorizontalHeaderLabels(_COLUMNS)
        self.table.setAccessibleName("Models")
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.details = QtWidgets.QTextBrowser()
        self.details.setAccessibleName("Model card summary")
        self.status = QtWidgets.QLabel()
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Models status")

        self.activate_button = QtWidgets.QPushButton("&Use This Model")
        self.activate_button.setAccessibleName("Use the selected model")
        self.rollback_button = QtWidgets.QPushButton("&Roll Back")
        self.rollback_button.setAccessibleName("Switch back to the previous model")
        self.delete_button = QtWidgets.QPushButton("&Delete…")
        self.delete_button.setAccessibleName("Delete the selected model")
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        for button in (self.activate_button, self.rollback_button, self.delete_button):
            buttons.addButton(button, QtWidgets.QDialogButtonBox.ButtonRole.ActionRole)

        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.refresh()

        self.table.itemSelectionChanged.connect(self._on_table_item_selection_changed)
        self.activate_button.clicked.connect(self._on_activate_button_clicked)
        self.rollback_button.clicked.connect(self._on_rollback_button_clicked)
        self.delete_button.clicked.connect(self._on_delete_button_clicked)
        buttons.rejected.connect(self.reject)

    # -- data ---------------------------------------------------------------------------------

    @property
    def entries(self) -> list[ModelEntry]:
        """The models listed (bundled first)."""
        return list(self._entries)

    def selected(self) -> ModelEntry | None:
        """The selected model, or None."""
        row = self.table.currentRow()
        return self._entries[row] if 0 <= row < len(self._entries) else None

    def select_key(self, key: str) -> None:
        """Select the row of store key ``key``."""
        for row, entry in enumerate(self._entries):
            if entry.key == key:
                self.table.selectRow(row)
                return

    def refresh(self) -> None:
        """Re-read the store (verifies every bundle) and redraw."""
        selected = self.selected()
        self._entries = self.store.entries()
        self.table.setRowCount(len(self._entries))
        for row, entry in enumerate(self._entries):
            card = self._card(entry)
            accuracy, auroc = metrics_summary(card.metrics) if card else ("—", "—")
            if entry.problem:
                status = f"Damaged: {entry.problem}"
            elif entry.active:
                status = "Active"
            else:
                status = "Bundled" if entry.bundled else ""
            name = "Bundled model" if entry.bundled else entry.key
            created = card.created.replace("T", " ").replace("+00:00", " UTC") if card else "—"
            cells = (name, entry.model_id, created, accuracy, auroc, status)
            for column, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                if entry.active:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                item.setToolTip(str(entry.path) if column < 2 else text)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self.select_key(selected.key if selected else next(
            (e.key for e in self._entries if e.active), self._entries[0].key))
        self._update_buttons()

    @staticmethod
    def _card(entry: ModelEntry) -> Any:
        if entry.problem:
            return None
        try:  # entries() verified the hashes a moment ago
            return load_bundle(entry.path, verify_hashes=False).card
        except LungLensError:
            return None

    def _update_buttons(self) -> None:
        entry = self.selected()
        usable = entry is not None and entry.problem is None
        self.activate_button.setEnabled(usable and not entry.active)
        self.delete_button.setEnabled(entry is not None and not entry.bundled)
        self.delete_button.setToolTip("The bundled model cannot be deleted" if entry is not None
                                      and entry.bundled else "")
        previous = self.store.previous()
        self.rollback_button.setEnabled(previous is not None)
        self.rollback_button.setToolTip(
            f"Switch back to {previous!r}, the model used before the last switch" if previous
            else "There is no previous model to go back to")
        self._show_details(entry)

    def _show_details(self, entry: ModelEntry | None) -> None:
        if entry is None:
            self.details.clear()
            return
        card = self._card(entry)
        if card is None:
            self.details.setHtml(f"<h3>{html.escape(entry.key)}</h3><p style='color:#b00020'>"
                                 f"This model cannot be used: {html.escape(entry.problem or '')}"
                                 "</p>")
            return
        accuracy, auroc = metrics_summary(card.metrics)
        counts = (card.training_data.get("counts") or {}).get("train", {})
        self.details.setHtml(
            f"<h3>{html.escape(card.model_id)}</h3>"
            f"<p>Created {html.escape(card.created)} · {html.escape(card.architecture)} · "
            f"task {html.escape(card.task)} · classes {html.escape(', '.join(card.classes))}"
            f" · input {card.preprocessing.input_size} px</p>"
            f"<p>Test accuracy {accuracy}, macro AUROC {auroc}; "
            f"trained on {counts.get('images', '—')} images.</p>"
            f"<p>{html.escape(str(card.training_data.get('description', '')))}</p>"
            f"<p style='color:gray'>{html.escape(str(entry.path))}</p>")

    # -- actions --------------------------------------------------------------------------------

    def activate_selected(self) -> bool:
        """Make the selected model active (the store verifies it first)."""
        entry = self.selected()
        if entry is None:
            return False
        return self._change(lambda: self.store.activate(entry.key),
                            f"Now using “{entry.model_id}”.")

    def rollback(self) -> bool:
        """Switch back to the previous model."""
        return self._change(self.store.rollback, "Switched back to the previous model.")

    def delete_selected(self, *, confirm: bool = True) -> bool:
        """Delete the selected installed model after asking (never the bundled one)."""
        entry = self.selected()
        if entry is None or entry.bundled:
            return False
        if confirm:
            answer = QtWidgets.QMessageBox.question(
                self, "Delete model?",
                f"Delete the model “{entry.key}” ({entry.model_id})? This cannot be undone."
                + (" It is the active model; the previous one will be used instead."
                   if entry.active else ""),
                QtWidgets.QMessageBox.StandardButton.Yes
                | QtWidgets.QMessageBox.StandardButton.No,
                QtWidgets.QMessageBox.StandardButton.No)
            if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                return False
        return self._change(lambda: self.store.delete(entry.key), f"Deleted “{entry.key}”.")

    def _active_key(self) -> str | None:
        return next((e.key for e in self._entries if e.active), None)

    def _change(self, action: Any, success: str) -> bool:
        before = self._active_key()
        try:
            action()
        except LungLensError as error:
            self.status.setStyleSheet("color: #b00020;")
            self.status.setText(str(error))
            self.refresh()
            return False
        self.status.setStyleSheet("")
        self.status.setText(success)
        self.refresh()
        after = self._active_key()
        if after != before:
            self.active_model_changed.emit(str(after))
        return True

    # -- slots ----------------------------------------------------------------------------------

    def _on_table_item_selection_changed(self) -> None:
        self._update_buttons()

    def _on_activate_button_clicked(self) -> None:
        self.activate_selected()

    def _on_rollback_button_clicked(self) -> None:
        self.rollback()

    def _on_delete_button_clicked(self) -> None:
        self.delete_selected()


def open_model_manager(parent: QtWidgets.QWidget,
                       reload_model: Callable[[], None] | None = None) -> ModelsDialog:
    """Training › Models… (hook called by the main window's dialogs); reloads on a switch."""
    dialog = ModelsDialog(parent)
    show_reloading_on(dialog, dialog.active_model_changed, reload_model)
    return dialog
