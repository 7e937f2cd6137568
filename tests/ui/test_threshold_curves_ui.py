"""The threshold curves in the window: choosing the point in the calibration dialog (a click on
the plot, the slider), and the model card's TEST curves or the sentence that it has none."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.model.model_card import CARD_FILE, ModelCard
from desktop_app.core.model.model_store import ModelStore
from desktop_app.ui.calibration_dialog import CalibrationDialog
from desktop_app.ui.card_curves import CURVES_ANCHOR, IMAGE_SCHEME, NO_CURVES
from desktop_app.ui.model_card_dialog import ModelCardDialog
from tests.pdf_text import pdf_text
from tests.ui.calibration_films import write_check_set, write_site_films


@pytest.fixture
def calibrated_dialog(qtbot, tiny_bundle: Path, tmp_path: Path):
    """The dialog after a real calibration of the tiny model to generated site films."""
    store = ModelStore(bundled=tiny_bundle)
    dialog = CalibrationDialog(load_bundle(tiny_bundle), store=store,
                               check_set=write_check_set(tmp_path / "checks"))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.path_edit.setText(str(write_site_films(tmp_path / "site")))
    dialog.site_edit.setText("Test Clinic")
    with qtbot.waitSignal(dialog.calibration_finished, timeout=60_000):
        dialog.run_button.click()
    yield dialog, store
    dialog.cancel()
    dialog.wait_for_worker()


def _after_text(dialog: CalibrationDialog, words: str) -> str:
    """The after column's cell of the table row named ``words``."""
    table = dialog.figures_table
    for row in range(table.rowCount()):
        if table.item(row, 0).text() == words:
            return table.item(row, 2).text()
    raise AssertionError(f"no row {words!r}")


def test_clicking_the_curve_and_moving_the_slider_choose_the_thresholds_that_install(
        qtbot, calibrated_dialog) -> None:
    dialog, store = calibrated_dialog
    chooser = dialog.chooser
    assert set(chooser.plots) == {"COVID-19", "Pneumonia"}
    plot = chooser.plots["COVID-19"]
    assert plot.isVisible()
    assert plot.curves()
    assert plot.curves()[0].curve.points
    targets = dict(dialog.result.summary["threshold_curves"]["targets"]["COVID-19"])
    assert targets == {"sensitivity": 0.9, "max_false_rate": 0.05}
    assert not chooser.reset_button.isEnabled()
    called_before = _after_text(dialog, "normal films labelled COVID-19")

    # A click on the curve's lowest threshold: every film reaches it, so every answered
    # normal film is called COVID-19 after calibration.
    with qtbot.waitSignal(chooser.threshold_chosen) as blocker:
        qtbot.mouseClick(plot, QtCore.Qt.MouseButton.LeftButton,
                         pos=plot.point_position(0.01))
    finding, threshold = blocker.args
    assert finding == "COVID-19"
    assert dialog.result.card["decision"]["thresholds"]["COVID-19"] == round(threshold, 6)
    section = dialog.result.summary
    assert section["settings"]["thresholds_set_by_hand"] == {"COVID-19": round(threshold, 6)}
    assert section["threshold_curves"]["chosen"]["COVID-19"]["set_by"] == "hand"
    called = _after_text(dialog, "normal films labelled COVID-19")
    assert called != called_before
    figure = section["figures"]["after"]["all"]["normal_as_covid"]
    assert called.startswith(f"{round(100 * figure['value'])} %")
    assert "set here, for every age group" in chooser.captions["COVID-19"].text()
    assert "Thresholds set here" in dialog.status.text()
    assert chooser.reset_button.isEnabled()

    # The slider: a step that is not a drag chooses at once.
    chooser.sliders["Pneumonia"].setValue(97)
    assert dialog.result.card["decision"]["thresholds"]["Pneumonia"] == 0.97
    assert _after_text(dialog, "pneumonia films labelled Pneumonia").startswith("0 %")
    chosen = dict(dialog.result.card["decision"]["thresholds"])

    # Accepting installs exactly those thresholds.
    with qtbot.waitSignal(dialog.active_model_changed, timeout=30_000):
        dialog.install_button.click()
    assert store.active().bundle.card.decision["thresholds"] == chosen


def test_dragging_the_slider_previews_and_back_to_the_targets_restores(
        qtbot, calibrated_dialog) -> None:
    dialog, _ = calibrated_dialog
    chooser = dialog.chooser
    original = dict(dialog.result.card["decision"]["thresholds"])
    slider = chooser.sliders["COVID-19"]
    slider.setSliderDown(True)
    slider.setValue(3)
    # While dragged, only the preview moves: nothing is re-measured yet.
    assert "release to choose" in chooser.captions["COVID-19"].text()
    assert dialog.result.card["decision"]["thresholds"] == original
    slider.setSliderDown(False)  # released: chosen
    assert dialog.result.card["decision"]["thresholds"]["COVID-19"] == 0.03
    chooser.reset_button.click()
    assert dialog.result.card["decision"]["thresholds"] == original
    assert dialog.result.summary["settings"]["thresholds_set_by_hand"] == {}
    assert "chosen from the targets again" in dialog.status.text().lower()
    assert not chooser.reset_button.isEnabled()


def test_the_report_holds_the_sites_curves(qtbot, calibrated_dialog, tmp_path: Path) -> None:
    dialog, _ = calibrated_dialog
    dialog.chooser.sliders["Pneumonia"].setValue(40)
    path = dialog.save_report(tmp_path / "calibration.pdf")
    assert path is not None
    assert "calibration report" in dialog.status.text()
    text = " ".join(pdf_text(path).split())
    assert "Threshold curves on the site's films" in text
    assert "COVID-19 threshold: found against wrongly called" in text
    assert "Pneumonia threshold: found against wrongly called" in text
    assert "chosen 0.40" in text
    assert "Test Clinic" in text


def _card_with_curves(tiny_bundle: Path) -> ModelCard:
    """The tiny card with TEST curves measured on made-up probabilities of 120 films."""
    from model_training.threshold_curve_card import threshold_curves_section

    card = json.loads((tiny_bundle / CARD_FILE).read_text(encoding="utf-8"))
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, 120)
    logits = rng.normal(size=(120, 3))
    logits[np.arange(120), labels] += 1.5
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    ages = ["adult" if i % 2 else "child" for i in range(120)]
    card.setdefault("metrics", {}).setdefault("test", {})["threshold_curves"] = \
        threshold_curves_section(probabilities, labels, card["classes"], card["decision"],
                                 age_groups=ages, patients=None, bootstrap_rounds=30, seed=0)
    return ModelCard.from_dict(card)


def test_card_dialog_shows_the_test_curves_per_population(qtbot, tiny_bundle: Path) -> None:
    dialog = ModelCardDialog(_card_with_curves(tiny_bundle))
    qtbot.addWidget(dialog)
    dialog.show()
    text = dialog.text()
    assert "Threshold curves on the TEST films" in text
    assert NO_CURVES not in text
    threshold = dialog.card.decision["thresholds"]["COVID-19"]
    for words in ("adults (n=60)", "children (n=60)", "every film, age not used (n=120)"):
        assert f"COVID-19, {words}, at the operating threshold {threshold:.2f}" in text
    assert "points" not in text  # the curves' points are plots, not a dumped table
    for finding in ("COVID-19", "Pneumonia"):
        image = dialog.browser.loadResource(
            QtGui.QTextDocument.ResourceType.ImageResource.value,
            QtCore.QUrl(f"{IMAGE_SCHEME}:{finding}"))
        assert isinstance(image, QtGui.QImage)
        assert not image.isNull()
        # Drawn, not blank: the curves' colours are in it.
        colours = {image.pixel(x, y) for x in range(0, image.width(), 7)
                   for y in range(0, image.height(), 7)}
        assert len(colours) > 20
    dialog.browser.scrollToAnchor(CURVES_ANCHOR)
    assert dialog.browser.verticalScrollBar().value() > 0


def test_card_dialog_without_curves_says_so(qtbot, tiny_bundle: Path) -> None:
    dialog = ModelCardDialog(load_bundle(tiny_bundle).card)
    qtbot.addWidget(dialog)
    assert NO_CURVES in dialog.text()
    assert "at the operating threshold" not in dialog.text()
    assert dialog.browser.images == {}
