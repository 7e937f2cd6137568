"""Exports (CSV, PDF), the model card, settings, hooks, startup order and the entry point."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.ui.banner import BannerLevel
from desktop_app.ui.results_table import Status
from desktop_app.ui.settings import Settings
from tests.ui.images import write_colour_noise, write_xray

REPO_ROOT = Path(__file__).resolve().parents[2]


def _open_and_wait(qtbot, window, paths: list[Path]) -> None:
    window.opening.open_paths(paths)

    def finished() -> None:
        assert window.table_model.rowCount() == len(paths)
        assert not window.table_model.keys_with_status(Status.QUEUED, Status.RUNNING)
        assert not window.batch.running

    qtbot.waitUntil(finished, timeout=30_000)


@pytest.fixture
def mixed_inputs(tmp_path: Path) -> list[Path]:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    return [write_xray(tmp_path / "x1.png", 1), write_xray(tmp_path / "x2.png", 2),
            write_colour_noise(tmp_path / "noise.png"), broken]


def test_csv_export_matches_the_table(qtbot, make_window, mixed_inputs, tmp_path: Path) -> None:
    window = make_window()
    _open_and_wait(qtbot, window, mixed_inputs)
    out = tmp_path / "worklist.csv"
    assert window.exports.export_csv(out) == 4
    with out.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [r["name"] for r in rows] == ["x1.png", "x2.png", "noise.png", "broken.png"]
    classes = window.table_model.classes
    assert set(classes) == {"Normal", "Pneumonia", "COVID-19"}
    for row in rows[:2]:
        assert row["status"] == "done"
        assert row["label"] in classes
        assert row["out_of_distribution"] == "no"
        assert sum(float(row[f"p_{c}"]) for c in classes) == pytest.approx(1.0, abs=1e-3)
        assert row["model_id"] == "tiny-test-model-0"
    noise = rows[2]
    assert noise["out_of_distribution"] == "yes"
    assert noise["label"] == ""
    assert all(noise[f"p_{c}"] == "" for c in classes)
    assert "colour" in noise["ood_reason"]
    assert noise["error"] == noise["decision_reason"] == ""
    broken = rows[3]
    assert broken["status"] == "error"
    assert broken["error"]
    assert broken["ood_reason"] == ""


def test_pdf_report_has_one_page_per_image(qtbot, make_window, mixed_inputs,
                                           tmp_path: Path) -> None:
    window = make_window()
    _open_and_wait(qtbot, window, mixed_inputs)
    out = tmp_path / "report.pdf"
    with qtbot.waitSignal(window.exports.finished, timeout=60_000) as blocker:
        assert window.exports.export_pdf(out)
    assert blocker.args == [str(out)]
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page(?![s\w])", data)) == 4
    assert not list(tmp_path.glob(".*.part"))


def test_pdf_export_can_be_cancelled_and_leaves_no_file(qtbot, make_window,
                                                        tmp_path: Path) -> None:
    window = make_window()
    paths = [write_xray(tmp_path / f"p{i}.png", i, size=(96, 112)) for i in range(30)]
    _open_and_wait(qtbot, window, paths)
    out = tmp_path / "cancelled.pdf"
    with qtbot.waitSignal(window.exports.failed, timeout=60_000) as blocker:
        assert window.exports.export_pdf(out)
        window.cancel.action.trigger()
    assert blocker.args == ["cancelled"]
    assert not out.exists()


def test_window_shows_before_the_model_is_loaded(qtbot, make_window) -> None:
    window = make_window(wait_model=False)
    # The load runs in a worker; its result cannot arrive before the event loop runs.
    assert window.isVisible()
    assert window.active_model is None
    assert window.model_status.text() == "Loading model…"
    with qtbot.waitSignal(window.model_loaded, timeout=30_000):
        pass
    assert window.model_status.text().startswith("Model: tiny-test-model")


def test_model_load_failure_is_a_banner_not_a_crash(qtbot, make_window,
                                                    tmp_path: Path) -> None:
    window = make_window(model_dir=tmp_path / "no-such-model", wait_model=False)
    with qtbot.waitSignal(window.model_failed, timeout=30_000):
        pass
    assert window.banner.isVisibleTo(window)
    assert window.banner.level is BannerLevel.ERROR
    assert "no-such-model" in window.banner.label.text()
    with qtbot.waitSignal(window.opening.files_added, timeout=10_000):
        window.opening.open_paths([write_xray(tmp_path / "waiting.png")])
    assert window.table_model.records()[0].status is Status.QUEUED
    assert not window.exports.pdf_action.isEnabled()


def test_fallback_warning_is_shown(qtbot, make_window, monkeypatch: pytest.MonkeyPatch,
                                   tiny_bundle: Path) -> None:
    from desktop_app.core.model.model_bundle import load_bundle
    from desktop_app.core.model.model_store import ActiveModel
    from desktop_app.ui import model_loading

    warning = "model 'mine' could not be loaded (hash mismatch); using 'tiny' instead"
    monkeypatch.setattr(model_loading, "load_active_model",
                        lambda _dir: ActiveModel("bundled", load_bundle(tiny_bundle), warning))
    window = make_window(model_dir=None)
    assert window.banner.level is BannerLevel.WARNING
    assert "hash mismatch" in window.banner.label.text()


def test_settings_persist_between_sessions(qtbot, make_window, isolated_settings: Path) -> None:
    window = make_window(wait_model=False)
    window.viewer.opacity_slider.setValue(63)
    window.viewer.set_heatmap_visible(True)
    window.settings.add_recent_files(["/data/a.png", "/data/b.png"])
    window.resize(1111, 777)
    window.close()
    assert Path(Settings().file_name).is_relative_to(isolated_settings)
    again = make_window(wait_model=False)
    assert again.viewer.opacity_slider.value() == 63
    assert again.viewer.heatmap_action.isChecked()
    assert again.settings.recent_files()[:2] == ["/data/a.png", "/data/b.png"]
    # Offscreen screens are 800x600, so Qt clamps the restored size; check it was stored.
    assert again.settings.geometry() is not None
    assert len(again.settings.splitter_states()) == 2


def test_minimum_size_and_accessible_names(qtbot, make_window) -> None:
    window = make_window(wait_model=False)
    assert window.minimumSize().width() >= 900
    assert window.minimumSize().height() >= 560
    for widget in (window.table, window.viewer.view, window.viewer.opacity_slider,
                   window.viewer.class_combo, window.cancel.button, window.batch.progress_bar):
        assert widget.accessibleName()


def _run_app(code: str, env_extra: dict[str, str],
             timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **env_extra}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_classifying_in_the_app_never_imports_tensorflow(tiny_bundle: Path,
                                                          tmp_path: Path) -> None:
    # A fresh process: this test process already imported TensorFlow to build the tiny model.
    image = write_xray(tmp_path / "tf.png")
    code = (
        "import sys\n"
        "from PySide6 import QtCore\n"
        "from desktop_app.ui.application import create_application\n"
        "app = create_application()\n"
        "from desktop_app.ui.main_window import MainWindow\n"
        f"w = MainWindow(model_dir={str(tiny_bundle)!r}); w.show()\n"
        "w.image_shown.connect(lambda key: app.quit())\n"
        f"w.opening.open_paths([{str(image)!r}])\n"
        "QtCore.QTimer.singleShot(60000, app.quit)\n"
        "app.exec()\n"
        "record = w.table_model.records()[0]\n"
        "print('LABEL', record.result.label if record.result else None)\n"
        "print('TF', 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
        "w.close()\n"
    )
    result = _run_app(code, {"LUNGLENS_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 0, result.stderr
    assert "TF False False" in result.stdout, result.stdout + result.stderr
    assert "LABEL None" not in result.stdout


def test_startup_probe_through_the_entry_point(tiny_bundle: Path, tmp_path: Path) -> None:
    image = write_xray(tmp_path / "probe.png")
    code = ("import sys\nfrom desktop_app.__main__ import main\n"
            f"sys.exit(main(['--model', {str(tiny_bundle)!r}, {str(image)!r}]))\n")
    result = _run_app(code, {"LUNGLENS_STARTUP_PROBE": "1",
                             "LUNGLENS_DATA_DIR": str(tmp_path / "data"),
                             "XDG_CONFIG_HOME": str(tmp_path / "config")})
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stderr.splitlines() if x.startswith("LUNGLENS_STARTUP"))
    fields = dict(item.split("=") for item in line.split()[1:])
    assert {"window_shown", "model_loaded", "first_result"} <= set(fields)
    assert float(fields["window_shown"]) <= float(fields["first_result"])


def test_a_new_model_reclassifies_the_worklist(qtbot, make_window, tiny_bundle: Path,
                                               tmp_path: Path) -> None:
    import json
    import shutil

    window = make_window()
    _open_and_wait(qtbot, window, [write_xray(tmp_path / f"r{i}.png", i) for i in range(3)])
    # Another bundle with the same weights under another id (the card is not hashed).
    other = tmp_path / "other-model"
    shutil.copytree(tiny_bundle, other)
    card = json.loads((other / "model_card.json").read_text(encoding="utf-8"))
    card["model_id"] = "tiny-retrained"
    (other / "model_card.json").write_text(json.dumps(card), encoding="utf-8")
    window.models.model_dir = other
    with qtbot.waitSignal(window.model_loaded, timeout=30_000):
        window.models.load()

    def reclassified() -> None:
        records = window.table_model.records()
        assert all(r.status is Status.DONE for r in records)
        assert {r.result.model_id for r in records} == {"tiny-retrained"}

    qtbot.waitUntil(reclassified, timeout=30_000)
    assert "tiny-retrained" in window.banner.label.text()


def test_csv_cells_cannot_become_spreadsheet_formulas(tmp_path: Path) -> None:
    from desktop_app.ui.exporters import write_csv
    from desktop_app.ui.results_table import RowRecord

    record = RowRecord(0, tmp_path / "=HYPERLINK(evil).png")
    out = tmp_path / "safe.csv"
    write_csv(out, [record], ["Normal"], "m")
    with out.open(encoding="utf-8-sig", newline="") as stream:
        row = next(csv.DictReader(stream))
    assert row["name"] == "'=HYPERLINK(evil).png"
    assert row["status"] == "queued"


def test_opening_the_window_does_not_import_the_classify_path(tmp_path: Path) -> None:
    # Start-up: the window must not wait for Pillow, pydicom or LiteRT; workers import them.
    code = (
        "import sys\n"
        "from desktop_app.ui.application import create_application\n"
        "app = create_application()\n"
        "from desktop_app.ui.main_window import MainWindow\n"
        "heavy = ('desktop_app.core.classify.analysis', 'desktop_app.core.imaging', 'pydicom',\n"
        "         'ai_edge_litert', 'PIL', 'reportlab', 'tensorflow')\n"
        "print('LOADED', [m for m in heavy if m in sys.modules])\n"
    )
    result = _run_app(code, {"LUNGLENS_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout, result.stdout


def test_both_csv_files_name_the_shared_columns_alike() -> None:
    """The worklist export and the validation CSV: one name per column (``ood_reason``...)."""
    from desktop_app.core.validation.validation import ValidationResult, image_rows
    from desktop_app.ui.exporters import csv_rows

    classes = ["Normal", "Pneumonia", "COVID-19"]
    worklist = csv_rows([], classes, "m")[0]
    validation = image_rows(ValidationResult("m", "", "", {}, classes, [], {}))[0]
    shared = {"path", "uncertain", "out_of_distribution", "ood_reason", "caution", "error",
              "age_group", "model_id", *(f"p_{name}" for name in classes)}
    assert shared <= set(worklist)
    assert shared <= set(validation)
    assert "reason" not in worklist
