"""Stray connections, as a network scanner or a broken client makes them (tests and benchmark).

* **silent**: a TCP connection that never sends a byte, held open;
* **garbage**: random bytes, then the connection is closed;
* **oversize**: a PDU header that declares about 4 GB (an A-ASSOCIATE-RQ or a P-DATA-TF),
  a few kilobytes of it, then the connection is closed.

All of them come from the caller's process, over real sockets.
"""

from __future__ import annotations

import contextlib
import random
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

#: A header declaring a PDU of 4,294,967,040 bytes (type A-ASSOCIATE-RQ, then P-DATA-TF).
OVERSIZE_HEADERS = (b"\x01\x00" + struct.pack(">L", 0xFFFFFF00),
                    b"\x04\x00" + struct.pack(">L", 0xFFFFFF00))


class SilentHolder:
    """Keeps ``count`` silent connections open in a thread, reconnecting those the node drops.

    A scanner that keeps coming back: the node's first-PDU deadline frees a slot, and the
    holder takes it again at once.
    """

    def __init__(self, address: tuple[str, int], count: int) -> None:
        self.address = address
        self.count = count
        self.reconnected = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SilentHolder:
        self._held = [socket.create_connection(self.address, timeout=10)
                      for _ in range(self.count)]
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for sock in self._held:
            with contextlib.suppress(OSError):
                sock.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select(self._held, [], [], 0.2)
            for sock in readable:
                with contextlib.suppress(OSError):
                    if sock.recv(1):
                        continue  # the node said something: keep silent anyway
                with contextlib.suppress(OSError):
                    sock.close()
                index = self._held.index(sock)
                try:
                    self._held[index] = socket.create_connection(self.address, timeout=10)
                    self.reconnected += 1
                except OSError:
                    del self._held[index]


@contextmanager
def silent_connections(address: tuple[str, int], count: int) -> Iterator[list[socket.socket]]:
    """Hold ``count`` connections that never speak; close them on exit."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            held.append(socket.create_connection(address, timeout=10))
        yield held
    finally:
        for sock in held:
            with contextlib.suppress(OSError):
                sock.close()


def _one_stray(address: tuple[str, int], kind: str, rng: random.Random) -> None:
    with contextlib.suppress(OSError), socket.create_connection(address, timeout=10) as sock:
        if kind == "garbage":
            sock.sendall(rng.randbytes(rng.randint(1, 4096)))
        else:
            sock.sendall(OVERSIZE_HEADERS[rng.randrange(2)] + rng.randbytes(8192))
        # Give the node a moment to read before the connection goes (as a scanner does).
        time.sleep(0.05)


@dataclass
class StrayTally:
    """What a burst of stray connections did."""

    made: int = 0
    failed: int = 0


def stray_burst(address: tuple[str, int], count: int, *, threads: int = 8,
                seed: int = 0, spread: float = 0.0) -> StrayTally:
    """Make ``count`` garbage and oversize connections (alternating) from ``threads`` threads.

    ``spread``: seconds over which they arrive at an even pace (0: as fast as possible).
    """
    tally = StrayTally()
    lock = threading.Lock()
    start = time.monotonic()

    def work(part: range, rng: random.Random) -> None:
        for index in part:
            if spread:
                time.sleep(max(0.0, start + index * spread / count - time.monotonic()))
            try:
                _one_stray(address, "garbage" if index % 2 == 0 else "oversize", rng)
                with lock:
                    tally.made += 1
            except Exception:  # counted, never raised: the burst goes on
                with lock:
                    tally.failed += 1

    workers = [threading.Thread(target=work, args=(range(i, count, threads),
                                                   random.Random(seed * 1000 + i)))
               for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return tally


def echo_seconds(address: tuple[str, int], calling_ae: str = "XRAYROOM",
                 timeout: float = 10.0) -> float | None:
    """Time a real C-ECHO (association, echo, release); ``None`` when it was not answered."""
    from pynetdicom import AE

    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.connection_timeout = timeout
    ae.add_requested_context("1.2.840.10008.1.1")
    started = time.perf_counter()
    assoc = ae.associate(address[0], address[1], ae_title="LUNGLENS")
    if not assoc.is_established:
        return None
    try:
        status = assoc.send_c_echo()
    finally:
        if assoc.is_established:
            assoc.release()
    if "Status" not in status or int(status.Status) != 0:
        return None
    return time.perf_counter() - started
