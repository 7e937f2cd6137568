"""The worklist, the viewer and the result panel: selection, errors, OOD, sorting, cancel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app.core.preprocessing import to_uint8
from desktop_app.ui.image_view import ViewMode
from desktop_app.ui.results_table import ResultsTableModel, Status
from tests.ui.images import write_colour_noise, write_xray


@pytest.fixture(autouse=True)
def no_modal_dialogs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail loudly if anything pops up a message box during a batch."""
    shown: list[str] = []

    def refuse(*args, **kwargs):
        shown.append(str(args[1:3]))
        raise AssertionError(f"unexpected modal dialog: {args[1:3]}")

    for name in ("information", "warning", "critical", "question"):
        monkeypatch.setattr(QtWidgets.QMessageBox, name, refuse)
    return shown


def _open_and_wait(qtbot, window, paths: list[Path]) -> None:
    window.opening.open_paths(paths)

    def finished() -> None:
        model = window.table_model
        assert model.rowCount() >= len(paths)
        assert not model.keys_with_status(Status.QUEUED, Status.RUNNING)
        assert not window.batch.running

    qtbot.waitUntil(finished, timeout=30_000)


def _select(qtbot, window, key: int) -> None:
    window.table.setCurrentIndex(QtCore.QModelIndex())  # so re-selecting the row shows it again
    with qtbot.waitSignal(window.image_shown, timeout=30_000,
                          check_params_cb=lambda shown: shown == key):
        window.table.select_key(key)


def test_selecting_a_row_shows_the_image_and_exactly_what_the_model_saw(
    qtbot, make_window, tmp_path: Path
) -> None:
    window = make_window()
    paths = [write_xray(tmp_path / f"x{i}.png", i) for i in range(3)]
    _open_and_wait(qtbot, window, paths)
    key = window.table_model.records()[1].key
    _select(qtbot, window, key)
    result = window.viewer.result
    assert result is not None
    assert result.path == paths[1]
    assert result.loaded is not None
    # Original: full resolution.
    pixmap = window.viewer.view._base.pixmap()
    assert (pixmap.width(), pixmap.height()) == (320, 384)
    # Model input: the preprocessed array itself, pixel for pixel.
    window.viewer.model_input_action.trigger()
    assert window.viewer.mode is ViewMode.MODEL_INPUT
    image = window.viewer.view._base.pixmap().toImage().convertToFormat(
        QtGui.QImage.Format.Format_Grayscale8
    )
    size = result.prepared.array.shape[0]
    assert (image.width(), image.height()) == (size, size)
    shown = np.array([[QtGui.qGray(image.pixel(x, y)) for x in range(size)] for y in range(size)])
    np.testing.assert_array_equal(shown, to_uint8(result.prepared.array))
    # The panel shows the same result with a bar per class.
    assert window.panel.result is result
    for name, value in result.probabilities.items():
        assert window.panel.bar_value(name) == pytest.approx(value, abs=1e-3)
    assert window.panel.decision_label.text() == result.decision.label
    assert window.panel.uncertain_label.isVisibleTo(window.panel) == result.decision.uncertain


def test_heat_map_toggle_and_opacity(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    _open_and_wait(qtbot, window, [write_xray(tmp_path / "h.png")])
    _select(qtbot, window, window.table_model.records()[0].key)
    viewer = window.viewer
    viewer.set_heatmap_visible(False)
    assert not viewer.view.overlay_visible()
    viewer.heatmap_action.trigger()
    assert viewer.view.overlay_visible()
    assert viewer.heatmap_action.shortcut() == QtGui.QKeySequence("H")
    viewer.opacity_slider.setValue(70)
    assert viewer.view.overlay_opacity() == pytest.approx(0.7)
    assert window.settings.overlay_opacity() == 70
    # Another class's CAM, and the model-input view, both get their own overlay.
    viewer.class_combo.setCurrentText("Normal")
    assert viewer.view.overlay_visible()
    assert window.panel.metrics_box.title().endswith("Normal")
    viewer.set_mode(ViewMode.MODEL_INPUT)
    assert viewer.view.overlay_visible()


def test_zoom_fit_and_window_level(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    _open_and_wait(qtbot, window, [write_xray(tmp_path / "z.png")])
    _select(qtbot, window, window.table_model.records()[0].key)
    view = window.viewer.view
    fitted = view.scale_factor()
    window.viewer.zoom_in_action.trigger()
    assert view.scale_factor() > fitted
    window.viewer.fit_action.trigger()
    assert view.scale_factor() == pytest.approx(fitted)
    window.viewer.set_window(0.3, 0.2)
    dim = window.viewer._windowed()
    assert dim.max() == 255
    assert dim.min() == 0
    window.viewer.auto_window_action.trigger()
    _level, width = window.viewer.window()
    assert 0.0 < width < 1.0
    window.viewer.reset_window_action.trigger()
    assert window.viewer.window() == (0.5, 1.0)


def test_unreadable_files_become_error_rows_without_dialogs(
    qtbot, make_window, tmp_path: Path
) -> None:
    window = make_window()
    good = write_xray(tmp_path / "good.png")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    text = tmp_path / "letter.png"
    text.write_text("this is not an image", encoding="utf-8")
    _open_and_wait(qtbot, window, [good, broken, text])
    records = {r.path.name: r for r in window.table_model.records()}
    assert records["good.png"].status is Status.DONE
    for name in ("broken.png", "letter.png"):
        assert records[name].status is Status.ERROR
        assert records[name].details  # the reason is in the row
    _select(qtbot, window, records["broken.png"].key)
    assert window.panel.ood_banner.isVisibleTo(window.panel)
    assert "could not be read" in window.panel.ood_title.text()
    qtbot.waitUntil(lambda: "unreadable" in window.counts_label.text(), timeout=5_000)


def test_out_of_distribution_input_gets_a_banner_and_no_label(
    qtbot, make_window, tmp_path: Path
) -> None:
    window = make_window()
    noise = write_colour_noise(tmp_path / "holiday.png")
    _open_and_wait(qtbot, window, [noise])
    record = window.table_model.records()[0]
    assert record.result.out_of_distribution
    assert record.result.label is None
    assert record.label_text.startswith("not labelled")
    ood_cell = window.table_model.index(0, window.table_model.ood_column)
    assert ood_cell.data() == "OOD"
    _select(qtbot, window, record.key)
    panel = window.panel
    assert panel.ood_banner.isVisibleTo(panel)
    assert "colour" in panel.ood_reason.text()
    assert panel.decision_label.text() == ""
    assert not panel.bars_box.isVisibleTo(panel)


def test_sorting_the_worklist_by_covid_probability(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    paths = [write_xray(tmp_path / f"s{i}.png", i, size=(200 + 40 * i, 260)) for i in range(5)]
    paths.append(write_colour_noise(tmp_path / "noise.png"))
    _open_and_wait(qtbot, window, paths)
    column = window.table_model.probability_column("COVID-19")
    window.table.sortByColumn(column, QtCore.Qt.SortOrder.DescendingOrder)
    order = window.table.keys_in_view_order()
    values = []
    for key in order:
        result = window.table_model.record(key).result
        # Refused (OOD) images have no probability in the table: they sort last.
        values.append(-1.0 if result.out_of_distribution else result.probabilities["COVID-19"])
    assert values == sorted(values, reverse=True)
    assert window.table_model.record(order[-1]).path.name == "noise.png"


def test_keyboard_navigation_moves_through_the_worklist(
    qtbot, make_window, tmp_path: Path
) -> None:
    window = make_window()
    paths = [write_xray(tmp_path / f"k{i}.png", i) for i in range(3)]
    _open_and_wait(qtbot, window, paths)
    keys = [r.key for r in window.table_model.records()]
    _select(qtbot, window, keys[0])
    window.table.setFocus()
    with qtbot.waitSignal(window.image_shown, timeout=30_000,
                          check_params_cb=lambda key: key == keys[1]):
        qtbot.keyClick(window.table, QtCore.Qt.Key.Key_Down)
    with qtbot.waitSignal(window.image_shown, timeout=30_000,
                          check_params_cb=lambda key: key == keys[2]):
        window.display.next_action.trigger()
    with qtbot.waitSignal(window.image_shown, timeout=30_000,
                          check_params_cb=lambda key: key == keys[1]):
        window.display.previous_action.trigger()


def test_cancel_stops_a_large_batch(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    folder = tmp_path / "many"
    for i in range(80):
        write_xray(folder / f"m{i:03d}.png", i, size=(96, 112))

    def cancel_when_running(_keys: list[int]) -> None:
        # Runs right after the batch was queued; the cancel reaches it mid-way.
        QtCore.QTimer.singleShot(0, lambda: qtbot.keyClick(window, QtCore.Qt.Key.Key_Escape))

    window.opening.files_added.connect(cancel_when_running)
    window.activateWindow()
    with qtbot.waitSignal(window.analysis_finished, timeout=60_000) as blocker:
        window.opening.open_paths([folder])
    assert blocker.args == [True]
    model = window.table_model
    assert model.rowCount() == 80
    assert model.count(Status.CANCELLED) > 0
    assert model.count(Status.DONE) < 80
    assert not model.keys_with_status(Status.QUEUED, Status.RUNNING)
    assert not window.batch.progress_bar.isVisibleTo(window)
    assert "Cancelled" in window.statusBar().currentMessage()


def test_table_model_columns_follow_the_model_classes() -> None:
    model = ResultsTableModel()
    assert model.columnCount() == 8
    model.set_classes(["Normal", "COVID-19"])
    assert model.headers() == ["", "Name", "Status", "Label", "P(Normal)", "P(COVID-19)",
                               "OOD", "Details", "Received", "PACS"]
    keys, existing = model.add_paths([Path("a.png"), Path("b.png"), Path("a.png")])
    assert len(keys) == 2
    assert existing == []
    _, existing = model.add_paths([Path("a.png")])
    assert existing == [keys[0]]


def test_clearing_the_worklist_during_a_batch_is_safe(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    folder = tmp_path / "clear"
    for i in range(40):
        write_xray(folder / f"c{i:02d}.png", i, size=(96, 112))
    def clear_soon(_keys: list[int]) -> None:
        window.opening.files_added.disconnect(clear_soon)
        QtCore.QTimer.singleShot(0, window.opening.clear_action.trigger)

    window.opening.files_added.connect(clear_soon)
    with qtbot.waitSignal(window.analysis_finished, timeout=60_000):
        window.opening.open_paths([folder])
    assert window.table_model.rowCount() == 0
    assert window.panel.result is None
    # The window keeps working afterwards.
    window.opening.open_paths([write_xray(tmp_path / "after.png")])
    qtbot.waitUntil(lambda: window.table_model.count(Status.DONE) == 1, timeout=30_000)


def test_a_file_opened_before_the_model_loads_is_shown_once_it_does(
    qtbot, make_window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_bundle: Path
) -> None:
    import threading

    from desktop_app.ui import model_loading, workers

    release = threading.Event()

    def slow_load(model_dir):
        release.wait(30)
        return workers.load_active_model(tiny_bundle)

    monkeypatch.setattr(model_loading, "load_active_model", slow_load)
    window = make_window(model_dir=None, wait_model=False)
    path = write_xray(tmp_path / "early.png")
    with qtbot.waitSignal(window.opening.files_added, timeout=10_000):
        window.opening.open_paths([path])
    key = window.table_model.records()[0].key
    assert window.table.current_key() == key
    assert "Waiting" in window.panel.reason_label.text()
    with qtbot.waitSignal(window.image_shown, timeout=30_000,
                          check_params_cb=lambda shown: shown == key):
        release.set()
    assert window.table.current_key() == key
    assert window.viewer.result is not None


def test_no_heat_map_is_drawn_on_a_refused_image(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    _open_and_wait(qtbot, window, [write_colour_noise(tmp_path / "refused.png")])
    _select(qtbot, window, window.table_model.records()[0].key)
    window.viewer.set_heatmap_visible(True)
    assert not window.viewer.view.overlay_visible()


def test_a_row_the_batch_answered_shows_its_result_before_the_full_image(
    qtbot, make_window, tmp_path: Path
) -> None:
    window = make_window()
    paths = [write_xray(tmp_path / f"b{i}.png", i) for i in range(3)]
    _open_and_wait(qtbot, window, paths)
    record = window.table_model.records()[2]
    assert record.result is not None
    assert record.result.ok
    # Hold the full-resolution decode back: the panel must not wait for it.
    window.image_loader.request = lambda key, path: None
    window.table.select_key(record.key)
    assert window.panel.result is record.result
    assert window.panel.decision_label.text() == record.result.decision.label


def test_a_lung_framed_model_outlines_the_part_of_the_film_it_read(
    qtbot, make_window, tmp_path: Path, tiny_lung_bundle: Path
) -> None:
    window = make_window(model_dir=tiny_lung_bundle)
    paths = [write_xray(tmp_path / "lungs.png", 5)]
    _open_and_wait(qtbot, window, paths)
    key = window.table_model.records()[0].key
    _select(qtbot, window, key)
    result = window.viewer.result
    height, width = result.loaded.pixels.shape
    box = result.prepared.source_box
    assert tuple(box) != (0, 0, width, height)  # the lung box, not the whole film
    assert window.viewer.view.frame() == tuple(box)
    # The model input view shows the framed input itself: no outline there.
    window.viewer.model_input_action.trigger()
    assert window.viewer.view.frame() is None
    window.viewer.original_action.trigger()
    assert window.viewer.view.frame() == tuple(box)


def test_a_whole_film_model_draws_no_outline(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    _open_and_wait(qtbot, window, [write_xray(tmp_path / "whole.png", 6)])
    _select(qtbot, window, window.table_model.records()[0].key)
    assert window.viewer.view.frame() is None


def test_a_large_film_is_shown_reduced_first_then_at_full_resolution(
    qtbot, make_window, tmp_path: Path
) -> None:
    from PIL import Image

    from desktop_app.core.classify.synthetic import synthetic_radiograph

    path = tmp_path / "large.jpg"
    Image.fromarray(synthetic_radiograph((1600, 1920), seed=3)).save(path, quality=92)
    window = make_window()
    previews: list = []
    fulls: list = []
    window.image_loader.image_previewed.connect(lambda key, result: previews.append(result))
    window.image_loader.image_loaded.connect(lambda key, result: fulls.append(result))
    _open_and_wait(qtbot, window, [path, write_xray(tmp_path / "small.png", 1)])
    large = next(r for r in window.table_model.records() if r.path == path)
    window.table.setCurrentIndex(QtCore.QModelIndex())
    window.table.select_key(large.key)
    qtbot.waitUntil(lambda: any(r.path == path for r in fulls), timeout=60_000)
    preview = next(r for r in previews if r.path == path)
    full = next(r for r in fulls if r.path == path)
    assert preview.loaded.reduced
    assert max(preview.loaded.pixels.shape) < 1920
    assert preview.loaded.original_size == (1600, 1920)
    assert not full.loaded.reduced
    assert full.loaded.pixels.shape == (1920, 1600)
    # One analysis: the full image only replaces the pixels shown.
    assert full.probabilities == preview.probabilities
    qtbot.waitUntil(lambda: window.viewer.result is full, timeout=10_000)
    pixmap = window.viewer.view._base.pixmap()
    assert (pixmap.width(), pixmap.height()) == (1600, 1920)


def test_received_column_says_opened_films_were_opened_not_watched() -> None:
    import datetime as dt

    model = ResultsTableModel()
    now = dt.datetime.now().astimezone()
    model.worklist.add_film(Path("opened.dcm"), "1.2.3", received=now, origin="open")
    model.worklist.add_film(Path("watched.dcm"), "1.2.4", received=now, origin="watch")
    model.worklist.add_film(Path("sent.dcm"), "1.2.5", received=now, origin="dicom",
                            calling_ae="XRAYROOM")
    texts = [model.index(row, model.sender_column).data().split(" · ")[0] for row in range(3)]
    assert texts == ["opened", "watch folder", "XRAYROOM"]
