"""Reading the patient's age from DICOM headers, including missing and garbled tags."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset

from desktop_app.core.patient_age import (
    PatientAge,
    age_from_dataset,
    age_from_dates,
    parse_age_string,
    read_patient_age,
)
from tests.image_factory import dicom_dataset, write_dicom


@pytest.mark.parametrize(("text", "years"), [
    ("045Y", 45.0), ("45Y", 45.0), ("045 y", 45.0), ("006M", 0.5), ("018Y", 18.0),
    ("052W", 52 * 7 / 365.2425), ("010D", 10 / 365.2425),
])
def test_age_strings(text: str, years: float) -> None:
    assert parse_age_string(text) == pytest.approx(years)


@pytest.mark.parametrize("text", ["45", "Y045", "abc", "045X", "999Y", "", "4500Y"])
def test_bad_age_strings_are_refused_quoting_the_value(text: str) -> None:
    with pytest.raises(ValueError, match="PatientAge"):
        parse_age_string(text)


def test_age_from_dates_counts_completed_years() -> None:
    birth = dt.date(2003, 6, 15)
    assert age_from_dates(birth, dt.date(2021, 6, 14)) < 18
    assert PatientAge(age_from_dates(birth, dt.date(2021, 6, 14))).age_group == "child"
    assert PatientAge(age_from_dates(birth, dt.date(2021, 6, 15))).age_group == "adult"
    # Born on 29 February: the birthday falls on 28 February in other years.
    assert age_from_dates(dt.date(2004, 2, 29), dt.date(2022, 2, 28)) == pytest.approx(18.0)
    with pytest.raises(ValueError, match="after the study date"):
        age_from_dates(dt.date(2020, 1, 2), dt.date(2020, 1, 1))


def _header(**tags: str) -> Dataset:
    """A header with these tags; garbled values on purpose (pydicom warns about them)."""
    ds = Dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for keyword, value in tags.items():
            setattr(ds, keyword, value)
    return ds


def test_patient_age_tag_comes_first() -> None:
    age = age_from_dataset(_header(PatientAge="045Y", PatientBirthDate="20200101",
                                   StudyDate="20210101"))
    assert age.years == pytest.approx(45.0)
    assert age.age_group == "adult"
    assert age.source == "DICOM PatientAge 045Y"
    assert age.describe() == "45 years"


def test_birth_date_with_study_or_acquisition_date() -> None:
    child = age_from_dataset(_header(PatientBirthDate="20150610", StudyDate="20210310"))
    assert child.age_group == "child"
    assert child.describe() == "5 years"
    assert child.source == "DICOM PatientBirthDate and StudyDate"
    adult = age_from_dataset(_header(PatientBirthDate="1980.01.01",
                                     AcquisitionDate="20210101"))
    assert adult.years == pytest.approx(41.0)
    assert adult.source == "DICOM PatientBirthDate and AcquisitionDate"
    # A garbled PatientAge falls back to the dates and keeps why.
    fallback = age_from_dataset(_header(PatientAge="45", PatientBirthDate="19800101",
                                        StudyDate="20210101"))
    assert fallback.age_group == "adult"


def test_infant_ages_are_described_in_months() -> None:
    assert age_from_dataset(_header(PatientAge="006M")).describe() == "6 months"
    assert age_from_dataset(_header(PatientAge="003W")).describe() == "3 weeks"


@pytest.mark.parametrize(("tags", "reason"), [
    ({}, "no PatientAge; no PatientBirthDate; no StudyDate or AcquisitionDate"),
    ({"PatientAge": "45"}, "PatientAge '45' is not an age"),
    ({"PatientBirthDate": "19800101"}, "no StudyDate or AcquisitionDate"),
    ({"PatientBirthDate": "1980-13-45", "StudyDate": "20210101"}, "'1980-13-45' is not a valid"),
    ({"PatientBirthDate": "19800101", "StudyDate": "yesterday"}, "StudyDate 'yesterday'"),
    ({"PatientBirthDate": "20300101", "StudyDate": "20210101"}, "after the study date"),
])
def test_unknown_age_says_why(tags: dict[str, str], reason: str) -> None:
    age = age_from_dataset(_header(**tags))
    assert not age.known
    assert age.age_group == "unknown"
    assert age.describe() == "unknown"
    assert reason in age.reason


def _dicom_file(path: Path, **tags: str) -> Path:
    ds = dicom_dataset(np.full((64, 64), 1000, dtype=np.uint16))
    for keyword in ("PatientBirthDate", "PatientAge", "StudyDate"):
        if keyword in ds:
            delattr(ds, keyword)
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    return write_dicom(ds, path)


def test_read_patient_age_from_files(tmp_path: Path) -> None:
    adult = read_patient_age(_dicom_file(tmp_path / "adult.dcm", PatientAge="067Y"))
    assert (adult.age_group, adult.describe()) == ("adult", "67 years")
    child = read_patient_age(_dicom_file(tmp_path / "child.dcm", PatientBirthDate="20180301",
                                         StudyDate="20210301"))
    assert (child.age_group, child.describe()) == ("child", "3 years")
    blank = read_patient_age(_dicom_file(tmp_path / "anonymised.dcm"))
    assert blank.age_group == "unknown"
    assert "no PatientAge" in blank.reason


def test_unreadable_files_give_an_unknown_age_naming_the_file(tmp_path: Path) -> None:
    missing = read_patient_age(tmp_path / "gone.dcm")
    assert not missing.known
    assert "gone.dcm" in missing.reason
    truncated = tmp_path / "truncated.dcm"
    data = _dicom_file(tmp_path / "whole.dcm", PatientAge="045Y").read_bytes()
    truncated.write_bytes(data[:200])
    assert read_patient_age(truncated).age_group in ("unknown", "adult")
    noise = tmp_path / "noise.dcm"
    noise.write_bytes(bytes(range(256)) * 8)
    assert not read_patient_age(noise).known


def test_the_classify_path_carries_the_age(tmp_path: Path, tiny_bundle: Path) -> None:
    from PIL import Image

    from desktop_app.core.classify.analysis import Analyzer
    from desktop_app.core.model.model_bundle import load_bundle
    from tests.image_factory import synthetic_cxr

    pixels = (synthetic_cxr(seed=3).astype(np.float64) * 16).astype(np.uint16)
    ds = dicom_dataset(pixels)
    ds.PatientAge = "007Y"
    film = write_dicom(ds, tmp_path / "child.dcm")
    png = tmp_path / "film.png"
    Image.fromarray(synthetic_cxr(seed=4)).save(png)
    results = list(Analyzer(load_bundle(tiny_bundle)).analyse([film, png]))
    ages = [result.age or PatientAge.unknown("no age attached") for result in results]
    assert [result.error for result in results] == [None, None]
    assert ages[0].age_group == "child"
    assert not ages[1].known
    assert "PNG files carry no patient age" in ages[1].reason


def test_the_loader_derives_the_age_from_the_header_it_already_parsed(tmp_path: Path) -> None:
    import pickle

    from desktop_app.core.imaging import load_image

    path = _dicom_file(tmp_path / "adult.dcm", PatientAge="067Y")
    for loaded in (load_image(path), load_image(path, min_side=16)):
        assert loaded.age is not None
        assert (loaded.age.age_group, loaded.age.describe()) == ("adult", "67 years")
        # The process decoder sends LoadedImage between processes: the age must travel too.
        assert pickle.loads(pickle.dumps(loaded)).age == loaded.age
    png = tmp_path / "film.png"
    from PIL import Image

    Image.fromarray(np.zeros((96, 96), np.uint8)).save(png)
    assert load_image(png).age is None
