"""The Structured Report of one film's answer: TID 1500 content, read back and validated."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from desktop_app.core.node.result_codes import ANSWER_CODES, PRIVATE_SCHEME, REFUSED
from desktop_app.core.node.result_evidence import evidence_header
from desktop_app.core.node.result_identity import DECISION_SUPPORT, device_uid, result_uids
from desktop_app.core.node.results_sr import build_structured_report
from tests.analysis_results import (
    CAUTION,
    MODEL_ID,
    REFUSAL,
    facts,
    labelled_result,
    refused_result,
)
from tests.dicom_films import chest_film
from tests.dicom_validators import dciodvfy_errors, dsrdump, sr_validator_errors


def _items(dataset: pydicom.Dataset) -> list[pydicom.Dataset]:
    """Every content item of the tree, depth first."""
    found = []
    for item in dataset.get("ContentSequence", []):
        found.append(item)
        found += _items(item)
    return found


def _meaning(item: pydicom.Dataset) -> str:
    return str(item.ConceptNameCodeSequence[0].CodeMeaning)


def _written(tmp_path: Path, result_kind: str = "labelled",
             site: str | None = None) -> tuple[pydicom.Dataset, pydicom.Dataset, Path]:
    film = evidence_header(chest_film(5))
    result = (labelled_result(Path("film.dcm")) if result_kind == "labelled"
              else refused_result(Path("film.dcm")))
    sr = build_structured_report(film, result, facts(site),
                                 result_uids(str(film.SOPInstanceUID), MODEL_ID))
    path = tmp_path / "sr.dcm"
    sr.save_as(path, enforce_file_format=True)
    return film, pydicom.dcmread(path), path


def test_labelled_answer_reads_back_as_codes_numbers_and_words(tmp_path: Path) -> None:
    film, sr, _ = _written(tmp_path, site="calibrated for Ward 3 on 2026-12-01 from 400 films")
    items = _items(sr)
    finding = [i for i in items if i.ValueType == "CODE" and _meaning(i) == "Finding"]
    assert [(f.ConceptCodeSequence[0].CodeValue, f.ConceptCodeSequence[0].CodingSchemeDesignator)
            for f in finding] == [(ANSWER_CODES["COVID-19"].value, "SCT")]
    numbers = {_meaning(i): float(i.MeasuredValueSequence[0].NumericValue)
               for i in items if i.ValueType == "NUM"}
    assert numbers == {"Probability of COVID-19": 0.62, "Probability of Normal": 0.2,
                       "Probability of Pneumonia": 0.18,
                       "Operating threshold for COVID-19": 0.31,
                       "Operating threshold for Pneumonia": 0.45}
    texts = [str(i.TextValue) for i in items if i.ValueType == "TEXT"]
    assert "LungLens answer: COVID-19" in texts
    assert f"Caution: {CAUTION}" in texts
    assert "Site calibration: calibrated for Ward 3 on 2026-12-01 from 400 films" in texts
    assert f"LungLens is {DECISION_SUPPORT}" in texts
    assert any(t.startswith("Decision: COVID-19 probability 62%") for t in texts)
    # Which thresholds decided, in the window's words.
    result = labelled_result(Path("film.dcm"))
    assert result.thresholds_note
    assert f"Decided at the {result.thresholds_note}" in texts
    algorithm = {_meaning(i): str(i.TextValue) for i in items
                 if _meaning(i) in ("Algorithm Name", "Algorithm Version")}
    assert algorithm == {"Algorithm Name": MODEL_ID, "Algorithm Version": "1.2"}
    image = next(i for i in items if i.ValueType == "IMAGE")
    assert image.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == film.SOPInstanceUID
    assert image.ReferencedSOPSequence[0].ReferencedSOPClassUID == film.SOPClassUID


def test_report_sits_in_the_films_study_as_an_unverified_new_series(tmp_path: Path) -> None:
    film, sr, _ = _written(tmp_path)
    uids = result_uids(str(film.SOPInstanceUID), MODEL_ID)
    assert sr.StudyInstanceUID == film.StudyInstanceUID
    assert (sr.SeriesInstanceUID, sr.SOPInstanceUID) == (uids.sr_series, uids.sr_instance)
    assert sr.SeriesInstanceUID != film.SeriesInstanceUID
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    for keyword in ("PatientName", "PatientID", "PatientBirthDate"):
        assert sr.get(keyword) == film.get(keyword)
    assert sr.VerificationFlag == "UNVERIFIED"
    assert DECISION_SUPPORT in sr.SeriesDescription
    equipment = sr.ContributingEquipmentSequence[0]
    assert equipment.ManufacturerModelName == MODEL_ID
    assert equipment.DeviceUID == device_uid(MODEL_ID)
    assert "LungLens 0.1.0" in list(equipment.SoftwareVersions)
    assert sr.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == PRIVATE_SCHEME


def test_uids_are_derived_so_a_rebuilt_result_keeps_them() -> None:
    assert result_uids("1.2.3", MODEL_ID) == result_uids("1.2.3", MODEL_ID)
    assert result_uids("1.2.3", MODEL_ID).sr_instance != result_uids("1.2.4", MODEL_ID).sr_instance
    assert result_uids("1.2.3", MODEL_ID).sr_instance != result_uids("1.2.3", "other").sr_instance
    assert device_uid(MODEL_ID) != device_uid("other")


def test_refused_film_answers_with_the_refusal_and_no_threshold(tmp_path: Path) -> None:
    _, sr, _ = _written(tmp_path, "refused")
    items = _items(sr)
    finding = next(i for i in items if i.ValueType == "CODE" and _meaning(i) == "Finding")
    assert finding.ConceptCodeSequence[0].CodeValue == REFUSED.value
    texts = [str(i.TextValue) for i in items if i.ValueType == "TEXT"]
    assert f"LungLens answer: Not labelled: {REFUSAL}" in texts
    assert not [i for i in items if _meaning(i).startswith("Operating threshold")]


def test_film_without_a_study_uid_is_refused_with_the_value() -> None:
    film = chest_film(6)
    with pytest.warns(UserWarning, match="Invalid value for VR UI"):
        film.StudyInstanceUID = "not a uid"
    with pytest.raises(ValueError, match="'not a uid'"):
        evidence_header(film)


@pytest.mark.parametrize("kind", ["labelled", "refused"])
def test_dciodvfy_finds_no_error(tmp_path: Path, kind: str) -> None:
    _, _, path = _written(tmp_path, kind)
    assert dciodvfy_errors(path) == []


@pytest.mark.parametrize("kind", ["labelled", "refused"])
def test_dicom_sr_validator_finds_no_error_in_tid_1500(tmp_path: Path, kind: str) -> None:
    _, _, path = _written(tmp_path, kind)
    assert sr_validator_errors(path) == []


def test_dsrdump_prints_the_tree(tmp_path: Path) -> None:
    _, _, path = _written(tmp_path)
    tree = dsrdump(path)
    assert 'CONTAINER:(126000,DCM,"Imaging Measurement Report")' in tree
    assert '(840539006,SCT,"COVID-19")' in tree
    assert "Verification Flag   : UNVERIFIED" in tree


def test_device_uid_names_lunglens_not_the_x_ray_unit() -> None:
    # A film naming its manufacturer makes highdicom list the X-ray unit first as
    # acquisition equipment; LungLens' device UID must stay on LungLens' own item.
    film = chest_film(5)
    film.Manufacturer = "ACME Radiography"
    header = evidence_header(film)
    sr = build_structured_report(header, labelled_result(Path("film.dcm")), facts(),
                                 result_uids(str(film.SOPInstanceUID), MODEL_ID))
    by_maker = {str(item.Manufacturer): item for item in sr.ContributingEquipmentSequence}
    assert by_maker["LungLens"].DeviceUID == device_uid(MODEL_ID)
    assert "DeviceUID" not in by_maker["ACME Radiography"]
