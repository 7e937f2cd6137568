"""The answer as a DICOM Structured Report (TID 1500) a PACS files with the film it is about.

A radiologist reads in the PACS viewer, so LungLens' answer has to arrive there, in the
film's own study, in a form both people and programs read. TID 1500 (Measurement Report)
with one image-level group (TID 1501) that references the film is what the IHE AI Results
profile uses for that: the answer is a coded qualitative evaluation (:mod:`result_codes`),
the words the window shows are text beside it, each class's calibrated probability and the
threshold that decided are numbers, and the algorithm is named both in the group (TID 4019)
and in the Contributing Equipment Sequence with a device UID that changes with the model.

The object is a Comprehensive 3D SR (the SOP class IHE AI Results asks for), made by
highdicom around a content tree built item by item as highdicom's typed content items build
it (:mod:`sr_content`: the same datasets in a third of the time, held equal by a test),
VerificationFlag UNVERIFIED (no person has checked it) and the words "decision support,
not a diagnosis" in its content and its series description. Patient and study attributes
come from the film (highdicom copies them from the evidence); the text is UTF-8
(``ISO_IR 192``) because reasons and cautions are written in plain words that may hold any
character.
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
from desktop_app.core.node.sr_content import (
    CONTAINS,
    HAS_CONCEPT_MOD,
    HAS_OBS_CONTEXT,
    code_item,
    container_item,
    image_item,
    num_item,
    text_item,
    uidref_item,
)

__all__ = ["SR_SERIES_NUMBER", "answer_words", "build_structured_report", "equipment"]

SR_SERIES_NUMBER = 9901
_PROCESSING_EQUIPMENT = Code("109102", "DCM", "Processing Equipment")
_CONTENT = 0x0040A730  # Content Sequence


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


_LANGUAGE = Code("121049", "DCM", "Language of Content Item and Descendants")
_ENGLISH_US = Code("en-US", "RFC5646", "English (United States)")
_OBSERVER_TYPE = Code("121005", "DCM", "Observer Type")
_DEVICE = Code("121007", "DCM", "Device")
_DEVICE_UID = Code("121012", "DCM", "Device Observer UID")
_DEVICE_NAME = Code("121013", "DCM", "Device Observer Name")
_DEVICE_MANUFACTURER = Code("121014", "DCM", "Device Observer Manufacturer")
_DEVICE_MODEL = Code("121015", "DCM", "Device Observer Model Name")
_PROCEDURE_REPORTED = Code("121058", "DCM", "Procedure reported")
_IMAGING_MEASUREMENTS = Code("126010", "DCM", "Imaging Measurements")
_MEASUREMENT_GROUP = Code("125007", "DCM", "Measurement Group")
_TRACKING_ID = Code("112039", "DCM", "Tracking Identifier")
_TRACKING_UID = Code("112040", "DCM", "Tracking Unique Identifier")
_ALGORITHM_NAME = Code("111001", "DCM", "Algorithm Name")
_ALGORITHM_VERSION = Code("111003", "DCM", "Algorithm Version")
_ALGORITHM_PARAMETERS = Code("111002", "DCM", "Algorithm Parameters")
_SOURCE_OF_MEASUREMENT = Code("121112", "DCM", "Source of Measurement")


def _group(film: Dataset, result: ImageResult, facts: AlgorithmFacts,
           uids: ResultUids) -> Dataset:
    """TID 1501: the film's answer, its numbers and words, the algorithm, the film."""
    items = [
        text_item(_TRACKING_ID, "LungLens chest X-ray answer", HAS_OBS_CONTEXT),
        uidref_item(_TRACKING_UID, derived_uid("tracking", uids.sr_instance),
                    HAS_OBS_CONTEXT),
        text_item(_ALGORITHM_NAME, facts.model_id, HAS_CONCEPT_MOD),
        text_item(_ALGORITHM_VERSION, facts.model_version, HAS_CONCEPT_MOD),
        text_item(_ALGORITHM_PARAMETERS, f"LungLens {facts.software_version}",
                  HAS_CONCEPT_MOD),
    ]
    items += [num_item(probability_code(name), round(float(value), 6), NO_UNITS, CONTAINS)
              for name, value in (result.probabilities or {}).items()]
    if result.decision is not None:
        items += [num_item(threshold_code(name), round(float(value), 6), NO_UNITS, CONTAINS)
                  for name, value in facts.thresholds.items()]
    items.append(code_item(FINDING, answer_code(result.label), CONTAINS))
    items.append(image_item(_SOURCE_OF_MEASUREMENT, str(film.SOPClassUID),
                            str(film.SOPInstanceUID), CONTAINS))
    items += [text_item(QUALITATIVE_EVALUATIONS, text[:1024], CONTAINS)
              for text in _texts(result, facts)]
    return container_item(_MEASUREMENT_GROUP, items, relationship=CONTAINS,
                          template_id="1501")


def _content(film: Dataset, result: ImageResult, facts: AlgorithmFacts,
             uids: ResultUids) -> Dataset:
    """TID 1500's root container: language, the device observer, the procedure, the group."""
    return container_item(IMAGING_MEASUREMENT_REPORT, [
        code_item(_LANGUAGE, _ENGLISH_US, HAS_CONCEPT_MOD),
        code_item(_OBSERVER_TYPE, _DEVICE, HAS_OBS_CONTEXT),
        uidref_item(_DEVICE_UID, facts.device_uid, HAS_OBS_CONTEXT),
        text_item(_DEVICE_NAME, "LungLens", HAS_OBS_CONTEXT),
        text_item(_DEVICE_MANUFACTURER, MANUFACTURER, HAS_OBS_CONTEXT),
        text_item(_DEVICE_MODEL, facts.model_id, HAS_OBS_CONTEXT),
        code_item(_PROCEDURE_REPORTED, PLAIN_CHEST_XRAY, HAS_CONCEPT_MOD),
        container_item(_IMAGING_MEASUREMENTS, [_group(film, result, facts, uids)],
                       relationship=CONTAINS),
    ], template_id="1500")


def build_structured_report(film: Dataset, result: ImageResult, facts: AlgorithmFacts,
                            uids: ResultUids) -> Dataset:
    """The TID 1500 report of one film's answer, ready to write and send.

    highdicom makes the document around the content (patient and study copied from the
    film, the evidence, equipment, flags, file meta) from a root holding only the first
    content item; the whole tree (:mod:`sr_content`) is put in afterwards, as highdicom
    itself puts the content's root attributes into the document. So highdicom never
    copies, parses and searches the full tree, which was most of the time a report took.

    Args:
        film: The film's header (pixels not needed): its study, patient and UIDs.
        result: The analysis of that film (refused or failed results too).
        facts: The algorithm that answered (:meth:`AlgorithmFacts.from_card`).
        uids: The report's series and instance UIDs (:func:`result_uids`).

    Returns:
        A Comprehensive 3D SR dataset with file meta (Explicit VR Little Endian), a plain
        pydicom dataset (a highdicom one would describe only the first content item).
    """
    content = _content(film, result, facts, uids)
    root = Dataset()
    root.update({element.tag: element for element in content if element.tag != _CONTENT})
    root.ContentSequence = [content.ContentSequence[0]]
    sr = hd.sr.Comprehensive3DSR(
        evidence=[film], content=root, series_instance_uid=uids.sr_series,
        series_number=SR_SERIES_NUMBER, sop_instance_uid=uids.sr_instance, instance_number=1,
        manufacturer=MANUFACTURER, is_complete=True, is_final=False, is_verified=False,
        contributing_equipment=[equipment(facts)],
        series_description=f"LungLens report: {DECISION_SUPPORT}",
    )
    sr[_CONTENT] = content[_CONTENT]
    sr.SpecificCharacterSet = "ISO_IR 192"
    sr.SoftwareVersions = [f"LungLens {facts.software_version}"]
    scheme = Dataset()
    scheme.CodingSchemeDesignator = PRIVATE_SCHEME
    scheme.CodingSchemeName = PRIVATE_SCHEME_NAME
    scheme.CodingSchemeResponsibleOrganization = MANUFACTURER
    sr.CodingSchemeIdentificationSequence = [scheme]
    report = Dataset(sr)
    report.preamble = sr.preamble
    report.file_meta = sr.file_meta
    return report
