"""The Secondary Capture: the film, its heat map burned in, the banner; read back, validated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from desktop_app.core.imaging import load_image
from desktop_app.core.node.result_evidence import evidence_header
from desktop_app.core.node.result_identity import DECISION_SUPPORT, device_uid, result_uids
from desktop_app.core.node.results_sc import (
    banner_lines,
    build_secondary_capture,
    film_with_heatmap,
)
from tests.analysis_results import (
    CAUTION,
    MODEL_ID,
    facts,
    labelled_result,
    refused_result,
    with_heatmaps,
)
from tests.dicom_films import chest_film
from tests.dicom_validators import dciodvfy_errors
from tests.image_factory import write_dicom


def _film(tmp_path: Path) -> tuple[pydicom.Dataset, Path]:
    dataset = chest_film(7)
    return evidence_header(dataset), write_dicom(dataset, tmp_path / "film.dcm")


def _written(tmp_path: Path) -> tuple[pydicom.Dataset, pydicom.Dataset, Path]:
    film, path = _film(tmp_path)
    image = load_image(path)
    result = with_heatmaps(labelled_result(path), image)
    sc = build_secondary_capture(film, result, image, facts(),
                                 result_uids(str(film.SOPInstanceUID), MODEL_ID))
    out = tmp_path / "sc.dcm"
    sc.save_as(out, enforce_file_format=True)
    return film, pydicom.dcmread(out), out


def test_picture_is_the_film_below_a_banner_in_the_films_study(tmp_path: Path) -> None:
    film, sc, _ = _written(tmp_path)
    assert sc.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
    assert (sc.PhotometricInterpretation, sc.SamplesPerPixel, sc.BitsAllocated) == ("RGB", 3, 8)
    assert sc.Columns == film.Columns
    assert sc.Rows > film.Rows
    assert sc.StudyInstanceUID == film.StudyInstanceUID
    assert sc.SOPInstanceUID == result_uids(str(film.SOPInstanceUID), MODEL_ID).sc_instance
    assert sc.PatientID == film.PatientID
    assert sc.PatientName == film.PatientName
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == film.SOPInstanceUID
    assert (sc.BurnedInAnnotation, sc.ConversionType) == ("YES", "WSD")
    assert sc.ContributingEquipmentSequence[0].DeviceUID == device_uid(MODEL_ID)
    assert DECISION_SUPPORT in sc.SeriesDescription
    banner = sc.pixel_array[: sc.Rows - film.Rows]
    assert banner.max() == 255
    assert np.median(banner) == 0


def test_heat_map_is_burned_in_where_it_is_hot_only(tmp_path: Path) -> None:
    film, sc, _ = _written(tmp_path)
    picture = sc.pixel_array[sc.Rows - film.Rows:].astype(int)
    hot = picture[: film.Rows // 8, : film.Columns // 8]
    cold = picture[-film.Rows // 4:, -film.Columns // 4:]
    # Cold regions stay grey (R = G = B); the hot corner is coloured.
    assert np.abs(cold[..., 0] - cold[..., 2]).max() <= 1
    assert np.abs(hot[..., 0] - hot[..., 2]).mean() > 20


def test_banner_says_answer_probabilities_caution_model_and_disclaimer(tmp_path: Path) -> None:
    lines = banner_lines(labelled_result(tmp_path / "f.dcm"), facts())
    text = "\n".join(lines)
    assert lines[0] == "LungLens: COVID-19 (caution)"
    assert "COVID-19 62%" in text
    assert "Normal 20%" in text
    assert "Pneumonia 18%" in text
    assert f"Caution: {CAUTION}" in text
    assert MODEL_ID in text
    assert DECISION_SUPPORT in text


def test_refused_film_gets_no_picture(tmp_path: Path) -> None:
    _, path = _film(tmp_path)
    image = load_image(path)
    with pytest.raises(ValueError, match="no heat map to draw"):
        film_with_heatmap(image, refused_result(path))


def test_dciodvfy_finds_no_error(tmp_path: Path) -> None:
    _, _, path = _written(tmp_path)
    assert dciodvfy_errors(path) == []
