"""The door before the DICOM receiver: a connection must ask for an association, at once.

A hospital network is scanned routinely, and broken clients exist. Left to pynetdicom alone,
every TCP connection got an association thread (and a protocol thread) at once, counted
against the association limit, and waited 30 s for its first PDU; a connection closed early
still kept its slot until then, and a PDU header declaring 4 GB was read until the peer
stopped sending. So 20 silent connections silenced the node, and it stayed deaf for 28 s
after they went.

Here one thread holds every connection that has not yet sent a complete, well-formed
A-ASSOCIATE-RQ, reading without blocking and never beyond that first PDU. A connection is
dropped (closed, one log line with its address and why) when it:

* sends nothing complete within :attr:`GatePolicy.first_pdu_seconds`;
* sends something that is not an A-ASSOCIATE-RQ (first byte not ``0x01``), or one whose
  declared length is over :attr:`GatePolicy.max_request_bytes` (a 4 GB header costs six
  bytes of memory), or one that does not decode;
* is the oldest waiting connection when :attr:`GatePolicy.max_pending` are waiting (a
  modality speaks at once, so a newcomer is never the one evicted by silent ones).

Only a connection that passed is handed on (with the bytes read) to become an association,
so the association limit counts real peers only. Nothing here speaks DICOM beyond checking
that first PDU; pynetdicom answers it.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["ConnectionGate", "DropLog", "GatePolicy"]

LOGGER = logging.getLogger("desktop_app.dicom")

_ASSOCIATE_RQ = 0x01
_HEADER = 6
# An A-ASSOCIATE-RQ's fixed fields (protocol version to the reserved bytes, PS3.8 9.3.2)
# take 68 bytes, and its application context item is mandatory.
_SMALLEST_REQUEST = 68 + 4


@dataclass(frozen=True)
class GatePolicy:
    """What a connection may hold before it has asked for an association.

    Attributes:
        first_pdu_seconds: Time from connecting to a complete A-ASSOCIATE-RQ.
        max_request_bytes: Largest A-ASSOCIATE-RQ accepted (its declared length). A request
            proposing 128 presentation contexts with a few transfer syntaxes each is about
            15 kB.
        max_pending: Connections waiting at once; the oldest goes when another arrives.
        log_burst: Drops logged one line each per :attr:`log_window` seconds; the rest are
            counted and summarised in one line when the window ends.
        log_window: Seconds of that window.
    """

    first_pdu_seconds: float = 10.0
    max_request_bytes: int = 64 * 1024
    max_pending: int = 256
    log_burst: int = 20
    log_window: float = 10.0

    def __post_init__(self) -> None:
        if self.first_pdu_seconds <= 0:
            raise ValueError(f"first_pdu_seconds must be positive, got "
                             f"{self.first_pdu_seconds!r}")
        if self.max_request_bytes < _SMALLEST_REQUEST:
            raise ValueError(f"max_request_bytes must be at least {_SMALLEST_REQUEST}, got "
                             f"{self.max_request_bytes!r}")
        if self.max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {self.max_pending!r}")


def _peer_text(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host = str(address[0])
        return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"
    return str(address)


@dataclass
class DropLog:
    """One line per dropped peer, until a burst: then one summary line per window.

    550 garbage connections in a second would otherwise write 550 lines; an operator needs
    to see that it happened, from where and why, not each one.
    """

    burst: int = 20
    window: float = 10.0
    clock: Callable[[], float] = time.monotonic
    total: int = 0
    _window_start: float = field(default=-1.0, init=False)
    _logged: int = field(default=0, init=False)
    _kinds: Counter[str] = field(default_factory=Counter, init=False)
    _hosts: Counter[str] = field(default_factory=Counter, init=False)

    def dropped(self, address: object, kind: str, why: str) -> None:
        """Record a drop: ``kind`` groups it in summaries, ``why`` quotes what it did."""
        now = self.clock()
        self.flush(now)
        if self._window_start < 0:
            self._window_start = now
        self.total += 1
        if self._logged < self.burst:
            self._logged += 1
            LOGGER.warning("dropped connection from %s: %s", _peer_text(address), why)
            return
        self._kinds[kind] += 1
        host = address[0] if isinstance(address, tuple) and address else address
        self._hosts[str(host)] += 1

    def flush(self, now: float | None = None, *, force: bool = False) -> None:
        """Write the summary of the window if it is over (or ``force``); start a new one."""
        now = self.clock() if now is None else now
        if self._window_start < 0 or (not force and now - self._window_start < self.window):
            return
        count = sum(self._kinds.values())
        if count:
            kinds = ", ".join(f"{n} {kind}" for kind, n in self._kinds.most_common())
            hosts = ", ".join(f"{host} ({n})" for host, n in self._hosts.most_common(5))
            more = len(self._hosts) - 5
            LOGGER.warning("dropped %d more connection(s) in %.0f s without a line each: "
                           "%s; from %s%s", count, now - self._window_start, kinds, hosts,
                           f" and {more} other address(es)" if more > 0 else "")
        self._kinds.clear()
        self._hosts.clear()
        self._logged = 0
        self._window_start = -1.0


@dataclass
class _Waiting:
    sock: socket.socket
    address: object
    deadline: float
    data: bytearray = field(default_factory=bytearray)

    def wanted(self) -> int:
        """Bytes still to read of the first PDU (the header first, then what it declares)."""
        if len(self.data) < _HEADER:
            return _HEADER - len(self.data)
        return _HEADER + struct.unpack(">L", self.data[2:6])[0] - len(self.data)


class _DropError(Exception):
    def __init__(self, kind: str, why: str) -> None:
        super().__init__(why)
        self.kind = kind
        self.why = why


def _check_header(data: bytes, limit: int) -> None:
    """Raise :class:`_DropError` unless ``data`` (6 bytes) starts an acceptable request."""
    kind, length = data[0], struct.unpack(">L", data[2:6])[0]
    if kind != _ASSOCIATE_RQ:
        raise _DropError("not DICOM", f"not a DICOM association request (first byte "
                       f"0x{kind:02X}, expected 0x01)")
    if length > limit:
        raise _DropError("oversize", f"association request declares {length:,} bytes, over "
                       f"the limit of {limit:,}")
    if length < _SMALLEST_REQUEST:
        raise _DropError("malformed", f"association request declares {length} bytes, "
                       f"too short to be one")


def _check_request(data: bytes) -> None:
    """Raise :class:`_DropError` unless ``data`` decodes as an A-ASSOCIATE-RQ PDU."""
    from pynetdicom.pdu import A_ASSOCIATE_RQ

    try:
        A_ASSOCIATE_RQ().decode(data)
    except Exception as error:  # any decoding failure means the same: not a request
        raise _DropError("malformed", f"association request cannot be decoded "
                       f"({type(error).__name__}: {str(error)[:120]})") from error


class ConnectionGate:
    """Holds new connections in one thread until they ask for an association properly.

    ``on_greeted(sock, address, first_pdu)`` is called from the gate's thread for each one
    that did: the socket is blocking again, and ``first_pdu`` holds the bytes read from it.
    """

    def __init__(self, policy: GatePolicy,
                 on_greeted: Callable[[socket.socket, object, bytes], None]) -> None:
        self.policy = policy
        self.on_greeted = on_greeted
        self.drops = DropLog(policy.log_burst, policy.log_window)
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._arrived: list[tuple[socket.socket, object]] = []
        self._lock = threading.Lock()
        self._waiting: dict[socket.socket, _Waiting] = {}  # insertion order: oldest first
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dicom-connection-gate",
                                        daemon=True)
        self.greeted = 0

    @property
    def waiting(self) -> int:
        """Connections that have not yet asked for an association."""
        return len(self._waiting)

    def start(self) -> None:
        """Start the gate's thread."""
        self._thread.start()

    def admit(self, sock: socket.socket, address: object) -> None:
        """Take a newly accepted connection (any thread; returns at once)."""
        with self._lock:
            self._arrived.append((sock, address))
        self._wake()

    def close(self) -> None:
        """Stop the thread and close every connection still waiting."""
        self._stop.set()
        self._wake()
        if self._thread.is_alive():
            self._thread.join(5)
        with self._lock:
            arrived, self._arrived = self._arrived, []
        for sock, _ in arrived:
            _close(sock)
        for waiting in list(self._waiting.values()):
            _close(waiting.sock)
        self._waiting.clear()
        self.drops.flush(force=True)
        self._selector.close()
        _close(self._wake_read)
        _close(self._wake_write)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_write.send(b"\0")

    def _run(self) -> None:
        while not self._stop.is_set():
            timeout = 0.5
            if self._waiting:
                oldest = min(w.deadline for w in self._waiting.values())
                timeout = min(timeout, max(0.0, oldest - time.monotonic()))
            for key, _ in self._selector.select(timeout):
                if key.data is None:
                    with contextlib.suppress(OSError):
                        self._wake_read.recv(4096)
                elif key.fileobj in self._waiting:
                    self._read(self._waiting[key.fileobj])  # type: ignore[index]
            self._take_arrivals()
            self._expire(time.monotonic())
            self.drops.flush()

    def _take_arrivals(self) -> None:
        with self._lock:
            arrived, self._arrived = self._arrived, []
        for sock, address in arrived:
            while len(self._waiting) >= self.policy.max_pending:
                oldest = next(iter(self._waiting.values()))
                self._drop(oldest, "evicted", f"evicted after {self._age(oldest):.1f} s "
                           f"without an association request: {self.policy.max_pending} "
                           f"connections were waiting")
            try:
                sock.setblocking(False)
                waiting = _Waiting(sock, address,
                                   time.monotonic() + self.policy.first_pdu_seconds)
                self._selector.register(sock, selectors.EVENT_READ, waiting)
            except (OSError, ValueError) as error:
                self.drops.dropped(address, "closed", f"connection unusable ({error})")
                _close(sock)
                continue
            self._waiting[sock] = waiting

    def _age(self, waiting: _Waiting) -> float:
        return self.policy.first_pdu_seconds - (waiting.deadline - time.monotonic())

    def _expire(self, now: float) -> None:
        for waiting in [w for w in self._waiting.values() if w.deadline <= now]:
            got = len(waiting.data)
            why = (f"sent nothing within {self.policy.first_pdu_seconds:g} s" if not got else
                   f"sent {got} byte(s) but no complete association request within "
                   f"{self.policy.first_pdu_seconds:g} s")
            self._drop(waiting, "silent", why)

    def _read(self, waiting: _Waiting) -> None:
        try:
            chunk = waiting.sock.recv(min(waiting.wanted(), 65536))
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._drop(waiting, "reset", f"connection failed before an association request "
                       f"({error.strerror or error})")
            return
        if not chunk:
            got = len(waiting.data)
            self._drop(waiting, "closed", "closed without sending anything" if not got else
                       f"closed after {got} byte(s), before a complete association request")
            return
        waiting.data += chunk
        try:
            if len(waiting.data) == _HEADER:
                _check_header(bytes(waiting.data), self.policy.max_request_bytes)
            if len(waiting.data) > _HEADER and waiting.wanted() == 0:
                _check_request(bytes(waiting.data))
                self._hand_on(waiting)
        except _DropError as dropped:
            self._drop(waiting, dropped.kind, dropped.why)

    def _forget(self, waiting: _Waiting) -> None:
        self._waiting.pop(waiting.sock, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(waiting.sock)

    def _drop(self, waiting: _Waiting, kind: str, why: str) -> None:
        self._forget(waiting)
        self.drops.dropped(waiting.address, kind, why)  # logged before the peer sees it
        _close(waiting.sock)

    def _hand_on(self, waiting: _Waiting) -> None:
        self._forget(waiting)
        try:
            waiting.sock.setblocking(True)
            self.on_greeted(waiting.sock, waiting.address, bytes(waiting.data))
        except Exception as error:  # e.g. no thread could be started: that peer only
            self.drops.dropped(waiting.address, "not served",
                               f"association not started ({type(error).__name__}: {error})")
            _close(waiting.sock)
            return
        self.greeted += 1


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
