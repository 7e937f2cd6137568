"""Training › Models…: list, switch, roll back, delete (never the bundled one), damage."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6 import QtCore, QtWidgets

from desktop_app.core.model.model_store import BUNDLED_ID, ModelStore
from desktop_app.ui.models_dialog import ModelsDialog, open_model_manager
from desktop_app.ui.training_tasks import install_model
from tests.ui.images import write_xray


@pytest.fixture
def store(tiny_bundle: Path, tmp_path: Path) -> ModelStore:
    """A store with the tiny model bundled and installed twice (alpha, then beta: active)."""
    images = [str(write_xray(tmp_path / f"held_out_{i}.png", seed=i)) for i in range(2)]
    store = ModelStore(bundled=tiny_bundle)
    install_model(store, tiny_bundle, "alpha", images)
    install_model(store, tiny_bundle, "beta", images)
    return store


def _keys(dialog: ModelsDialog) -> list[str]:
    return [entry.key for entry in dialog.entries]


def _click(button: QtWidgets.QPushButton, qtbot) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, QtCore.Qt.MouseButton.LeftButton)


def test_install_switch_rollback_delete(qtbot, store: ModelStore,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    dialog = ModelsDialog(store=store)
    qtbot.addWidget(dialog)
    dialog.show()
    assert _keys(dialog) == [BUNDLED_ID, "alpha", "beta"]
    assert dialog.selected().key == "beta"
    assert dialog.selected().active
    assert dialog.table.item(2, 5).text() == "Active"
    assert not dialog.activate_button.isEnabled()  # already active
    assert "Created" in dialog.details.toPlainText()

    # Switch to the bundled model.
    dialog.select_key(BUNDLED_ID)
    assert not dialog.delete_button.isEnabled(), "the bundled model cannot be deleted"
    assert not dialog.delete_selected(confirm=False)
    with qtbot.waitSignal(dialog.active_model_changed) as changed:
        _click(dialog.activate_button, qtbot)
    assert changed.args == [BUNDLED_ID]
    assert store.active().key == BUNDLED_ID

    # Roll back to beta.
    with qtbot.waitSignal(dialog.active_model_changed) as changed:
        _click(dialog.rollback_button, qtbot)
    assert changed.args == ["beta"]
    assert store.active().key == "beta"

    # Delete alpha: asked first; "No" keeps it, "Yes" deletes it.
    answers = [QtWidgets.QMessageBox.StandardButton.No, QtWidgets.QMessageBox.StandardButton.Yes]
    asked: list[str] = []

    def question(*args: object, **_kwargs: object) -> QtWidgets.QMessageBox.StandardButton:
        asked.append(str(args[2]))
        return answers.pop(0)

    monkeypatch.setattr(QtWidgets.QMessageBox, "question", question)
    dialog.select_key("alpha")
    _click(dialog.delete_button, qtbot)
    assert "alpha" in _keys(dialog)
    _click(dialog.delete_button, qtbot)
    assert len(asked) == 2
    assert "alpha" in asked[0]
    assert _keys(dialog) == [BUNDLED_ID, "beta"]
    assert store.active().key == "beta"


def test_damaged_model_is_shown_and_cannot_be_used(qtbot, store: ModelStore) -> None:
    (store.root / "alpha" / "model.tflite").write_bytes(b"truncated")
    dialog = ModelsDialog(store=store)
    qtbot.addWidget(dialog)
    dialog.select_key("alpha")
    assert dialog.table.item(1, 5).text().startswith("Damaged:")
    assert "cannot be used" in dialog.details.toPlainText()
    assert not dialog.activate_button.isEnabled()
    assert dialog.delete_button.isEnabled()  # a damaged model can still be removed
    assert not dialog.activate_selected()
    assert store.active().key == "beta"


def test_rollback_without_previous_says_why(qtbot, tiny_bundle: Path) -> None:
    dialog = ModelsDialog(store=ModelStore(bundled=tiny_bundle))
    qtbot.addWidget(dialog)
    assert not dialog.rollback_button.isEnabled()
    assert "no previous model" in dialog.rollback_button.toolTip()
    assert not dialog.rollback()
    assert "no previous model" in dialog.status.text()


def test_main_window_menu_opens_dialog_and_reloads_model(qtbot, make_window,
                                                         store: ModelStore) -> None:
    window = make_window()
    window.dialogs.models_action.trigger()
    dialogs = window.findChildren(ModelsDialog)
    assert len(dialogs) == 1
    assert dialogs[0].isVisible()
    dialogs[0].close()
    dialog = open_model_manager(window, window.models.load)
    dialog.store = store
    dialog.refresh()
    dialog.select_key(BUNDLED_ID)
    with qtbot.waitSignal(window.model_loaded, timeout=30_000):
        dialog.activate_selected()
