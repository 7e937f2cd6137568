"""Patient keys derived from file names, for splitting by patient.

Splitting by image instead of by patient lets the same child's two films sit on both sides of
a split, and the test score then measures memory, not diagnosis. When a table has no
``patient_id`` column, Kermany-style names still carry the patient:

* ``person1004_virus_1686.jpeg`` / ``person1004_bacteria_2932.jpeg`` -> ``person1004`` (the same
  ``personN`` number occurs in both the bacteria and the virus series; treated as one patient);
* ``IM-0291-0001.jpeg`` / ``IM-0291-0001-0002.jpeg`` -> ``IM-0291``;
* ``NORMAL2-IM-0887-0001.jpeg`` -> ``NORMAL2-IM-0887``.
"""

from __future__ import annotations

import re
from pathlib import PurePath

__all__ = ["derive_patient_id"]

_PATTERNS = (
    re.compile(r"(NORMAL2-IM-\d+)", re.IGNORECASE),
    re.compile(r"(?<![A-Za-z0-9])(IM-\d+)", re.IGNORECASE),
    re.compile(r"(person\d+)_", re.IGNORECASE),
)


def derive_patient_id(file_name: str, *, fallback: bool = True) -> str | None:
    """Return the patient key encoded in a Kermany-style file name.

    Args:
        file_name: File name or path; only the final component is used.
        fallback: When no pattern matches, return the file stem (each image its own patient)
            instead of ``None``.

    Returns:
        The key (upper-case ``IM``/``NORMAL2`` prefixes, lower-case ``person``), the stem, or
        ``None``.
    """
    name = PurePath(str(file_name)).name
    for pattern in _PATTERNS:
        match = pattern.search(name)
        if match:
            key = match.group(1)
            return key.lower() if key.lower().startswith("person") else key.upper()
    if fallback:
        return PurePath(name).stem
    return None
