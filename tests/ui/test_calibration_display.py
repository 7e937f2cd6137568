"""A calibrated model says so wherever it shows: panel, card, PDF, CSV; a trained one does not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.classify.analysis import ImageResult
from desktop_app.core.decision import decide
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.site.site_calibration import calibration_line
from desktop_app.ui.calibration_tables import CARD_FIGURES_NOTE
from desktop_app.ui.exporters import csv_rows, write_csv, write_pdf_report
from desktop_app.ui.model_card_dialog import ModelCardDialog
from desktop_app.ui.result_panel import ResultPanel
from desktop_app.ui.results_table import RowRecord, Status
from tests.pdf_text import pdf_text
from tests.ui.images import write_xray


def _result(bundle, path: Path) -> ImageResult:
    classes = bundle.card.classes
    probabilities = np.array([0.2, 0.3, 0.5])
    return ImageResult(path, bundle.card.model_id,
                       probabilities=dict(zip(classes, probabilities.tolist(), strict=True)),
                       decision=decide(probabilities, classes, bundle.card.decision))


@pytest.fixture
def bundles(calibrated_bundle: Path, tiny_bundle: Path):
    return load_bundle(calibrated_bundle), load_bundle(tiny_bundle)


def test_calibration_line(bundles) -> None:
    calibrated, trained = bundles
    line = calibration_line(calibrated.card)
    assert line == calibration_line(calibrated.card.to_dict())
    assert line.startswith("calibrated for Test Clinic on ")
    assert line.endswith(" from 42 films")
    assert calibration_line(trained.card) is None
    assert calibration_line(None) is None


def test_result_panel_names_the_calibration(qtbot, bundles, tmp_path: Path) -> None:
    calibrated, trained = bundles
    panel = ResultPanel()
    qtbot.addWidget(panel)
    panel.set_model_card(calibrated.card)
    panel.set_result(_result(calibrated, tmp_path / "film.png"))
    text = panel.model_label.text()
    assert "Calibrated for Test Clinic on " in text
    assert "from 42 films" in text
    assert "the model's as trained" in text  # the measured figures are not the site's
    panel.set_model_card(trained.card)
    assert "alibrated" not in panel.model_label.text()


def test_model_card_has_a_site_calibration_section(qtbot, bundles) -> None:
    calibrated, trained = bundles
    dialog = ModelCardDialog(calibrated.card)
    qtbot.addWidget(dialog)
    text = dialog.text()
    section = calibrated.card.site_calibration
    assert "Site calibration" in text
    assert "Calibrated for Test Clinic on " in text
    assert CARD_FIGURES_NOTE in text
    assert "films refused (no answer)" in text  # the before/after figures
    assert "Gate limits" in text
    assert "Thresholds" in text
    assert section["warnings"]
    assert section["warnings"][0] in text
    assert text.index("Site calibration") < text.index("Intended use")
    plain = ModelCardDialog(trained.card)
    qtbot.addWidget(plain)
    assert "Site calibration" not in plain.text()
    assert CARD_FIGURES_NOTE not in plain.text()


def test_csv_adds_the_calibration_as_the_last_column(bundles, tmp_path: Path) -> None:
    calibrated, trained = bundles
    line = calibration_line(calibrated.card)
    records = [RowRecord(0, tmp_path / "a.png", Status.DONE,
                         _result(calibrated, tmp_path / "a.png")),
               # Answered by the model in use before a switch: no claim of calibration.
               RowRecord(1, tmp_path / "b.png", Status.DONE, _result(trained, tmp_path / "b.png")),
               RowRecord(2, tmp_path / "c.png", Status.QUEUED, None)]
    header, *rows = csv_rows(records, calibrated.card.classes, calibrated.model_id, line)
    plain_header, *plain_rows = csv_rows(records, trained.card.classes, trained.model_id)
    assert header[-2:] == ["site_calibration", "thresholds"]
    assert header == plain_header  # the existing columns keep their places
    assert [row[-2] for row in rows] == [line, "", ""]
    assert [row[-2] for row in plain_rows] == ["", "", ""]
    # Which thresholds decided: only for the answered rows.
    assert rows[0][-1].startswith(("operating thresholds (", "thresholds for all ages ("))
    assert rows[2][-1] == ""
    assert write_csv(tmp_path / "out.csv", records[:1], calibrated.card.classes,
                     calibrated.model_id, line) == 1
    assert line in (tmp_path / "out.csv").read_text(encoding="utf-8-sig")


def test_pdf_pages_name_the_calibration(bundles, tmp_path: Path) -> None:
    calibrated, trained = bundles
    film = write_xray(tmp_path / "film.png")
    out = tmp_path / "calibrated.pdf"
    result = _result(calibrated, film)
    assert write_pdf_report(out, calibrated, [film], results=[result]) == 1
    text = pdf_text(out)
    assert "Model calibrated for Test Clinic on " in text
    plain = tmp_path / "trained.pdf"
    assert write_pdf_report(plain, trained, [film], results=[_result(trained, film)]) == 1
    assert "calibrated for" not in pdf_text(plain)
