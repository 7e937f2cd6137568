"""Files of received films: validated names, atomic writes, content hashes.

A name from the network never reaches the file system unchecked: a stored film is called
after its SOP Instance UID only once the UID has passed :func:`is_valid_uid` (digits and dots,
at most 64 characters, as PS3.5 9.1 defines it), so a UID such as ``../../etc/x`` or one with
a drive letter cannot name a path. The bytes are written to a temporary name in the target
folder, flushed with ``fsync`` and renamed into place: a crash leaves either the whole file
or an ignorable ``*.partial`` file, never a half film under a real name.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "PARTIAL_SUFFIX",
    "dicom_uid",
    "film_uid",
    "is_valid_uid",
    "received_file",
    "remove_partial_files",
    "uid_from_sha256",
    "write_all_atomically",
    "write_atomically",
]

PARTIAL_SUFFIX = ".partial"
# PS3.5 9.1: components of digits separated by dots, no leading zero in a multi-digit
# component, 64 characters at most.
_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
_MAX_UID_LENGTH = 64


def is_valid_uid(value: object) -> bool:
    """True when ``value`` is a well-formed DICOM UID (and so a safe file name)."""
    return (isinstance(value, str) and 0 < len(value) <= _MAX_UID_LENGTH
            and _UID.fullmatch(value) is not None)


def uid_from_sha256(digest: str) -> str:
    """A UID for a file that has none (e.g. a PNG), derived from its content.

    Under the ``2.25`` root (PS3.5 B.2: a UID from a 128-bit number), so the same bytes always
    get the same UID and one film opened twice stays one row.
    """
    return f"2.25.{int(digest[:32], 16)}"


def dicom_uid(path: Path) -> str | None:
    """The file's SOP Instance UID when present and valid (header only, pixels not read)."""
    import pydicom

    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=True, force=True,
                                  specific_tags=["SOPInstanceUID"])
    except Exception:  # an unreadable header only means "no UID"
        return None
    uid = str(dataset.get("SOPInstanceUID", ""))
    return uid if is_valid_uid(uid) else None


def film_uid(path: Path, digest: str, *, is_dicom: bool) -> str:
    """The worklist key of a file that was not received over DICOM (watched or opened).

    A DICOM file keeps its own SOP Instance UID, so the same film received, watched or
    opened is one row; any other file (or a DICOM file without a valid UID) gets
    :func:`uid_from_sha256` of its content, so the same bytes are one row wherever they lie.
    """
    return (dicom_uid(path) if is_dicom else None) or uid_from_sha256(digest)


def received_file(folder: Path, day: str, sop_instance_uid: str) -> Path:
    """Where a received film is kept: ``folder/day/<uid>.dcm``.

    Raises:
        ValueError: Quoting the value, if the UID or the day is not a safe name.
    """
    if not is_valid_uid(sop_instance_uid):
        raise ValueError(f"not a valid SOP Instance UID: {sop_instance_uid!r}")
    if not re.fullmatch(r"[0-9]{8}", day):
        raise ValueError(f"day must be YYYYMMDD, got {day!r}")
    return folder / day / f"{sop_instance_uid}.dcm"


def write_atomically(path: Path, data: bytes | memoryview) -> None:
    """Write ``data`` to ``path`` so that ``path`` holds all of it or does not change.

    Temporary name in the same folder, ``fsync``, rename, then ``fsync`` of the folder (on
    POSIX) so the rename itself survives a power cut.
    """
    write_all_atomically([(path, data)])


def write_all_atomically(files: Sequence[tuple[Path, bytes | memoryview]]) -> None:
    """:func:`write_atomically` for several files, with one ``fsync`` per folder at the end.

    Every file is written under a temporary name, synced and renamed; then each folder
    holding them is synced once. When this returns, all the files and their names are on
    disk, as after one :func:`write_atomically` each, with one folder ``fsync`` (a few
    milliseconds on a busy disk) instead of one per file. A crash part way leaves each file
    whole under its name or not there (or an ignorable ``*.partial``).
    """
    for path, data in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(
            f".{path.name}.{os.getpid()}.{threading.get_ident()}{PARTIAL_SUFFIX}")
        try:
            with open(partial, "xb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    if os.name == "posix":
        for folder in dict.fromkeys(path.parent for path, _ in files):
            descriptor = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)


def remove_partial_files(folder: Path) -> int:
    """Delete temporary files a killed receiver left behind; return how many.

    Called only while holding the data folder's lock, so no writer is using them.
    """
    removed = 0
    if folder.is_dir():
        for partial in folder.rglob(f"*{PARTIAL_SUFFIX}"):
            partial.unlink(missing_ok=True)
            removed += 1
    return removed
