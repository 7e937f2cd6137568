"""pynetdicom's association server behind the connection gate, with bounded reads.

Three small subclasses of pynetdicom's own classes, nothing of the protocol rewritten:

* :class:`GatedServer` hands each accepted connection to the
  :class:`~desktop_app.core.node.connection_gate.ConnectionGate` instead of starting an
  association thread for it, and starts one only for a connection that asked properly;
  its listen backlog is long enough for a burst of scanner connections not to delay a
  modality's connect.
* :class:`GreetedSocket` gives pynetdicom the request the gate already read, then the
  socket; a read or a write that waits longer than ``io_seconds`` fails the association
  (so a peer stalled in the middle of a PDU cannot hold a thread for ever), and a PDU
  declaring more than ``largest_pdu`` bytes closes the connection before it is read.
* :class:`OneLineLog` turns pynetdicom's tracebacks for a peer that broke off into one line.

Imported only when a receiver starts (pynetdicom is loaded on demand, as elsewhere).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import sys
import threading
from copy import deepcopy
from datetime import datetime
from typing import Any

from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.transport import (
    AssociationSocket,
    RequestHandler,
    ThreadedAssociationServer,
)

from desktop_app.core.node.connection_gate import ConnectionGate, GatePolicy

__all__ = ["GatedServer", "GreetedSocket", "OneLineLog", "install_one_line_log"]

LOGGER = logging.getLogger("desktop_app.dicom")
_MODE_ACCEPTOR = "acceptor"


class OneLineLog(logging.Filter):
    """Keeps a record's exception as its last words instead of a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Fold ``exc_info`` into the message; always keep the record."""
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def install_one_line_log() -> None:
    """Add :class:`OneLineLog` to pynetdicom's loggers (once)."""
    for name in ("pynetdicom", "pynetdicom.dul", "pynetdicom.association",
                 "pynetdicom.acse", "pynetdicom.transport"):
        target = logging.getLogger(name)
        if not any(isinstance(f, OneLineLog) for f in target.filters):
            target.addFilter(OneLineLog())


class GreetedSocket(AssociationSocket):
    """An accepted connection whose first PDU the gate has already read."""

    def __init__(self, assoc: Association, client_socket: socket.socket, greeting: bytes,
                 *, largest_pdu: int, io_seconds: float) -> None:
        client_socket.settimeout(io_seconds)
        self._greeting = bytearray(greeting)
        self._largest_pdu = largest_pdu
        super().__init__(assoc, client_socket=client_socket)

    @property
    def ready(self) -> bool:
        """True while the greeting is unread, then when the socket has data."""
        return bool(self._greeting) or super().ready

    def recv(self, nr_bytes: int) -> bytearray:
        """Read ``nr_bytes``: the greeting first; refuse a declared PDU over the limit.

        pynetdicom reads a PDU's 6-byte header, then the length it declares: a declaration
        over ``largest_pdu`` is answered by closing the connection (pynetdicom then sees a
        short PDU and ends the association), never by reading it.
        """
        if self._greeting:
            taken = self._greeting[:nr_bytes]
            del self._greeting[:nr_bytes]
            if len(taken) == nr_bytes:
                return taken
            return taken + super().recv(nr_bytes - len(taken))
        if nr_bytes > self._largest_pdu and self.socket is not None:
            peer = self.assoc.requestor
            LOGGER.warning("dropped connection from %s:%s (AE %r): a PDU of %s bytes "
                           "declared, over the limit of %s", peer.address, peer.port,
                           peer.ae_title, f"{nr_bytes:,}", f"{self._largest_pdu:,}")
            # Cut the connection; pynetdicom sees the PDU short and closes it once itself.
            with contextlib.suppress(OSError):
                self.socket.shutdown(socket.SHUT_RDWR)
            return bytearray()
        return super().recv(nr_bytes)


class _GreetedHandler(RequestHandler):
    """Makes the association as pynetdicom does, over a :class:`GreetedSocket`."""

    server: GatedServer

    def _create_association(self) -> Association:
        # As pynetdicom's RequestHandler._create_association (3.0), with our socket: its
        # socket may be set once only, because setting it queues the "connection open" event.
        assoc = Association(self.ae, _MODE_ACCEPTOR)
        assoc._server = self.server
        assoc.name = f"AcceptorThread@{datetime.now():%Y%m%d%H%M%S}"
        greeting = self.server.take_greeting(self.request)
        assoc.set_socket(GreetedSocket(assoc, self.request, greeting,
                                       largest_pdu=self.server.largest_pdu,
                                       io_seconds=self.server.io_seconds))
        acceptor = assoc.acceptor
        acceptor.maximum_length = self.ae.maximum_pdu_size
        acceptor.ae_title = self.server.ae_title
        acceptor.address_info = self.local
        acceptor.implementation_class_uid = self.ae.implementation_class_uid
        acceptor.implementation_version_name = self.ae.implementation_version_name
        acceptor.supported_contexts = deepcopy(self.server.contexts)
        assoc.requestor.address_info = self.remote
        for event, handlers in self.server._handlers.items():
            if event.is_intervention and handlers:
                assoc.bind(event, *handlers)
            elif isinstance(event, evt.NotificationEvent):
                for handler, args in handlers:  # type: ignore[misc]
                    assoc.bind(event, handler, args)
        return assoc


class GatedServer(ThreadedAssociationServer):
    """An association server whose connections pass the gate before they cost a thread."""

    #: Connections the operating system queues before they are accepted (socketserver: 5).
    request_queue_size = 256

    def __init__(self, *args: Any, policy: GatePolicy, largest_pdu: int,
                 io_seconds: float, **kwargs: Any) -> None:
        """Bind as pynetdicom's server does; ``policy`` rules the connections waiting."""
        self.largest_pdu = largest_pdu
        self.io_seconds = io_seconds
        self._greetings: dict[int, bytes] = {}
        self._greetings_lock = threading.Lock()
        super().__init__(*args, request_handler=_GreetedHandler, **kwargs)  # binds: may raise
        self.gate = ConnectionGate(policy, self._start_association)
        self.gate.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand the connection to the gate (the accept loop never waits for a peer)."""
        self.gate.admit(request, client_address)

    def _start_association(self, sock: socket.socket, address: object, greeting: bytes) -> None:
        with self._greetings_lock:
            self._greetings[sock.fileno()] = greeting
        try:
            socketserver.ThreadingMixIn.process_request(self, sock, address)
        except BaseException:
            self.take_greeting(sock)
            raise

    def take_greeting(self, sock: socket.socket) -> bytes:
        """The first PDU the gate read from ``sock`` (once)."""
        with self._greetings_lock:
            return self._greetings.pop(sock.fileno(), b"")

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line instead of socketserver's traceback on stderr."""
        error = sys.exc_info()[1]
        LOGGER.error("association with %s ended in an error: %s: %s", client_address,
                     type(error).__name__, error)

    def server_close(self) -> None:
        """Close the waiting connections, then the listening socket."""
        self.gate.close()
        super().server_close()

    def shutdown(self) -> None:
        """Stop accepting and close (started by us, not registered with the AE)."""
        socketserver.BaseServer.shutdown(self)
        self.server_close()
