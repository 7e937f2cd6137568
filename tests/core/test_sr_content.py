"""The fast Structured Report equals highdicom's, element by element and byte for byte.

``build_structured_report`` builds the content tree with plain pydicom
(:mod:`desktop_app.core.node.sr_content`); ``tests/sr_reference.py`` keeps the build with
highdicom's typed classes it replaced. For every kind of answer (each class, uncertain,
cautioned or not, refused, unreadable, site-calibrated or not, thresholds of an age group)
and for films with more than the minimum header, both are built and compared.

What may differ, and only that: the instants the two builds read the clock (Instance
Creation Date and Time, Content Date and Time, each Contribution DateTime), taken at two
different moments by highdicom's own code in both builds. They are checked present with the
same VR in both, then the reference's are copied over before the comparison.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import highdicom as hd
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sr.coding import Code

from desktop_app.core.classify.analysis import ImageResult
from desktop_app.core.decision import decide
from desktop_app.core.node.result_evidence import evidence_header
from desktop_app.core.node.result_identity import AlgorithmFacts, result_uids
from desktop_app.core.node.results_sr import build_structured_report
from desktop_app.core.node.sr_content import code
from tests.analysis_results import (
    CLASSES,
    DECISION,
    MODEL_ID,
    facts,
    labelled_result,
    refused_result,
)
from tests.dicom_films import chest_film
from tests.sr_reference import reference_structured_report

_CLOCK = ("InstanceCreationDate", "InstanceCreationTime", "ContentDate", "ContentTime")
_BY_AGE = dict(DECISION, by_age_group={"child": {"thresholds": {"COVID-19": 0.6,
                                                                 "Pneumonia": 0.5}}})
_SITE = "calibrated for Ward 3 on 2026-12-01 from 400 films"


def _child_facts() -> AlgorithmFacts:
    return replace(facts(_SITE), thresholds={"COVID-19": 0.6, "Pneumonia": 0.5},
                   threshold_group="child")


def _decided(probabilities: tuple[float, float, float], spec: dict = DECISION,
             group: str | None = None, caution: str | None = None) -> ImageResult:
    result = labelled_result(Path("film.dcm"), probabilities, caution=caution)
    return replace(result, decision=decide(probabilities, CLASSES, spec, group))


CASES = {
    "covid, cautioned, site calibration": (labelled_result(Path("film.dcm")), facts(_SITE)),
    "covid, no caution": (labelled_result(Path("film.dcm"), caution=None), facts()),
    "normal": (_decided((0.1, 0.8, 0.1)), facts()),
    "pneumonia": (_decided((0.1, 0.2, 0.7)), facts(_SITE)),
    "uncertain": (_decided((0.2, 0.42, 0.38)), facts()),
    "child thresholds, uncertain, cautioned": (
        _decided((0.5, 0.3, 0.2), _BY_AGE, "child", caution="a caution, wörds ünusual"),
        _child_facts()),
    "refused": (refused_result(Path("film.dcm")), facts()),
    "unreadable": (ImageResult(Path("film.dcm"), MODEL_ID, error="truncated pixel data"),
                   facts(_SITE)),
}


def _film(rich: bool) -> Dataset:
    film = chest_film(11)
    if rich:  # what real films carry: highdicom copies more, and lists the X-ray unit
        film.Manufacturer = "ACME Radiography"
        film.ManufacturerModelName = "DR 9000"
        film.PatientName = "Müller^Zoë"
        film.PatientSex = "F"
        film.PatientAge = "034Y"
        film.StudyDescription = "Chest PA"
        film.AccessionNumber = "A-77"
        film.StudyDate, film.StudyTime = "20261207", "101500"
        film.SpecificCharacterSet = "ISO_IR 192"
    return evidence_header(film)


def _differences(ours: Dataset, theirs: Dataset, where: str = "") -> list[str]:
    """Every element that differs (tag, VR, value), recursing into sequences."""
    found = []
    for tag in sorted(set(ours.keys()) | set(theirs.keys())):
        name = f"{where}{pydicom.datadict.keyword_for_tag(tag) or tag}"
        if tag not in ours or tag not in theirs:
            found.append(f"{name}: only in {'ours' if tag in ours else 'highdicom'}")
            continue
        mine, reference = ours[tag], theirs[tag]
        if mine.VR != reference.VR:
            found.append(f"{name}: VR {mine.VR} != {reference.VR}")
        elif mine.VR == "SQ":
            if len(mine.value) != len(reference.value):
                found.append(f"{name}: {len(mine.value)} items != {len(reference.value)}")
            for index, (a, b) in enumerate(zip(mine.value, reference.value, strict=False)):
                found += _differences(a, b, f"{name}[{index}].")
        elif repr(mine.value) != repr(reference.value):  # value and its Python type
            found.append(f"{name}: {mine.value!r} != {reference.value!r}")
    return found


def _same_clock(ours: Dataset, theirs: Dataset) -> None:
    """Copy the reference's clock readings over ours, once both are seen to have them."""
    for keyword in _CLOCK:
        assert ours[keyword].VR == theirs[keyword].VR, keyword
        setattr(ours, keyword, theirs[keyword].value)
    pairs = zip(ours.ContributingEquipmentSequence, theirs.ContributingEquipmentSequence,
                strict=True)
    for mine, reference in pairs:
        assert ("ContributionDateTime" in mine) == ("ContributionDateTime" in reference)
        if "ContributionDateTime" in reference:
            mine.ContributionDateTime = reference.ContributionDateTime


def _encoded(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.mark.parametrize("rich", [False, True], ids=["minimal header", "full header"])
@pytest.mark.parametrize("case", list(CASES))
def test_fast_report_equals_highdicoms(case: str, rich: bool) -> None:
    result, algorithm = CASES[case]
    film = _film(rich)
    uids = result_uids(str(film.SOPInstanceUID), MODEL_ID)
    reference = reference_structured_report(film, result, algorithm, uids)
    ours = build_structured_report(film, result, algorithm, uids)
    _same_clock(ours, reference)
    assert _differences(ours, reference) == []
    assert _differences(ours.file_meta, reference.file_meta) == []
    assert _encoded(ours) == _encoded(reference)


def test_cases_cover_every_kind_of_answer() -> None:
    results = [result for result, _ in CASES.values()]
    assert {r.label for r in results} == {*CLASSES, None}
    assert any(r.decision is not None and r.decision.uncertain for r in results)
    assert any(r.decision is not None and r.decision.age_group == "child" for r in results)
    assert {r.caution is not None for r in results} == {True, False}
    assert any(not r.ok for r in results)


@pytest.mark.parametrize("concept", [
    Code("P-COVID19", "99LUNGLENS", "Probability of COVID-19"),
    Code("P-AVERYLONGCLASSNAME", "99LUNGLENS", "Probability of a very long class name"),
    Code("urn:oid:1.2.3", "99LUNGLENS", "A URN code"),
    Code("1", "UCUM", "no units", scheme_version="1.4"),
])
def test_codes_are_highdicoms_coded_concepts(concept: Code) -> None:
    assert _differences(code(concept), hd.sr.CodedConcept.from_code(concept)) == []


def test_code_meaning_over_64_characters_is_refused_as_highdicom_does() -> None:
    concept = Code("T-X", "99LUNGLENS", "Operating threshold for " + "x" * 60)
    with pytest.raises(ValueError, match="64 characters"):
        hd.sr.CodedConcept.from_code(concept)
    with pytest.raises(ValueError, match="64 characters"):
        code(concept)
