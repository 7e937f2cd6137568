"""The patient's age at the time of the film, read from a DICOM header.

The model's measured performance differs a lot between adults and children (the public test
images are mostly children), so the result panel shows the figures of the patient's own age
group when the file says how old the patient was. DICOM says it in ``PatientAge`` ("045Y",
"006M", "003W", "010D"), or lets us work it out from ``PatientBirthDate`` and the date of the
study (``StudyDate``, else ``AcquisitionDate``). Other formats carry no age.

Headers in the wild are often incomplete or garbled (anonymisers blank dates, PACS exports
write "45" or "045 Y"), so nothing here raises: every function returns a :class:`PatientAge`
whose ``reason`` says why the age is unknown. Only the age in years leaves this module, never
the dates themselves (they identify the patient).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ADULT_AGE",
    "MAX_PLAUSIBLE_AGE",
    "PatientAge",
    "age_from_dataset",
    "age_from_dates",
    "age_group_basis",
    "decision_age_group",
    "parse_age_string",
    "parse_dicom_date",
    "read_patient_age",
]

#: Adults are 18 years and older, as in the training data's ``age_group``.
ADULT_AGE = 18.0
#: Older than this is a typing error or a placeholder (e.g. "999Y"), not an age.
MAX_PLAUSIBLE_AGE = 125.0

_DAYS_PER_YEAR = 365.2425
_UNIT_DAYS = {"D": 1.0, "W": 7.0, "M": _DAYS_PER_YEAR / 12.0, "Y": _DAYS_PER_YEAR}
_UNIT_WORDS = {"D": "day", "W": "week", "M": "month", "Y": "year"}
_AGE_STRING = re.compile(r"^\s*(\d{1,3})\s*([DWMY])\s*$", re.IGNORECASE)
_DATE_STRING = re.compile(r"^\s*(\d{4})[.\-]?(\d{2})[.\-]?(\d{2})\s*$")


@dataclass(frozen=True)
class PatientAge:
    """How old the patient was when the film was taken, or why that is not known.

    Attributes:
        years: Age in years (fractional: 6 months = 0.5), or None when unknown.
        source: Where the age came from, e.g. ``"DICOM PatientAge 045Y"``; empty if unknown.
        reason: Why the age is unknown (empty when it is known), naming the tag and value.
    """

    years: float | None
    source: str = ""
    reason: str = ""

    @classmethod
    def unknown(cls, reason: str) -> PatientAge:
        """An unknown age and why."""
        return cls(None, "", reason)

    @property
    def known(self) -> bool:
        """True when the age is known."""
        return self.years is not None

    @property
    def age_group(self) -> str:
        """``"adult"`` (18 and over), ``"child"`` or ``"unknown"``: the card's age groups."""
        if self.years is None:
            return "unknown"
        return "adult" if self.years >= ADULT_AGE else "child"

    def describe(self) -> str:
        """``"45 years"``, ``"6 months"``, ``"3 weeks"``; or ``"unknown"``."""
        if self.years is None:
            return "unknown"
        if self.years >= 2:
            return _plural(int(self.years), "year")
        days = self.years * _DAYS_PER_YEAR
        if days >= 61:
            return _plural(int(days / _UNIT_DAYS["M"]), "month")
        if days >= 14:
            return _plural(int(days / 7), "week")
        return _plural(round(days), "day")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def parse_age_string(text: str) -> float:
    """A DICOM Age String (``"045Y"``, ``"006M"``, ``"003W"``, ``"010D"``) in years.

    Lenient about padding, case and a space before the unit ("45Y", "045 y"), strict about the
    unit: a bare number could be years or months, so it is refused rather than guessed.

    Raises:
        ValueError: Quoting the value, when it is not an age string or not a plausible age.
    """
    match = _AGE_STRING.match(text)
    if match is None:
        raise ValueError(f"PatientAge {text!r} is not an age like '045Y' or '006M'")
    count, unit = int(match.group(1)), match.group(2).upper()
    years = {"Y": float(count), "M": count / 12.0}.get(unit, count * _UNIT_DAYS[unit]
                                                        / _DAYS_PER_YEAR)
    if years > MAX_PLAUSIBLE_AGE:
        raise ValueError(f"PatientAge {text!r} is not a plausible age")
    return years


def parse_dicom_date(text: str) -> dt.date:
    """A DICOM Date (``"20210315"``; the old ``"2021.03.15"`` too).

    Raises:
        ValueError: Quoting the value, when it is not a date.
    """
    match = _DATE_STRING.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a date like '20210315'")
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise ValueError(f"{text!r} is not a valid date") from None


def age_from_dates(birth: dt.date, on: dt.date) -> float:
    """Age in years on ``on``: completed years plus the fraction of the current one.

    Completed years decide the age group exactly (17 years and 364 days is a child).

    Raises:
        ValueError: When ``birth`` is after ``on`` or the age is not plausible.
    """
    if birth > on:
        raise ValueError(f"birth date {birth.isoformat()} is after the study date "
                         f"{on.isoformat()}")
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    last_birthday = _anniversary(birth, birth.year + years)
    next_birthday = _anniversary(birth, birth.year + years + 1)
    fraction = (on - last_birthday).days / max(1, (next_birthday - last_birthday).days)
    age = years + fraction
    if age > MAX_PLAUSIBLE_AGE:
        raise ValueError(f"birth date {birth.isoformat()} gives an implausible age of "
                         f"{years} years")
    return age


def _anniversary(birth: dt.date, year: int) -> dt.date:
    try:
        return birth.replace(year=year)
    except ValueError:  # born on 29 February: the birthday is 28 February in other years
        return birth.replace(year=year, day=28)


def _text(ds: Any, keyword: str) -> str | None:
    """A tag's value as printable text; None when absent, empty or unreadable."""
    try:
        value = ds.get(keyword)
    except Exception:  # a garbled element must not stop the other tags
        return None
    if value is None:
        return None
    text = "".join(ch for ch in str(value) if ch.isprintable()).strip()
    return text or None


def age_from_dataset(ds: Any) -> PatientAge:
    """The age from a pydicom data set: ``PatientAge``, else birth date and study date.

    Never raises: a missing or garbled tag gives an unknown age with the reason.
    """
    problems: list[str] = []
    age_text = _text(ds, "PatientAge")
    if age_text is None:
        problems.append("no PatientAge")
    else:
        try:
            return PatientAge(parse_age_string(age_text), f"DICOM PatientAge {age_text}")
        except ValueError as error:
            problems.append(str(error))
    birth_text = _text(ds, "PatientBirthDate")
    on_keyword = next((k for k in ("StudyDate", "AcquisitionDate") if _text(ds, k)), None)
    if birth_text is None:
        problems.append("no PatientBirthDate")
    if on_keyword is None:
        problems.append("no StudyDate or AcquisitionDate")
    if birth_text is None or on_keyword is None:
        return PatientAge.unknown("DICOM header: " + "; ".join(problems))
    on_text = _text(ds, on_keyword) or ""
    try:
        birth = parse_dicom_date(birth_text)
    except ValueError as error:
        return PatientAge.unknown("DICOM header: " + "; ".join(
            [*problems, f"PatientBirthDate {error}"]))
    try:
        on = parse_dicom_date(on_text)
    except ValueError as error:
        return PatientAge.unknown("DICOM header: " + "; ".join(
            [*problems, f"{on_keyword} {error}"]))
    try:
        years = age_from_dates(birth, on)
    except ValueError as error:
        return PatientAge.unknown("DICOM header: " + "; ".join([*problems, str(error)]))
    return PatientAge(years, f"DICOM PatientBirthDate and {on_keyword}")


def read_patient_age(path: str | os.PathLike[str]) -> PatientAge:
    """The patient's age from a DICOM file's header (pixels are not read).

    Never raises: an unreadable file or header gives an unknown age with the reason, naming
    the file. The image loader reports unreadable images in its own words; this only answers
    "how old was the patient".
    """
    import pydicom  # imported on first use, like the image loader

    file = Path(path)
    try:
        ds = pydicom.dcmread(file, stop_before_pixels=True, force=True)
    except Exception as error:  # any header failure: age unknown
        return PatientAge.unknown(f"cannot read the DICOM header of {file.name}: "
                                  f"{type(error).__name__}")
    return age_from_dataset(ds)


def decision_age_group(age: PatientAge | None, hint: str | None) -> str:
    """The age group a film is decided for: its own (DICOM) age, else the caller's hint.

    One rule for the app, ``classify`` and ``validate``: the film's header wins because it is
    the patient's own record; a data table's ``age``/``age_group`` fills in for formats that
    carry no age. ``"unknown"`` when neither says (the card's top-level thresholds apply).
    """
    if age is not None and age.known:
        return age.age_group
    return hint if hint in ("child", "adult") else "unknown"


def age_group_basis(age: PatientAge | None, age_group: str) -> str:
    """Why a film was decided for ``age_group``, in words a reader can check.

    ``"PatientAge 045Y"`` (the header's own words), ``"the age group 'adult' given with the
    film"`` (a data file's ``age``/``age_group``), or ``"age unknown: no PatientAge; ..."``.
    One wording for the window, the exports and the Structured Report.
    """
    if age is not None and age.known:
        return age.source.removeprefix("DICOM ") if age.source else f"age {age.describe()}"
    if age_group in ("child", "adult"):
        return f"the age group {age_group!r} given with the film"
    if age is not None and age.reason:
        return f"age unknown: {age.reason}"
    return "age unknown"
