"""A film the gate accepts with a caution: label, probabilities and the caution everywhere."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PySide6 import QtCore

from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.ui.exporters import write_pdf_report
from desktop_app.ui.result_panel import ResultPanel
from desktop_app.ui.results_table import ResultsTableModel, RowRecord, Status
from tests.pdf_text import pdf_text
from tests.ui.images import write_colour_noise, write_xray


@pytest.fixture
def results(tiny_caution_bundle: Path, tmp_path: Path) -> list:
    paths = [write_xray(tmp_path / "ward.png", 1), write_colour_noise(tmp_path / "noise.png")]
    analyzer = Analyzer(load_bundle(tiny_caution_bundle))
    return list(analyzer.analyse(paths, keep_loaded=True))


def test_the_result_panel_shows_the_caution_with_the_label_and_probabilities(
    qtbot, tiny_caution_bundle: Path, results: list
) -> None:
    panel = ResultPanel()
    qtbot.addWidget(panel)
    panel.set_model_card(load_bundle(tiny_caution_bundle).card)
    cautioned, refused = results
    panel.set_result(cautioned)
    assert cautioned.caution.startswith("unusual film: features unlike the training films")
    assert panel.caution_label.isVisibleTo(panel)
    assert cautioned.caution in panel.caution_label.text()
    assert "Caution" in panel.caution_label.text()
    assert panel.decision_label.text() == cautioned.decision.label
    assert panel.bars_box.isVisibleTo(panel)
    for name, value in cautioned.probabilities.items():
        assert panel.bar_value(name) == pytest.approx(value, abs=1e-3)
    assert not panel.ood_banner.isVisibleTo(panel)
    panel.set_result(refused)
    assert not panel.caution_label.isVisibleTo(panel)
    assert panel.ood_banner.isVisibleTo(panel)


def test_the_table_marks_cautions_and_counts_them(qtbot, results: list) -> None:
    model = ResultsTableModel()
    model.set_classes(["Normal", "Pneumonia", "COVID-19"])
    keys, _ = model.add_paths([r.path for r in results])
    for key, result in zip(keys, results, strict=True):
        model.set_result(key, result)
    cautioned = results[0]
    row = model.row_of(keys[0])
    gate = model.data(model.index(row, model.ood_column))
    label = model.data(model.index(row, model.LABEL))
    tooltip = model.data(model.index(row, model.ood_column), QtCore.Qt.ItemDataRole.ToolTipRole)
    assert gate == "caution"
    assert label.startswith(cautioned.decision.label)
    assert "caution" in label
    assert cautioned.caution in tooltip
    assert model.data(model.index(model.row_of(keys[1]), model.ood_column)) == "OOD"
    assert model.gate_counts() == (1, 1)


def test_main_window_summary_counts_cautions(qtbot, make_window, tiny_caution_bundle: Path,
                                             tmp_path: Path) -> None:
    window = make_window(model_dir=tiny_caution_bundle)
    paths = [write_xray(tmp_path / "a.png", 1), write_xray(tmp_path / "b.png", 2),
             write_colour_noise(tmp_path / "noise.png")]
    window.opening.open_paths(paths)
    qtbot.waitUntil(lambda: "2 with a caution (unusual film)" in window.counts_label.text(),
                    timeout=30_000)
    assert "1 not labelled (OOD)" in window.counts_label.text()
    out = tmp_path / "worklist.csv"
    assert window.exports.export_csv(out) == 3
    with out.open(encoding="utf-8-sig", newline="") as stream:
        rows = {row["name"]: row for row in csv.DictReader(stream)}
    for name in ("a.png", "b.png"):
        assert rows[name]["label"] in {"Normal", "Pneumonia", "COVID-19"}
        assert rows[name]["out_of_distribution"] == "no"
        assert rows[name]["caution"].startswith("unusual film: features unlike")
    assert rows["noise.png"]["caution"] == ""
    assert rows["noise.png"]["out_of_distribution"] == "yes"


def test_the_pdf_page_of_a_cautioned_film_says_why(tiny_caution_bundle: Path, results: list,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    bundle = load_bundle(tiny_caution_bundle)
    assert write_pdf_report(out, bundle, [r.path for r in results], results=results) == 2
    text = pdf_text(out)
    assert "CAUTION" in text
    assert "unusual film: features unlike the training films" in text.replace("\n", " ")
    assert "Decision at the operating point" in text
    assert "NOT LABELLED" in text


def test_row_records_without_results_have_no_gate_text() -> None:
    record = RowRecord(0, Path("x.png"), Status.QUEUED)
    assert record.gate_text == ""
    assert record.label_text == ""


def test_the_panel_says_when_the_thresholds_of_an_age_group_decided(
    qtbot, tiny_age_bundle: Path, tmp_path: Path
) -> None:
    from desktop_app.core.classify.synthetic import synthetic_radiograph
    from tests.image_factory import dicom_dataset, write_dicom

    ds = dicom_dataset(synthetic_radiograph((320, 384), seed=1), bits_stored=8, rescale=None)
    ds.PatientAge = "008Y"
    film = write_dicom(ds, tmp_path / "child.dcm")
    plain = write_xray(tmp_path / "plain.png", 1)
    child, unknown = Analyzer(load_bundle(tiny_age_bundle)).analyse([film, plain])
    panel = ResultPanel()
    qtbot.addWidget(panel)
    panel.set_model_card(load_bundle(tiny_age_bundle).card)
    panel.set_result(child)
    assert child.decision.age_group == "child"
    text = panel.reason_label.text()
    assert "reaches the operating threshold for children" in text
    assert "Decided at the children's thresholds (COVID-19 " in text
    assert text.rstrip().endswith("): PatientAge 008Y.")
    assert child.thresholds_note in text
    panel.set_result(unknown)
    text = panel.reason_label.text()
    assert "children's thresholds" not in text
    assert "Decided at the thresholds for all ages (COVID-19 " in text
    assert "): age unknown: " in text
