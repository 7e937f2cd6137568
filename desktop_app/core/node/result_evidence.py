"""The received film's header as the evidence a result object is built from.

The result objects copy the film's patient and study attributes and reference its SOP
Class and Instance UIDs. Senders often leave type 2 attributes out (no Patient's Sex, no
Study ID) where DICOM only asks that they be present, possibly empty; highdicom copies them
from the evidence and needs them there, so this module adds the missing ones empty rather
than invent values. Pixels are never read here: a header is a few kilobytes even for a
100 MB film.
"""

from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from desktop_app.core.imaging.film_files import is_valid_uid

__all__ = ["TYPE2_COPIED", "evidence_header", "read_film_header"]

#: Patient and study attributes a result must carry (empty when the film has none).
TYPE2_COPIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate",
                "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber")


def evidence_header(film: Dataset) -> Dataset:
    """A copy of the film's header with the type 2 attributes results copy present.

    Raises:
        ValueError: Quoting the value, if the film lacks a valid Study Instance, SOP Class
            or SOP Instance UID (no result can name its study or the film).
    """
    header = Dataset()
    header.update({element.tag: element for element in film
                   if element.tag != 0x7FE00010})
    for keyword in ("StudyInstanceUID", "SOPClassUID", "SOPInstanceUID"):
        value = str(film.get(keyword, ""))
        if not is_valid_uid(value):
            raise ValueError(f"the film's {keyword} is not a valid UID: {value!r}")
    for keyword in TYPE2_COPIED:
        if keyword not in header:
            setattr(header, keyword, None)
    return header


def read_film_header(path: Path) -> Dataset:
    """Read a DICOM film's header for :func:`evidence_header` (no pixels).

    Raises:
        ValueError: Naming the file, if it is not a DICOM file or its UIDs are unusable.
    """
    try:
        film = pydicom.dcmread(path, stop_before_pixels=True)
    except (pydicom.errors.InvalidDicomError, OSError, EOFError, ValueError) as error:
        raise ValueError(f"{str(path)!r} is not a readable DICOM file: {error}") from None
    return evidence_header(film)
