"""The Structured Report as highdicom's typed classes build it: the reference for the fast one.

This is ``build_structured_report`` as it was before the content tree was built with plain
pydicom (:mod:`desktop_app.core.node.sr_content`), kept verbatim so that
``tests/core/test_sr_content.py`` can hold the two equal for every kind of answer.
"""

from __future__ import annotations

import highdicom as hd
from pydicom.dataset import Dataset

from desktop_app.core.classify.analysis import ImageResult
from desktop_app.core.node.result_codes import (
    FINDING,
    IMAGING_MEASUREMENT_REPORT,
    NO_UNITS,
    PLAIN_CHEST_XRAY,
    PRIVATE_SCHEME,
    PRIVATE_SCHEME_NAME,
    QUALITATIVE_EVALUATIONS,
    answer_code,
    probability_code,
    threshold_code,
)
from desktop_app.core.node.result_identity import (
    DECISION_SUPPORT,
    MANUFACTURER,
    AlgorithmFacts,
    ResultUids,
    derived_uid,
)
from desktop_app.core.node.results_sr import SR_SERIES_NUMBER, _texts, equipment

__all__ = ["reference_structured_report"]


def _group(film: Dataset, result: ImageResult, facts: AlgorithmFacts,
           uids: ResultUids) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    measurements = [
        hd.sr.Measurement(name=probability_code(name), value=round(float(value), 6),
                          unit=NO_UNITS)
        for name, value in (result.probabilities or {}).items()
    ]
    measurements += [
        hd.sr.Measurement(name=threshold_code(name), value=round(float(value), 6),
                          unit=NO_UNITS)
        for name, value in facts.thresholds.items()
    ] if result.decision is not None else []
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=derived_uid("tracking", uids.sr_instance),
            identifier="LungLens chest X-ray answer"),
        algorithm_id=hd.sr.AlgorithmIdentification(
            name=facts.model_id, version=facts.model_version,
            parameters=[f"LungLens {facts.software_version}"]),
        measurements=measurements or None,
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(FINDING,
                                                              answer_code(result.label))],
        source_images=[hd.sr.SourceImageForMeasurementGroup(str(film.SOPClassUID),
                                                            str(film.SOPInstanceUID))],
    )
    items = group[0].ContentSequence
    for text in _texts(result, facts):
        items.append(hd.sr.TextContentItem(
            name=QUALITATIVE_EVALUATIONS, value=text[:1024],
            relationship_type=hd.sr.RelationshipTypeValues.CONTAINS))
    return group


def reference_structured_report(film: Dataset, result: ImageResult, facts: AlgorithmFacts,
                            uids: ResultUids) -> Dataset:
    """The TID 1500 report of one film's answer, ready to write and send.

    Args:
        film: The film's header (pixels not needed): its study, patient and UIDs.
        result: The analysis of that film (refused or failed results too).
        facts: The algorithm that answered (:meth:`AlgorithmFacts.from_card`).
        uids: The report's series and instance UIDs (:func:`result_uids`).

    Returns:
        A Comprehensive 3D SR dataset with file meta (Explicit VR Little Endian).
    """
    observer = hd.sr.ObserverContext(
        observer_type=hd.sr.CodedConcept("121007", "DCM", "Device"),
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=facts.device_uid, name="LungLens", manufacturer_name=MANUFACTURER,
            model_name=facts.model_id))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=PLAIN_CHEST_XRAY,
        imaging_measurements=[_group(film, result, facts, uids)],
        title=IMAGING_MEASUREMENT_REPORT,
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=[film], content=report[0], series_instance_uid=uids.sr_series,
        series_number=SR_SERIES_NUMBER, sop_instance_uid=uids.sr_instance, instance_number=1,
        manufacturer=MANUFACTURER, is_complete=True, is_final=False, is_verified=False,
        contributing_equipment=[equipment(facts)],
        series_description=f"LungLens report: {DECISION_SUPPORT}",
    )
    sr.SpecificCharacterSet = "ISO_IR 192"
    sr.SoftwareVersions = [f"LungLens {facts.software_version}"]
    scheme = Dataset()
    scheme.CodingSchemeDesignator = PRIVATE_SCHEME
    scheme.CodingSchemeName = PRIVATE_SCHEME_NAME
    scheme.CodingSchemeResponsibleOrganization = MANUFACTURER
    sr.CodingSchemeIdentificationSequence = [scheme]
    return sr
