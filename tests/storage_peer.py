"""A destination for results in the test: pynetdicom's Storage SCP, as storescp would be."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from pydicom.dataset import Dataset

SR_3D = "1.2.840.10008.5.1.4.1.1.88.34"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"


def free_port() -> int:
    """A TCP port nothing listens on (just now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Peer:
    """What the destination received: datasets by SOP Instance UID, with their syntax."""

    port: int
    ae_title: str
    stored: dict[str, Dataset] = field(default_factory=dict)
    syntaxes: dict[str, str] = field(default_factory=dict)
    copies: dict[str, int] = field(default_factory=dict)
    aborted: list[str] = field(default_factory=list)
    associations: int = 0
    most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def destination(self) -> str:
        return f"{self.ae_title}@127.0.0.1:{self.port}"

    def wait_for(self, count: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.stored) < count:
            assert time.monotonic() < deadline, f"{len(self.stored)} of {count} received"
            time.sleep(0.1)


@contextmanager
def storage_peer(*, port: int | None = None, ae_title: str = "PACS",
                 sop_classes: Sequence[str] = (SR_3D, SECONDARY_CAPTURE),
                 syntaxes: Sequence[str] = (EXPLICIT, IMPLICIT),
                 delay: float = 0.0, abort_first: int = 0,
                 max_associations: int = 10) -> Iterator[Peer]:
    """Listen as a Storage SCP for ``sop_classes`` in ``syntaxes``; yield what it received.

    ``delay`` seconds pass before each C-STORE is answered (a slow PACS, to kill a sender
    in the middle of sending). The first ``abort_first`` C-STOREs are not stored: the peer
    aborts the association instead of answering (their UIDs are listed in ``aborted``).
    Beyond ``max_associations`` at once, associations are rejected as transient (busy);
    ``most_at_once`` counts the most that were open together.
    """
    from pynetdicom import AE, evt

    peer = Peer(port or free_port(), ae_title)

    def on_store(event: object) -> int:
        time.sleep(delay)
        dataset = event.dataset  # type: ignore[attr-defined]
        uid = str(dataset.SOPInstanceUID)
        with peer.lock:
            abort = len(peer.aborted) < abort_first
            if abort:
                peer.aborted.append(uid)
        if abort:
            event.assoc.abort()  # type: ignore[attr-defined]
            return 0xC000  # never sent: the association is gone
        with peer.lock:
            peer.stored[uid] = dataset
            peer.syntaxes[uid] = str(event.context.transfer_syntax)  # type: ignore[attr-defined]
            peer.copies[uid] = peer.copies.get(uid, 0) + 1
        return 0x0000

    def on_open(event: object) -> None:
        with peer.lock:
            peer.associations += 1
            peer.most_at_once = max(peer.most_at_once, peer.associations)

    def on_close(event: object) -> None:
        with peer.lock:
            peer.associations -= 1

    ae = AE(ae_title=ae_title)
    ae.maximum_associations = max_associations
    ae.add_supported_context("1.2.840.10008.1.1")
    for sop_class in sop_classes:
        ae.add_supported_context(sop_class, list(syntaxes))
    server = ae.start_server(("127.0.0.1", peer.port), block=False,
                             evt_handlers=[(evt.EVT_C_STORE, on_store),
                                           (evt.EVT_ACCEPTED, on_open),
                                           (evt.EVT_RELEASED, on_close),
                                           (evt.EVT_ABORTED, on_close)])
    try:
        yield peer
    finally:
        server.shutdown()
