"""Stray connections (a scanner, a broken client) never silence the node: real sockets."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.core.node.connection_gate import DropLog, GatePolicy
from desktop_app.core.node.dicom_receiver import (
    STATUS_SUCCESS,
    ReceiverConfig,
    StorageReceiver,
)
from desktop_app.core.node.worklist_store import WorklistStore
from tests.dicom_films import chest_film, push
from tests.serve_process import serving
from tests.stray_connections import (
    OVERSIZE_HEADERS,
    echo_seconds,
    silent_connections,
    stray_burst,
)

pytest.importorskip("pynetdicom")

#: What the issue asks of a real client among strays: every C-ECHO answered within this.
ECHO_LIMIT = 2.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[WorklistStore]:
    with WorklistStore.in_folder(tmp_path) as opened:
        yield opened


@pytest.fixture
def receiver(store: WorklistStore, tmp_path: Path,
             request: pytest.FixtureRequest) -> Iterator[StorageReceiver]:
    policy = getattr(request, "param", GatePolicy())
    started = StorageReceiver(ReceiverConfig(port=0, gate=policy), store, tmp_path / "received")
    started.start()
    try:
        yield started
    finally:
        started.stop()


def _closed_by_peer(sock: socket.socket, within: float) -> bool:
    """True when the node closes ``sock`` within ``within`` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def _assert_echo_in_time(address: tuple[str, int], count: int = 3) -> None:
    for _ in range(count):
        seconds = echo_seconds(address, timeout=10)
        assert seconds is not None, "C-ECHO not answered"
        assert seconds < ECHO_LIMIT, f"C-ECHO took {seconds:.2f} s"


def test_silent_connections_held_do_not_stop_a_real_client(
        receiver: StorageReceiver, store: WorklistStore) -> None:
    with silent_connections(receiver.address, 20):
        time.sleep(0.3)  # all of them accepted and waiting
        _assert_echo_in_time(receiver.address)
        film = chest_film(1)
        assert push(receiver.address, [film]) == {film.SOPInstanceUID: STATUS_SUCCESS}
    _assert_echo_in_time(receiver.address)  # and at once after they close
    assert store.film(film.SOPInstanceUID) is not None


def test_garbage_and_oversize_connections_are_dropped_with_one_line_each_then_summed(
        receiver: StorageReceiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    tally = stray_burst(receiver.address, 50)
    assert tally.made == 50
    _assert_echo_in_time(receiver.address)
    deadline = time.monotonic() + 10
    while receiver.dropped_count < 50:
        assert time.monotonic() < deadline, f"{receiver.dropped_count} of 50 dropped"
        time.sleep(0.05)
    receiver.stop()  # writes the summary of the lines held back
    assert receiver.dropped_count == 50
    drops = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    singles = [m for m in drops if m.startswith("dropped connection from 127.0.0.1:")]
    assert len(singles) == GatePolicy().log_burst
    assert any("not a DICOM association request (first byte 0x" in m for m in singles)
    summary = [m for m in drops if m.startswith("dropped ") and " more connection(s) " in m]
    assert len(summary) == 1
    assert f"dropped {50 - GatePolicy().log_burst} more connection(s)" in summary[0]
    assert "from 127.0.0.1 (" in summary[0]
    assert not any(r.exc_info for r in caplog.records)  # no tracebacks


def test_a_4_gb_association_request_is_refused_before_it_is_read(
        receiver: StorageReceiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="desktop_app.dicom")
    with socket.create_connection(receiver.address) as sock:
        sock.sendall(OVERSIZE_HEADERS[0] + b"\0" * 1000)
        assert _closed_by_peer(sock, 5)
    assert ("association request declares 4,294,967,040 bytes, over the limit of 65,536"
            in caplog.text)
    _assert_echo_in_time(receiver.address, 1)


@pytest.mark.parametrize("receiver", [GatePolicy(first_pdu_seconds=0.5)], indirect=True)
def test_a_silent_connection_is_closed_after_the_first_pdu_deadline(
        receiver: StorageReceiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="desktop_app.dicom")
    with socket.create_connection(receiver.address) as silent, \
            socket.create_connection(receiver.address) as halting:
        halting.sendall(b"\x01\x00\x00\x00")  # part of a header, then nothing
        assert _closed_by_peer(silent, 5)
        assert _closed_by_peer(halting, 5)
    assert "sent nothing within 0.5 s" in caplog.text
    assert "sent 4 byte(s) but no complete association request within 0.5 s" in caplog.text


@pytest.mark.parametrize("receiver", [GatePolicy(max_pending=5)], indirect=True)
def test_when_too_many_wait_the_oldest_is_evicted_and_a_newcomer_is_served(
        receiver: StorageReceiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="desktop_app.dicom")
    with silent_connections(receiver.address, 10) as held:
        assert all(_closed_by_peer(sock, 5) for sock in held[:5])
        assert not any(_closed_by_peer(sock, 0.2) for sock in held[5:])
        _assert_echo_in_time(receiver.address, 1)  # evicts one more silent one
    assert "5 connections were waiting" in caplog.text


def test_a_4_gb_pdu_on_an_association_closes_it_and_serving_goes_on(
        receiver: StorageReceiver, caplog: pytest.LogCaptureFixture) -> None:
    from pynetdicom import AE

    caplog.set_level(logging.INFO, logger="desktop_app.dicom")
    ae = AE(ae_title="BROKEN")
    ae.add_requested_context("1.2.840.10008.1.1")
    assoc = ae.associate(*receiver.address, ae_title="LUNGLENS")
    assert assoc.is_established
    assoc.dul.socket.socket.sendall(OVERSIZE_HEADERS[1] + b"\0" * 8192)
    deadline = time.monotonic() + 10
    while assoc.is_established and time.monotonic() < deadline:
        time.sleep(0.05)
    assert assoc.is_aborted
    assert ("(AE 'BROKEN'): a PDU of 4,294,967,040 bytes declared, over the limit of "
            "4,194,304") in caplog.text
    _assert_echo_in_time(receiver.address, 1)


def test_the_drop_log_writes_a_burst_then_one_summary_per_window(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="desktop_app.dicom")
    now = [0.0]
    log = DropLog(burst=3, window=10.0, clock=lambda: now[0])
    for port in range(10):
        log.dropped(("10.0.0.7", port), "not DICOM", "not a DICOM association request")
    log.dropped(("10.0.0.8", 1), "silent", "sent nothing within 10 s")
    assert len(caplog.records) == 3
    now[0] = 10.5
    log.flush()
    assert caplog.records[-1].getMessage() == (
        "dropped 8 more connection(s) in 10 s without a line each: 7 not DICOM, 1 silent; "
        "from 10.0.0.7 (7), 10.0.0.8 (1)")
    log.dropped(("10.0.0.7", 99), "silent", "sent nothing within 10 s")
    assert caplog.records[-1].getMessage() == ("dropped connection from 10.0.0.7:99: sent "
                                               "nothing within 10 s")
    assert log.total == 12


@pytest.mark.parametrize(("change", "quoted"), [({"first_pdu_seconds": 0}, "0"),
                                                ({"max_request_bytes": 10}, "10"),
                                                ({"max_pending": 0}, "0")])
def test_a_bad_gate_policy_is_refused_with_the_value(change: dict, quoted: str) -> None:
    with pytest.raises(ValueError, match=f"got {quoted}$"):
        GatePolicy(**change)


def test_serve_stores_and_analyses_films_among_stray_connections(
        tmp_path: Path, tiny_bundle: Path) -> None:
    data = tmp_path / "data"
    films = [chest_film(300 + i) for i in range(3)]
    with serving(data, tiny_bundle) as server, silent_connections(server.address, 20):
        assert stray_burst(server.address, 50).made == 50
        _assert_echo_in_time(server.address)
        assert push(server.address, films) == {f.SOPInstanceUID: STATUS_SUCCESS
                                               for f in films}
        deadline = time.monotonic() + 60
        while True:
            with WorklistStore.in_folder(data) as store:
                counts = store.counts()
            if counts["analysed"] + counts["failed"] == len(films):
                break
            assert time.monotonic() < deadline, f"not analysed: {counts}"
            time.sleep(0.2)
        assert counts["analysed"] == len(films)
    log = server.log
    assert "Traceback" not in log
    assert "dropped connection from 127.0.0.1:" in log
