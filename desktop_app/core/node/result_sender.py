"""Sending result files to a destination: pynetdicom's SCU, and what each answer means.

No protocol code here: pynetdicom associates, negotiates and sends. This module decides what
to propose (each result's SOP class in Explicit *and* Implicit VR Little Endian, so a
destination that takes only the DICOM default syntax still gets the results; pynetdicom
re-encodes an uncompressed dataset for the context accepted) and how to read what comes
back. Every outcome is one of three kinds the outbox acts on:

* **sent**: status Success, or a warning (``0xB000``, ``0xB006``, ``0xB007``: stored, with
  a remark the outbox keeps);
* **try again** (transient): no connection, association aborted, rejected transiently, no
  answer within the timeout, ``0xA7xx`` Out of Resources;
* **failed** (permanent until someone acts): the destination does not accept the SOP class,
  rejects the association permanently (e.g. our AE title unknown), or answers with another
  failure status (``0xA9xx``, ``0xCxxx``...).

Nothing here writes to the worklist: the caller records the outcomes (write, commit, send;
the handler only records).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom

from desktop_app.core.node.destination import Destination

__all__ = ["SendOutcome", "echo", "send_files"]

LOGGER = logging.getLogger("desktop_app.dicom")
_TRANSFER_SYNTAXES = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")  # explicit, implicit VR LE
_VERIFICATION = "1.2.840.10008.1.1"
_WARNINGS = {0xB000: "coercion of data elements", 0xB006: "elements discarded",
             0xB007: "data set does not match SOP class"}


@dataclass(frozen=True)
class SendOutcome:
    """What became of one file.

    Attributes:
        path: The file.
        sent: True when the destination stored it (Success or a warning).
        permanent: For a failure: True when trying again soon would fail the same way.
        status: The DICOM status answered, if any.
        message: What happened, in plain words (a warning's meaning for sent files).
    """

    path: Path
    sent: bool
    permanent: bool = False
    status: int | None = None
    message: str | None = None


def _application_entity(calling_ae: str, timeout: float) -> Any:
    from pynetdicom import AE

    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.connection_timeout = timeout
    return ae


def _not_associated(assoc: Any, destination: Destination) -> tuple[bool, str]:
    """(permanent, why) for an association that was not established."""
    if assoc.is_rejected:
        answer = assoc.acceptor.primitive
        if answer is not None and answer.result == 0x02:
            # Rejected-transient: busy (too many associations), it may take us later.
            return False, (f"association rejected for now by {destination} (transient: "
                           f"{answer.reason_str or 'busy'})")
        # Usually our calling AE title or its called AE title is not what it expects:
        # retrying soon would be rejected the same way.
        return True, (f"association rejected by {destination} (check the calling and "
                      f"called AE titles)")
    refused = [str(c.abstract_syntax.name) for c in assoc.rejected_contexts]
    if refused and not assoc.accepted_contexts:
        # It answered, accepting none of the SOP classes proposed (pynetdicom then aborts).
        return True, (f"{destination} does not accept {', '.join(refused)}: presentation "
                      f"context rejected")
    # pynetdicom reports a refused TCP connection as an aborted association.
    return False, (f"no association with {destination}: connection refused, timed out or "
                   f"aborted")


def echo(destination: Destination, calling_ae: str, timeout: float = 10.0) -> str | None:
    """C-ECHO the destination; ``None`` when it answered Success, else why not."""
    ae = _application_entity(calling_ae, timeout)
    ae.add_requested_context(_VERIFICATION)
    assoc = ae.associate(destination.host, destination.port,
                         ae_title=destination.ae_title)
    if not assoc.is_established:
        return _not_associated(assoc, destination)[1]
    try:
        status = assoc.send_c_echo()
    finally:
        if assoc.is_established:
            assoc.release()
    if "Status" not in status:
        return f"{destination} did not answer the C-ECHO within {timeout:g} s"
    if int(status.Status) != 0:
        return f"{destination} answered the C-ECHO with status 0x{int(status.Status):04X}"
    return None


def _outcome(path: Path, status: pydicom.Dataset, destination: Destination) -> SendOutcome:
    if "Status" not in status:
        return SendOutcome(path, False, message=f"no answer from {destination} "
                           "(timeout or association lost)")
    code = int(status.Status)
    if code == 0x0000:
        return SendOutcome(path, True, status=code)
    if code in _WARNINGS or code & 0xF000 == 0xB000:
        return SendOutcome(path, True, status=code, message=f"stored with warning 0x{code:04X}"
                           f" ({_WARNINGS.get(code, 'warning')})")
    transient = code & 0xFF00 == 0xA700
    return SendOutcome(path, False, permanent=not transient, status=code,
                       message=f"{destination} answered failure status 0x{code:04X}"
                       + (" (out of resources)" if transient else ""))


def send_files(destination: Destination, files: Sequence[Path], calling_ae: str,
               timeout: float = 30.0) -> Iterator[SendOutcome]:
    """Send files over one association; yield one outcome per file, in order, as it comes.

    Yielded as each answer arrives so that the caller records it at once: a process killed
    in the middle of an association has recorded every answer it received. Files after a
    lost association get the association's outcome (try again).
    """
    # The headers name the SOP classes to propose; each file is read whole only when its
    # turn comes, so an association holds one Secondary Capture (3 MB) in memory, not all.
    classes = [str(pydicom.dcmread(path, stop_before_pixels=True).SOPClassUID)
               for path in files]
    ae = _application_entity(calling_ae, timeout)
    for sop_class in dict.fromkeys(classes):
        ae.add_requested_context(sop_class, list(_TRANSFER_SYNTAXES))
    assoc = ae.associate(destination.host, destination.port,
                         ae_title=destination.ae_title)
    if not assoc.is_established:
        permanent, why = _not_associated(assoc, destination)
        for path in files:
            yield SendOutcome(path, False, permanent=permanent, message=why)
        return
    accepted = {str(c.abstract_syntax) for c in assoc.accepted_contexts}
    try:
        for path, sop_class in zip(files, classes, strict=True):
            if sop_class not in accepted:
                yield SendOutcome(path, False, permanent=True, message=(
                    f"{destination} does not accept {pydicom.uid.UID(sop_class).name} "
                    f"({sop_class}): presentation context rejected"))
            elif not assoc.is_established:
                yield SendOutcome(path, False, message=(
                    f"association with {destination} lost before sending"))
            else:
                yield _outcome(path, assoc.send_c_store(pydicom.dcmread(path)), destination)
    finally:
        if assoc.is_established:
            assoc.release()
