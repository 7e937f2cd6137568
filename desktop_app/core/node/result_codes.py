"""The codes the Structured Report uses, standard where one fits, private where none does.

A PACS, a reporting system or a registry reads an SR by its codes, not its words, so the
answer is a code: SNOMED CT for the findings (COVID-19, pneumonia) and for "normal", DCM for
the template's own concepts. No standard code says "probability of COVID-19 by this model",
"operating threshold" or "refused: not a frontal chest film", so those use LungLens' private
coding scheme ``99LUNGLENS`` (PS3.16 8.2: a private scheme designator starts with ``99``),
declared in the SR's Coding Scheme Identification Sequence and listed in
docs/dicom_conformance.md.
"""

from __future__ import annotations

from pydicom.sr.coding import Code

__all__ = [
    "ANSWER_CODES",
    "FINDING",
    "IMAGING_MEASUREMENT_REPORT",
    "NO_UNITS",
    "PLAIN_CHEST_XRAY",
    "PRIVATE_SCHEME",
    "PRIVATE_SCHEME_NAME",
    "QUALITATIVE_EVALUATIONS",
    "REFUSED",
    "answer_code",
    "probability_code",
    "threshold_code",
]

PRIVATE_SCHEME = "99LUNGLENS"
PRIVATE_SCHEME_NAME = "LungLens private codes"

#: TID 1500's document title.
IMAGING_MEASUREMENT_REPORT = Code("126000", "DCM", "Imaging Measurement Report")
#: The procedure reported: TID 1500 takes it from CID 100, which has no chest X-ray code;
#: its generic "Imaging procedure" is the one that fits (a PACS knows the film's own procedure).
PLAIN_CHEST_XRAY = Code("363679005", "SCT", "Imaging procedure")
#: The concept name of the coded answer (TID 1501's qualitative evaluation).
FINDING = Code("121071", "DCM", "Finding")
#: The concept name of TID 1501's free-text qualitative evaluations (the words, the caution).
QUALITATIVE_EVALUATIONS = Code("C0034375", "UMLS", "Qualitative Evaluations")
#: UCUM's unit of a dimensionless number (the probabilities and thresholds, 0 to 1).
NO_UNITS = Code("1", "UCUM", "no units")

#: The answers the window gives, coded.
ANSWER_CODES: dict[str, Code] = {
    "COVID-19": Code("840539006", "SCT", "COVID-19"),
    "Pneumonia": Code("233604007", "SCT", "Pneumonia"),
    "Normal": Code("17621005", "SCT", "Normal"),
}
#: The answer of a film LungLens refused to label (or could not read): no finding given.
REFUSED = Code("REFUSED", PRIVATE_SCHEME, "Not labelled by LungLens")


def answer_code(label: str | None) -> Code:
    """The coded answer for a label (``None``: refused)."""
    if label is None:
        return REFUSED
    try:
        return ANSWER_CODES[label]
    except KeyError:
        raise ValueError(f"no code for the label {label!r}; known: {sorted(ANSWER_CODES)}"
                         ) from None


def _private_name(prefix: str, class_name: str) -> str:
    return f"{prefix}-{class_name.upper().replace(' ', '').replace('-', '')}"


def probability_code(class_name: str) -> Code:
    """"Probability of <class>", the calibrated probability the model gave the class."""
    return Code(_private_name("P", class_name), PRIVATE_SCHEME,
                f"Probability of {class_name}")


def threshold_code(class_name: str) -> Code:
    """"Operating threshold for <class>", the probability at which the class is the answer."""
    return Code(_private_name("T", class_name), PRIVATE_SCHEME,
                f"Operating threshold for {class_name}")
