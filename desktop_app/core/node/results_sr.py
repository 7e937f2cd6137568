"""The answer as a DICOM Structured Report (TID 1500) a PACS files with the film it is about.

A radiologist reads in the PACS viewer, so LungLens' answer has to arrive there, in the
film's own study, in a form both people and programs read. TID 1500 (Measurement Report)
with one image-level group (TID 1501) that references the film is what the IHE AI Results
profile uses for that: the answer is a coded qualitative evaluation (:mod:`result_codes`),
the words the window shows are text beside it, each class's calibrated probability and the
threshold that decided are numbers, and the algorithm is named both in the group (TID 4019)
and in the Contributing Equipment Sequence with a device UID that changes with the model.

The object is a Comprehensive 3D SR (the SOP class IHE AI Results asks for), built with
highdicom from typed content items rather than tag by tag, VerificationFlag UNVERIFIED (no
person has checked it) and the words "decision support, not a diagnosis" in its content and
its series description. Patient and study attributes come from the film (highdicom copies
them from the evidence); the text is UTF-8 (``ISO_IR 192``) because reasons and cautions
are written in plain words that may hold any character.
"""

from __future__ import annotations

import datetime as dt

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.coding import Code

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

__all__ = ["SR_SERIES_NUMBER", "answer_words", "build_structured_report", "equipment"]

SR_SERIES_NUMBER = 9901
_PROCESSING_EQUIPMENT = Code("109102", "DCM", "Processing Equipment")


def answer_words(result: ImageResult) -> str:
    """The answer as the window words it: the label, or why there is none."""
    if not result.ok:
        return f"Not analysed: could not be read ({result.error})"
    if result.out_of_distribution:
        reason = result.ood.reason if result.ood is not None else None
        return f"Not labelled: {reason or 'outside what the model was trained on'}"
    return str(result.label)


def equipment(facts: AlgorithmFacts) -> hd.ContributingEquipment:
    """LungLens with its model as contributing equipment (IHE AI Results' algorithm identity).

    The device UID is set on this item itself: highdicom puts the film's acquisition
    equipment first in the SR's sequence when the film names a manufacturer, so "the first
    item" is not always LungLens'.
    """
    item = hd.ContributingEquipment(
        manufacturer=MANUFACTURER,
        purpose_of_reference=_PROCESSING_EQUIPMENT,
        manufacturer_model_name=facts.model_id,
        software_versions=[f"LungLens {facts.software_version}",
                           f"model {facts.model_version}"],
        contribution_datetime=dt.datetime.now().astimezone(),
        contribution_description=f"chest X-ray analysis: {DECISION_SUPPORT}",
    )
    item.DeviceUID = facts.device_uid  # highdicom's class has no argument for it
    return item


def _texts(result: ImageResult, facts: AlgorithmFacts) -> list[str]:
    texts = [f"LungLens answer: {answer_words(result)}"]
    if result.decision is not None:
        texts.append(f"Decision: {result.decision.reason}")
        texts.append(f"Decided at the {result.thresholds_note}")
        if result.decision.uncertain:
            texts.append("Uncertain: no class is confidently ahead")
    if result.caution is not None:
        texts.append(f"Caution: {result.caution}")
    group = f" (thresholds for the {facts.threshold_group} age group)" \
        if facts.threshold_group else ""
    texts.append(f"Operating point of model {facts.model_id}{group}: "
                 + ", ".join(f"{name} {value:.3f}" for name, value in facts.thresholds.items()))
    texts.append(f"Site calibration: {facts.site_calibration or 'none (the model as trained)'}")
    texts.append(f"LungLens is {DECISION_SUPPORT}")
    return texts


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


def build_structured_report(film: Dataset, result: ImageResult, facts: AlgorithmFacts,
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
