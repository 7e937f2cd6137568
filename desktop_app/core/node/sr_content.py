"""TID 1500's content tree as plain pydicom datasets: item for item what highdicom builds.

highdicom's typed content items (``MeasurementReport`` and the classes below it) are what
the report was first built with, and the tree here is theirs, attribute for attribute, in
the same order. What highdicom adds is general machinery this report does not need per
film: every item is validated as it is made, then the whole tree is deep-copied, parsed
back into typed items and searched again when the document is made. On the 2-core node
that took 60-90 ms a film under load, more than analysing it. Building the same datasets
directly, with highdicom making only the document around them, takes a third of that;
``tests/core/test_sr_content.py`` holds both builds equal, element by element and byte for
byte, for every kind of answer.

Each function mirrors one highdicom class (named in its docstring); where highdicom refuses
a value (a code meaning over 64 characters), so does this module, with ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydicom.dataset import Dataset
from pydicom.sr.coding import Code
from pydicom.valuerep import DS

__all__ = [
    "code",
    "code_item",
    "container_item",
    "image_item",
    "num_item",
    "text_item",
    "uidref_item",
]

#: Relationship types, as highdicom's ``RelationshipTypeValues`` spells them.
CONTAINS = "CONTAINS"
HAS_CONCEPT_MOD = "HAS CONCEPT MOD"
HAS_OBS_CONTEXT = "HAS OBS CONTEXT"


def code(concept: Code) -> Dataset:
    """A code sequence item (``highdicom.sr.CodedConcept``).

    Raises:
        ValueError: If the meaning is longer than 64 characters (highdicom's limit: LO).
    """
    item = Dataset()
    value = str(concept.value)
    if len(value) > 16:
        if value.startswith("urn") or "://" in value:
            item.URNCodeValue = value
        else:
            item.LongCodeValue = value
    else:
        item.CodeValue = value
    if len(concept.meaning) > 64:
        raise ValueError("Code meaning can have maximally 64 characters.")
    item.CodeMeaning = str(concept.meaning)
    item.CodingSchemeDesignator = str(concept.scheme_designator)
    if concept.scheme_version is not None:
        item.CodingSchemeVersion = str(concept.scheme_version)
    return item


def _item(value_type: str, name: Code, relationship: str | None) -> Dataset:
    """The attributes every content item has (``highdicom.sr.ContentItem``)."""
    item = Dataset()
    item.ValueType = value_type
    item.ConceptNameCodeSequence = [code(name)]
    if relationship is not None:
        item.RelationshipType = relationship
    return item


def text_item(name: Code, value: str, relationship: str) -> Dataset:
    """A TEXT item (``highdicom.sr.TextContentItem``)."""
    item = _item("TEXT", name, relationship)
    item.TextValue = str(value)
    return item


def code_item(name: Code, value: Code, relationship: str) -> Dataset:
    """A CODE item (``highdicom.sr.CodeContentItem``)."""
    item = _item("CODE", name, relationship)
    item.ConceptCodeSequence = [code(value)]
    return item


def uidref_item(name: Code, value: str, relationship: str) -> Dataset:
    """A UIDREF item (``highdicom.sr.UIDRefContentItem``)."""
    item = _item("UIDREF", name, relationship)
    item.UID = str(value)
    return item


def num_item(name: Code, value: float, unit: Code, relationship: str) -> Dataset:
    """A NUM item with a float value (``highdicom.sr.NumContentItem``, as ``Measurement``).

    Raises:
        TypeError: If ``value`` is not a float (highdicom writes no Floating Point Value
            for an int, a case the report never has).
    """
    if not isinstance(value, float):
        raise TypeError(f"a measured value must be a float, got {value!r}")
    item = _item("NUM", name, relationship)
    measured = Dataset()
    measured.NumericValue = DS(value, auto_format=True)
    measured.FloatingPointValue = value
    measured.MeasurementUnitsCodeSequence = [code(unit)]
    item.MeasuredValueSequence = [measured]
    return item


def image_item(name: Code, sop_class_uid: str, sop_instance_uid: str,
               relationship: str) -> Dataset:
    """An IMAGE item referencing one instance (``highdicom.sr.ImageContentItem``)."""
    item = _item("IMAGE", name, relationship)
    reference = Dataset()
    reference.ReferencedSOPClassUID = sop_class_uid
    reference.ReferencedSOPInstanceUID = sop_instance_uid
    item.ReferencedSOPSequence = [reference]
    return item


def container_item(name: Code, children: Sequence[Dataset], *,
                   relationship: str | None = None,
                   template_id: str | None = None) -> Dataset:
    """A CONTAINER item, continuous, holding ``children``.

    (``highdicom.sr.ContainerContentItem``; ``relationship`` is ``None`` for the root.)
    """
    item = _item("CONTAINER", name, relationship)
    item.ContinuityOfContent = "CONTINUOUS"
    if template_id is not None:
        template = Dataset()
        template.MappingResource = "DCMR"
        template.TemplateIdentifier = template_id
        item.ContentTemplateSequence = [template]
    item.ContentSequence = list(children)
    return item
