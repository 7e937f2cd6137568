"""A small DICOM Storage SCP: chest films pushed by an X-ray unit or a PACS become rows.

Built on pynetdicom (the protocol) and pydicom (the dataset checks); no protocol code here.
What it accepts:

* C-ECHO (Verification), so a modality's "test connection" works;
* C-STORE of CR, DX (for presentation and for processing) and Secondary Capture images in
  the transfer syntaxes the loader decodes (:data:`TRANSFER_SYNTAXES`). Other SOP classes are
  refused at association (presentation context result "abstract syntax not supported"), so a
  sender learns before sending a byte.

What it refuses, each with a DICOM status and a log line, while it keeps serving:

* a calling AE title not in ``allowed_aes`` (when given): association rejected, "calling AE
  title not recognised";
* a dataset over ``max_bytes``: ``0xA700`` Refused: Out of Resources;
* a dataset that cannot be parsed, lacks pixel data, has truncated pixel data or an invalid
  SOP Instance UID: ``0xC000`` Error: Cannot understand;
* a dataset whose SOP class or instance does not match the request: ``0xA900``.

What a connection may hold before and after it asks for an association is bounded
(:mod:`desktop_app.core.node.connection_gate`): a connection that does not send a complete
A-ASSOCIATE-RQ within 10 s, sends something else, or declares an oversized PDU is closed with
one log line, and never takes one of the :data:`MAXIMUM_ASSOCIATIONS` association slots.

A film is answered ``0x0000`` only once its bytes are on disk under a name made from its
validated UID (written atomically, :mod:`desktop_app.core.imaging.film_files`) and its row is
committed in the worklist. The bytes are stored exactly as received; nothing in them is
executed or opened other than by the image loader during analysis.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import pydicom

from desktop_app.core.hashing import sha256_bytes
from desktop_app.core.imaging import VERIFIED_TRANSFER_SYNTAXES
from desktop_app.core.imaging.film_files import (
    is_valid_uid,
    received_file,
    write_atomically,
)
from desktop_app.core.node.connection_gate import GatePolicy
from desktop_app.core.node.worklist_store import WorklistStore

__all__ = [
    "DEFAULT_AE_TITLE",
    "DEFAULT_HOST",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_PORT",
    "IMAGE_STORAGE_CLASSES",
    "STATUS_CANNOT_UNDERSTAND",
    "STATUS_DOES_NOT_MATCH",
    "STATUS_OUT_OF_RESOURCES",
    "STATUS_SUCCESS",
    "TRANSFER_SYNTAXES",
    "ReceivedFilm",
    "ReceiverConfig",
    "StorageReceiver",
    "listening_address",
]

LOGGER = logging.getLogger("desktop_app.dicom")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 11112
DEFAULT_AE_TITLE = "LUNGLENS"
#: Largest dataset stored (a 3,000 x 3,000 16-bit film is 18 MB; 200 MB allows multi-frame).
DEFAULT_MAX_BYTES = 200 * 1024 * 1024

STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700
STATUS_DOES_NOT_MATCH = 0xA900
STATUS_CANNOT_UNDERSTAND = 0xC000

#: The image SOP classes a chest film arrives as, with the name the log shows.
IMAGE_STORAGE_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.1": "Computed Radiography Image Storage",
    "1.2.840.10008.5.1.4.1.1.1.1": "Digital X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.1.1.1": "Digital X-Ray Image Storage - For Processing",
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture Image Storage",
}
#: Transfer syntaxes accepted: exactly those the image loader is tested to decode (one list,
#: :data:`desktop_app.core.imaging.VERIFIED_TRANSFER_SYNTAXES`), so a film is never
#: acknowledged that the loader cannot read.
TRANSFER_SYNTAXES: tuple[str, ...] = VERIFIED_TRANSFER_SYNTAXES
_VERIFICATION = "1.2.840.10008.1.1"
# The log line that says where the receiver listens (read back by the window and the tests).
_LISTENING = re.compile(r"listening as AE .* on ([0-9A-Za-z.:\[\]-]+):([0-9]+) ")
#: Largest P-DATA PDU a sender may send us. pynetdicom's default (16 kB) cuts an 18 MB film
#: into 1,100 PDUs, each handled in Python; 1 MiB keeps the per-film overhead small while a
#: single PDU still cannot hold much memory.
MAXIMUM_PDU_BYTES = 1024 * 1024
#: The largest PDU read from an associated peer. PS3.8 forbids P-DATA PDUs over the maximum
#: length we announce; some senders are sloppy, so four times that is read, and a header
#: declaring more (4 GB, say) closes the connection before any of it is allocated.
LARGEST_PDU_BYTES = 4 * MAXIMUM_PDU_BYTES
#: Associations at a time. Only peers that asked properly take one (the gate holds the
#: others), so stray connections cannot fill them.
MAXIMUM_ASSOCIATIONS = 8
#: An association that sends nothing for this long is aborted (Orthanc's default too).
IDLE_SECONDS = 30.0
#: A read or a write on an association that waits longer than this fails it (a peer stalled
#: in the middle of a PDU, or not reading our answers).
IO_SECONDS = 30.0
#: pynetdicom's ACSE timeout, here its ARTIM timer: how long a rejected peer may take to
#: close (the association request itself was read by the gate already).
ACSE_SECONDS = 10.0


def listening_address(log_text: str) -> tuple[str, int] | None:
    """The ``(host, port)`` a receiver's log says it listens on, or ``None`` (not yet)."""
    match = _LISTENING.search(log_text)
    return (match.group(1), int(match.group(2))) if match else None


@dataclass(frozen=True)
class ReceiverConfig:
    """How the receiver listens and whom it serves.

    Attributes:
        host: Interface to listen on; loopback unless the user names another.
        port: TCP port (0: any free port, for tests).
        ae_title: Our AE title (what senders call).
        allowed_aes: When not empty, only these calling AE titles may associate.
        max_bytes: Largest dataset accepted.
        gate: What a connection may hold before it asks for an association.
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    ae_title: str = DEFAULT_AE_TITLE
    allowed_aes: tuple[str, ...] = ()
    max_bytes: int = DEFAULT_MAX_BYTES
    gate: GatePolicy = field(default_factory=GatePolicy)

    def __post_init__(self) -> None:
        for title in (self.ae_title, *self.allowed_aes):
            if not 0 < len(title.strip()) <= 16 or "\\" in title:
                raise ValueError(f"an AE title has 1 to 16 characters and no '\\', "
                                 f"got {title!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0 to 65535, got {self.port}")
        if self.max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, got {self.max_bytes}")


@dataclass(frozen=True)
class ReceivedFilm:
    """A film acknowledged with success and queued.

    Attributes:
        sop_instance_uid: Its UID.
        calling_ae: The sender.
        stored_file: Where its bytes are.
        received: When.
    """

    sop_instance_uid: str
    calling_ae: str
    stored_file: Path
    received: dt.datetime


class _RefusedError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class _Counters:
    stored: int = 0
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class StorageReceiver:
    """Listens in background threads (one per association) until :meth:`stop`.

    ``on_received`` is called from the association's thread after each film is queued
    (a Qt adapter turns it into a signal; the headless server wakes its analysis loop).
    """

    def __init__(self, config: ReceiverConfig, store: WorklistStore, received_dir: Path,
                 on_received: Callable[[ReceivedFilm], None] | None = None) -> None:
        self.config = config
        self.store = store
        self.received_dir = Path(received_dir)
        self.on_received = on_received
        self._server: Any = None
        self._counters = _Counters()
        self._dropped = 0

    @property
    def address(self) -> tuple[str, int]:
        """The ``(host, port)`` listened on (the real port when configured with 0)."""
        if self._server is None:
            raise RuntimeError("the receiver is not listening")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def listening(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._server is not None

    @property
    def stored_count(self) -> int:
        """Films answered with success since :meth:`start`."""
        return self._counters.stored

    @property
    def refused_count(self) -> int:
        """C-STORE requests answered with a failure since :meth:`start`."""
        return self._counters.refused

    @property
    def dropped_count(self) -> int:
        """Connections closed before they asked for an association, since :meth:`start`."""
        return self._server.gate.drops.total if self._server is not None else self._dropped

    def start(self) -> None:
        """Bind and listen (returns at once).

        Raises:
            OSError: If the address cannot be bound (port in use, no such interface).
        """
        from pynetdicom import AE, evt

        from desktop_app.core.node.association_server import GatedServer, install_one_line_log

        # pynetdicom logs every PDU at INFO; the node logs each association itself.
        logging.getLogger("pynetdicom").setLevel(logging.WARNING)
        install_one_line_log()
        ae = AE(ae_title=self.config.ae_title)
        ae.add_supported_context(_VERIFICATION)
        for sop_class in IMAGE_STORAGE_CLASSES:
            ae.add_supported_context(sop_class, list(TRANSFER_SYNTAXES))
        if self.config.allowed_aes:
            ae.require_calling_aet = list(self.config.allowed_aes)
        ae.maximum_associations = MAXIMUM_ASSOCIATIONS
        ae.maximum_pdu_size = MAXIMUM_PDU_BYTES
        ae.network_timeout = IDLE_SECONDS
        ae.acse_timeout = ACSE_SECONDS
        handlers = [
            (evt.EVT_C_STORE, self._on_c_store),
            (evt.EVT_C_ECHO, self._on_c_echo),
            (evt.EVT_ACCEPTED, self._on_accepted),
            (evt.EVT_REJECTED, self._on_rejected),
            (evt.EVT_RELEASED, self._on_released),
            (evt.EVT_ABORTED, self._on_aborted),
        ]
        self._counters = _Counters()
        server = ae.make_server((self.config.host, self.config.port), evt_handlers=handlers,
                                server_class=GatedServer, policy=self.config.gate,
                                largest_pdu=LARGEST_PDU_BYTES, io_seconds=IO_SECONDS)
        threading.Thread(target=server.serve_forever, name="dicom-accept",
                         daemon=True).start()
        self._server = server
        host, port = self.address
        allowed = ", ".join(self.config.allowed_aes) or "any"
        LOGGER.info("listening as AE %r on %s:%d (calling AE titles allowed: %s)",
                    self.config.ae_title, host, port, allowed)

    def stop(self) -> None:
        """Stop listening; associations in progress are closed."""
        if self._server is not None:
            self._server.shutdown()
            self._dropped = self._server.gate.drops.total
            self._server = None
            LOGGER.info("stopped listening (%d film(s) stored, %d refused; %d stray "
                        "connection(s) dropped)", self.stored_count, self.refused_count,
                        self._dropped)

    # -- association log -----------------------------------------------------------------------

    @staticmethod
    def _peer(event: Any) -> str:
        requestor = event.assoc.requestor
        return f"AE {requestor.ae_title!r} at {requestor.address}:{requestor.port}"

    def _on_accepted(self, event: Any) -> None:
        refused = [IMAGE_STORAGE_CLASSES.get(c.abstract_syntax, str(c.abstract_syntax))
                   for c in event.assoc.rejected_contexts]
        message = f"association accepted from {self._peer(event)}"
        if refused:
            # Non-image SOP classes land here: the sender is told per context.
            message += (f"; refused presentation context(s) (abstract syntax not supported): "
                        f"{', '.join(sorted(set(refused)))}")
        LOGGER.info(message)

    def _on_rejected(self, event: Any) -> None:
        answer = event.assoc.acceptor.primitive
        if answer is not None and (answer.result_source, answer.diagnostic) == (3, 2):
            LOGGER.warning("association rejected from %s: %d associations at a time already "
                           "(local limit exceeded; the sender may try again)",
                           self._peer(event), MAXIMUM_ASSOCIATIONS)
            return
        LOGGER.warning("association rejected from %s: calling AE title not allowed "
                       "(allowed: %s)", self._peer(event), ", ".join(self.config.allowed_aes))

    def _on_released(self, event: Any) -> None:
        LOGGER.info("association released by %s", self._peer(event))

    def _on_aborted(self, event: Any) -> None:
        LOGGER.warning("association aborted with %s", self._peer(event))

    @staticmethod
    def _on_c_echo(event: Any) -> int:
        return STATUS_SUCCESS

    # -- storing -------------------------------------------------------------------------------

    def _on_c_store(self, event: Any) -> int:
        calling_ae = str(event.assoc.requestor.ae_title).strip()
        instance = str(event.request.AffectedSOPInstanceUID)
        try:
            film = self._store(event, calling_ae)
        except _RefusedError as refusal:
            with self._counters.lock:
                self._counters.refused += 1
            LOGGER.warning("C-STORE from AE %r refused with status 0x%04X: %s (instance %r)",
                           calling_ae, refusal.status, refusal.reason, instance[:80])
            return refusal.status
        except OSError as error:
            with self._counters.lock:
                self._counters.refused += 1
            LOGGER.error("C-STORE from AE %r not stored (status 0x%04X): %s", calling_ae,
                         STATUS_OUT_OF_RESOURCES, error)
            return STATUS_OUT_OF_RESOURCES
        with self._counters.lock:
            self._counters.stored += 1
        if film is not None and self.on_received is not None:
            self.on_received(film)
        return STATUS_SUCCESS

    def _store(self, event: Any, calling_ae: str) -> ReceivedFilm | None:
        """Check, write and queue one dataset; ``None`` when its UID was already stored."""
        size = event.request.DataSet.getbuffer().nbytes
        if size > self.config.max_bytes:
            raise _RefusedError(STATUS_OUT_OF_RESOURCES,
                           f"dataset of {size:,} bytes exceeds the limit of "
                           f"{self.config.max_bytes:,} bytes")
        data = event.encoded_dataset(include_meta=True)
        uid = _checked_uid(data, event.request)
        if self.store.has_film(uid):
            LOGGER.info("C-STORE from AE %r: instance %s already received; kept once",
                        calling_ae, uid)
            return None
        received = dt.datetime.now().astimezone()
        path = received_file(self.received_dir, received.strftime("%Y%m%d"), uid)
        write_atomically(path, data)
        if not self.store.add_film(uid, origin="dicom", stored_file=path,
                                   sha256=sha256_bytes(data), calling_ae=calling_ae,
                                   received=received):
            return None  # the same instance arrived on two associations at once
        LOGGER.info("stored %s from AE %r (%s bytes)", uid, calling_ae, f"{len(data):,}")
        return ReceivedFilm(uid, calling_ae, path, received)


def _checked_uid(data: bytes, request: Any) -> str:
    """The dataset's SOP Instance UID after the checks that decide its status.

    Raises:
        _RefusedError: With the status and the reason quoting the bad value.
    """
    try:
        dataset = pydicom.dcmread(BytesIO(data), force=False)
        sop_class = str(dataset.get("SOPClassUID", ""))
        uid = str(dataset.get("SOPInstanceUID", ""))
        rows = int(dataset.get("Rows", 0) or 0)
        has_pixels = "PixelData" in dataset
        expected = _expected_native_length(dataset) if has_pixels else 0
        actual = len(dataset.PixelData) if has_pixels else 0
    except Exception as error:  # any parse failure is "cannot understand"
        raise _RefusedError(STATUS_CANNOT_UNDERSTAND,
                       f"dataset cannot be parsed: {type(error).__name__}: {error}") from error
    if not is_valid_uid(uid):
        raise _RefusedError(STATUS_CANNOT_UNDERSTAND, f"invalid SOP Instance UID {uid[:80]!r}")
    if uid != str(request.AffectedSOPInstanceUID):
        raise _RefusedError(STATUS_DOES_NOT_MATCH,
                       f"dataset SOP Instance UID {uid!r} differs from the request's "
                       f"{str(request.AffectedSOPInstanceUID)[:80]!r}")
    if sop_class != str(request.AffectedSOPClassUID) or sop_class not in IMAGE_STORAGE_CLASSES:
        raise _RefusedError(STATUS_DOES_NOT_MATCH,
                       f"dataset SOP Class UID {sop_class[:80]!r} does not match the request's "
                       f"{str(request.AffectedSOPClassUID)!r}")
    if not has_pixels or rows <= 0:
        raise _RefusedError(STATUS_CANNOT_UNDERSTAND, "dataset has no pixel data")
    if actual < expected:
        raise _RefusedError(STATUS_CANNOT_UNDERSTAND,
                       f"pixel data truncated: {actual:,} of {expected:,} bytes")
    return uid


def _expected_native_length(dataset: pydicom.Dataset) -> int:
    """Bytes of uncompressed pixel data the header promises (0 for compressed data)."""
    if dataset.file_meta.TransferSyntaxUID.is_compressed:
        return 0  # encapsulated: a damaged stream fails at decoding and the row says so
    from pydicom.pixels.utils import get_expected_length

    return int(get_expected_length(dataset, unit="bytes"))
