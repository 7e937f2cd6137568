"""The training wizard end to end: real (tiny) training, cancel, close, install failures.

The dataset is generated: 3 classes x 8 patients x 1 PNG in folder-per-class layout; the
model is trained at 32 px for one epoch, so the whole run takes seconds, not minutes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6 import QtCore, QtWidgets

from desktop_app.core.locations import user_data_dir
from desktop_app.core.model.model_store import BUNDLED_ID, ModelStore
from desktop_app.ui.training_tasks import TrainingOutcome, install_model
from desktop_app.ui.training_wizard import Pages, TrainingWizard
from tests.ui.dragdrop import mime_for, send_drop
from tests.ui.images import write_xray

Wizard = QtWidgets.QWizard
TINY = {"input_size": 32, "width": 0.25, "epochs": 1, "batch_size": 4, "seed": 0}
FOLDERS = {"NORMAL": "Normal", "PNEUMONIA": "Pneumonia", "COVID-19": "COVID-19"}


def _image(label: str, seed: int, size: int = 64) -> np.ndarray:
    """A class-dependent pattern (so one epoch learns something) with noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    image = 0.45 + 0.08 * rng.standard_normal((size, size))
    if label == "Pneumonia":
        image += 0.45 * np.exp(-(((x - size * 0.3) / 8) ** 2 + ((y - size * 0.5) / 8) ** 2))
    elif label == "COVID-19":
        image += 0.3 * (np.sin(x / 2.5) > 0)
    else:
        image -= 0.2 * np.exp(-(((x - size * 0.5) / 14) ** 2))
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def make_dataset(root: Path, per_class: int = 8, *, broken: bool = False) -> Path:
    """Folder-per-class dataset, one image per patient; optionally one unreadable file."""
    seed = 0
    for folder, label in FOLDERS.items():
        (root / folder).mkdir(parents=True)
        for index in range(per_class):
            seed += 1
            Image.fromarray(_image(label, seed)).save(root / folder / f"{folder}_{index:02d}.png")
    if broken:
        (root / "NORMAL" / "NORMAL_broken.png").write_bytes(b"not a png at all")
    return root


@pytest.fixture
def store(tiny_bundle: Path) -> ModelStore:
    """The user's store (isolated folder) with the tiny model as the bundled one."""
    return ModelStore(bundled=tiny_bundle)


def _wizard(qtbot, store: ModelStore, *, measure_speed: bool = True,
            **settings: object) -> TrainingWizard:
    wizard = TrainingWizard(store=store, min_images_per_class=2, bootstrap_rounds=5,
                            settings_defaults={**TINY, **settings}, measure_speed=measure_speed)
    qtbot.addWidget(wizard, before_close_func=_stop_tasks)
    wizard.show()
    return wizard


def _stop_tasks(wizard: TrainingWizard) -> None:
    """Teardown: stop anything still running so closing neither asks nor waits long."""
    wizard.context.cancel_all()
    assert wizard.wait_for_tasks(60_000)


def _next_enabled(wizard: TrainingWizard) -> bool:
    return wizard.button(Wizard.WizardButton.NextButton).isEnabled()


def _to_training(qtbot, wizard: TrainingWizard, data: Path, *, acknowledge: bool = False
                 ) -> None:
    """Drive Data -> Check -> Settings -> Training (training starts)."""
    assert not _next_enabled(wizard)
    wizard.data_page.set_source(data)
    qtbot.waitUntil(wizard.data_page.isComplete, timeout=15_000)
    assert _next_enabled(wizard)
    with qtbot.waitSignal(wizard.check_page.check_finished, timeout=30_000):
        wizard.next()
    assert wizard.currentId() == Pages.CHECK
    if acknowledge:
        assert not _next_enabled(wizard), "warnings must be acknowledged first"
        wizard.check_page.acknowledge.setChecked(True)
    assert _next_enabled(wizard)
    wizard.next()
    assert wizard.currentId() == Pages.SETTINGS
    settings = wizard.settings_page
    # The test store's bundled model is a tiny card without training settings.
    assert not settings.fine_tune_check.isEnabled()
    assert "does not record" in settings.fine_tune_check.toolTip()
    with qtbot.waitSignal(wizard.training_page.training_started, timeout=5_000):
        wizard.next()
    assert wizard.currentId() == Pages.TRAINING


def test_wizard_trains_and_installs(qtbot, store: ModelStore, tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "xrays", broken=True)
    wizard = _wizard(qtbot, store)
    wizard.data_page.set_source(data)
    qtbot.waitUntil(wizard.data_page.isComplete, timeout=15_000)
    summary = wizard.data_page.summary
    assert summary.layout.startswith("Folder per class")
    assert summary.per_class == {"Normal": 9, "Pneumonia": 8, "COVID-19": 8}
    with qtbot.waitSignal(wizard.check_page.check_finished, timeout=30_000) as checked:
        wizard.next()
    report = checked.args[0]
    assert report.readable == 24
    assert not report.fatal
    assert any(f.code == "unreadable_file" for f in report.findings)
    assert not _next_enabled(wizard)  # the warning needs the tick
    wizard.check_page.acknowledge.setChecked(True)
    assert _next_enabled(wizard)

    with qtbot.waitSignal(wizard.settings_page.estimate_measured, timeout=60_000):
        wizard.next()
    assert "Estimated training time" in wizard.settings_page.estimate.text()

    page = wizard.training_page
    with qtbot.waitSignal(page.training_stopped, timeout=180_000):
        wizard.next()
    assert page.outcome is not None, page.outcome_label.text()
    assert page.chart.series("val_loss"), "the chart shows the validation loss"
    assert not wizard.button(Wizard.WizardButton.BackButton).isEnabled() or page.isComplete()
    outcome = page.outcome
    assert outcome.run_dir.is_relative_to(user_data_dir() / "runs")
    assert (outcome.bundle_dir / "model.tflite").is_file()
    assert outcome.current is not None, outcome.current_note
    assert outcome.current["n"] == len(outcome.test_paths)

    wizard.next()
    assert wizard.currentId() == Pages.RESULTS
    results = wizard.results_page
    assert results.table.rowCount() >= 4
    assert results.table.item(1, 0).text() == "Accuracy"
    assert results.recommendation.text()
    assert results.figures.count() >= 2  # counts + the report's PNGs

    wizard.next()
    assert wizard.currentId() == Pages.INSTALL
    finish = wizard.button(Wizard.WizardButton.FinishButton)
    assert not finish.isEnabled(), "the name is mandatory"
    qtbot.keyClicks(wizard.install_page.name_edit, "clinic test")
    assert finish.isEnabled()
    with qtbot.waitSignal(wizard.model_installed, timeout=60_000) as installed:
        qtbot.mouseClick(finish, QtCore.Qt.MouseButton.LeftButton)
    assert installed.args[0].key == "clinic-test"
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=5_000)
    active = ModelStore(bundled=store.bundled_path).active()
    assert active.key == "clinic-test"
    assert {e.key for e in store.entries()} == {BUNDLED_ID, "clinic-test"}

    # The installed model can be fine-tuned: Settings offers it and keeps its architecture.
    again = _wizard(qtbot, store, measure_speed=False)
    again.data_page.set_source(data)
    qtbot.waitUntil(again.data_page.isComplete, timeout=15_000)
    with qtbot.waitSignal(again.check_page.check_finished, timeout=30_000):
        again.next()
    again.check_page.acknowledge.setChecked(True)
    again.next()
    settings = again.settings_page
    assert settings.fine_tune_check.isEnabled(), settings.fine_tune_check.toolTip()
    settings.fine_tune_check.setChecked(True)
    config = settings.config()
    assert config.initial_model == str(store.active().bundle.keras_path)
    assert (config.arch, config.input_size, config.width) == ("compact", 32, 0.25)
    assert not settings.arch_combo.isEnabled()
    store.rollback()
    assert store.active().key == BUNDLED_ID  # the previous model stayed available


def test_cancel_and_close_during_training(qtbot, store: ModelStore, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_dataset(tmp_path / "xrays")
    wizard = _wizard(qtbot, store, epochs=50, measure_speed=False)
    _to_training(qtbot, wizard, data)
    page = wizard.training_page
    qtbot.waitUntil(lambda: bool(page.chart.series("loss")) and bool(page.eta.text()),
                    timeout=120_000)
    assert page.running
    assert not wizard.button(Wizard.WizardButton.BackButton).isEnabled()
    with qtbot.waitSignals([page.training_cancelled, page.training_stopped], timeout=30_000):
        qtbot.mouseClick(page.cancel_button, QtCore.Qt.MouseButton.LeftButton)
    assert not page.running
    assert page.eta.text() == "", "no time remaining for a cancelled run"
    assert re.fullmatch(r"Training was cancelled (before the first epoch finished|after 1 "
                        r"complete epoch|after \d+ complete epochs)\. Nothing was installed\.",
                        page.outcome_label.text())
    log = page.log.toPlainText()
    assert "{" not in log
    assert re.search(r"^\S+ +epochs: 50$", log, re.MULTILINE), log[:400]
    assert not page.isComplete()
    assert not _next_enabled(wizard)
    assert page.retry_button.isVisible()
    assert [e.key for e in store.entries()] == [BUNDLED_ID]
    assert not list((user_data_dir() / "runs").glob("*/bundle"))

    # Train again, then close the wizard: it asks, cancels, and closes once stopped.
    asked: list[str] = []

    def answer(*args: object, **_kwargs: object) -> QtWidgets.QMessageBox.StandardButton:
        asked.append(str(args[1]))
        return QtWidgets.QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QtWidgets.QMessageBox, "question", answer)
    qtbot.mouseClick(page.retry_button, QtCore.Qt.MouseButton.LeftButton)
    # As long as the first run: the new run builds and traces its model and input pipeline.
    qtbot.waitUntil(lambda: page.running and bool(page.chart.series("loss")), timeout=120_000)
    wizard.close()
    assert asked == ["Stop training?"]
    assert wizard.isVisible(), "stays open until the worker has stopped"
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=30_000)
    assert not page.running
    assert wizard.wait_for_tasks(10_000)
    assert [e.key for e in store.entries()] == [BUNDLED_ID]


def test_failed_install_keeps_previous_model(qtbot, tiny_bundle: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    images = [str(write_xray(tmp_path / f"held_out_{i}.png", seed=i)) for i in range(3)]
    install_model(ModelStore(), tiny_bundle, "first", images)
    assert ModelStore().active().key == "first"

    # A crash while copying (the 2nd file): nothing is installed, nothing is left behind.
    import shutil

    real_copy = shutil.copy2
    calls = {"n": 0}

    def flaky_copy(source: object, target: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full (simulated)")
        return real_copy(source, target)

    monkeypatch.setattr(shutil, "copy2", flaky_copy)
    with pytest.raises(OSError, match="simulated"):
        install_model(ModelStore(), tiny_bundle, "second", images)
    monkeypatch.setattr(shutil, "copy2", real_copy)
    assert ModelStore().active().key == "first"
    assert not list(ModelStore().root.glob(".staging-*"))
    assert "second" not in {e.key for e in ModelStore(bundled=tiny_bundle).entries()}

    # The self-test fails inside the Install page (held-out files are unreadable).
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"junk")
    wizard = TrainingWizard(store=ModelStore(bundled=tiny_bundle))
    qtbot.addWidget(wizard, before_close_func=_stop_tasks)
    wizard.context.outcome = TrainingOutcome(run_dir=tmp_path, bundle_dir=tiny_bundle,
                                             report_dir=tmp_path, report={},
                                             test_paths=[str(junk)])
    wizard.setStartId(Pages.INSTALL)
    wizard.show()
    wizard.restart()
    qtbot.keyClicks(wizard.install_page.name_edit, "broken")
    with qtbot.waitSignal(wizard.install_page.install_failed, timeout=30_000) as failed:
        qtbot.mouseClick(wizard.button(Wizard.WizardButton.FinishButton),
                         QtCore.Qt.MouseButton.LeftButton)
    assert "self-test failed" in failed.args[0]
    assert "not installed" in wizard.install_page.status.text()
    assert wizard.isVisible()
    assert ModelStore().active().key == "first"
    assert "broken" not in {e.key for e in ModelStore(bundled=tiny_bundle).entries()}


def test_drop_a_folder_on_the_data_page(qtbot, store: ModelStore, tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "dropped", per_class=2)
    wizard = _wizard(qtbot, store)
    page = wizard.data_page
    assert send_drop(page, mime_for([data]))
    assert page.path_edit.text() == str(data)
    qtbot.waitUntil(page.isComplete, timeout=15_000)
    assert _next_enabled(wizard)
    # An unreadable source disables Next again and says why.
    with qtbot.waitSignal(page.source_failed, timeout=15_000):
        page.set_source(tmp_path / "does-not-exist")
    assert not _next_enabled(wizard)
    assert "cannot be used" in page.status.text()


def test_classify_only_build_says_training_needs_full_build(
        qtbot, store: ModelStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop_app.core import capabilities

    monkeypatch.setattr(capabilities, "training_unavailable_reason",
                        lambda: capabilities.FULL_BUILD_HINT)
    # The classify-only build has no model_training: the wizard must still open.
    for name in ("model_training.config", "model_training.datasets"):
        monkeypatch.setitem(sys.modules, name, None)
    wizard = TrainingWizard(store=store)
    qtbot.addWidget(wizard)
    wizard.show()
    page = wizard.data_page
    assert page.unavailable_label.isVisible()
    assert "full LungLens build" in page.unavailable_label.text()
    assert not page.path_edit.isEnabled()
    assert not _next_enabled(wizard)


def test_opening_the_wizard_does_not_import_tensorflow() -> None:
    code = (
        "import sys\n"
        "from PySide6 import QtWidgets\n"
        "app = QtWidgets.QApplication([])\n"
        "from desktop_app.ui.training_wizard import TrainingWizard\n"
        "from desktop_app.ui.models_dialog import ModelsDialog\n"
        "wizard = TrainingWizard(); wizard.show(); app.processEvents()\n"
        "heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60,
                   cwd=Path(__file__).resolve().parents[2])
