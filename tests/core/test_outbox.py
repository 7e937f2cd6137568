"""Results sent back: the node writes, commits, then sends; faults never lose a result."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.cli.send_cli import run_send
from desktop_app.core.cli.worklist_cli import run_worklist
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.node.destination import Destination
from desktop_app.core.node.dicom_node import DicomNode, NodeCallbacks, NodeOptions
from desktop_app.core.node.dicom_receiver import ReceiverConfig
from desktop_app.core.node.outbox_sender import PARALLEL_ASSOCIATIONS, send_due
from desktop_app.core.node.outbox_store import Outbox, ResultEntry
from desktop_app.core.node.worklist_store import WorklistStore
from tests.dicom_films import chest_film, push
from tests.storage_peer import IMPLICIT, SECONDARY_CAPTURE, SR_3D, free_port, storage_peer

pytest.importorskip("pynetdicom")

DX = "1.2.840.10008.5.1.4.1.1.1.1"


@contextmanager
def sending_node(data_dir: Path, bundle: Path, destination: str
                 ) -> Iterator[tuple[str, int]]:
    """A node in a thread that sends results to ``destination``; yields its address."""
    address: list[tuple[str, int]] = []
    ready = threading.Event()
    options = NodeOptions(receiver=ReceiverConfig(port=0), data_dir=data_dir,
                          poll_seconds=0.1, send_to=Destination.parse(destination),
                          send_timeout=5.0, retry_base_seconds=0.2)
    node = DicomNode(options, lambda: Analyzer(load_bundle(bundle)),
                     NodeCallbacks(listening=lambda a: (address.append(a), ready.set())))
    thread = threading.Thread(target=node.run)
    thread.start()
    try:
        assert ready.wait(60)
        yield address[0]
    finally:
        node.stop()
        thread.join(60)


def _rows(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    capsys.readouterr()
    assert run_worklist(["--data-dir", str(data_dir), "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _wait(condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _states(data_dir: Path) -> dict[str, str]:
    with WorklistStore.in_folder(data_dir) as store:
        return {uid: state.status for uid, state in Outbox(store).film_states().items()}


def _all(data_dir: Path, count: int, status: str) -> Callable[[], bool]:
    def check() -> bool:
        states = _states(data_dir)
        return len(states) == count and set(states.values()) == {status}
    return check


@pytest.mark.parametrize("text", ["PACS@10.0.0.5", "@host:104", "PACS@host:0",
                                  "A_TITLE_LONGER_THAN_16@h:104", "PACS@host:port"])
def test_malformed_destination_is_refused_with_the_value(text: str) -> None:
    with pytest.raises(ValueError, match="got"):
        Destination.parse(text)


def test_destination_reads_back_as_written() -> None:
    assert str(Destination.parse("PACS@10.0.0.5:104")) == "PACS@10.0.0.5:104"
    assert Destination.parse("PACS@[::1]:104").host == "::1"


def test_each_films_results_reach_the_destination_with_the_worklists_answer(
        tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    films = [chest_film(60 + i) for i in range(3)]
    with storage_peer() as peer, sending_node(tmp_path, tiny_bundle, peer.destination) as at:
        push(at, films)
        _wait(_all(tmp_path, 3, "sent"))
    rows = {row["sop_instance_uid"]: row for row in _rows(tmp_path, capsys)}
    for film in films:
        row = rows[film.SOPInstanceUID]
        assert row["send_status"] == "sent"
        sr = peer.stored[row["result_uids"][0]]
        assert sr.SOPClassUID == SR_3D
        assert sr.StudyInstanceUID == film.StudyInstanceUID
        texts = [str(item.TextValue) for item in sr.ContentSequence[-1].ContentSequence[0]
                 .ContentSequence if item.ValueType == "TEXT"]
        answer = row["label"] or f"Not labelled: {row['ood_reason']}"
        assert f"LungLens answer: {answer}" in texts
        if row["label"] is not None:
            assert peer.stored[row["result_uids"][1]].SOPClassUID == SECONDARY_CAPTURE
        else:
            assert len(row["result_uids"]) == 1


def test_destination_down_at_first_then_up_loses_nothing(
        tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    films = [chest_film(70 + i) for i in range(3)]
    with sending_node(tmp_path, tiny_bundle, f"PACS@127.0.0.1:{port}") as at:
        push(at, films)
        _wait(_all(tmp_path, 3, "pending"))
        _wait(lambda: all(row["send_error"] for row in _rows(tmp_path, capsys)))
        error = _rows(tmp_path, capsys)[0]["send_error"]
        assert "connection refused, timed out or aborted" in error
        with storage_peer(port=port) as peer:
            _wait(_all(tmp_path, 3, "sent"))
    expected = {uid for row in _rows(tmp_path, capsys) for uid in row["result_uids"]}
    assert expected == set(peer.stored)


def test_association_aborted_in_the_middle_of_a_send_is_retried_with_the_same_uids(
        tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    films = [chest_film(75 + i) for i in range(2)]
    with storage_peer(abort_first=1) as peer, \
            sending_node(tmp_path, tiny_bundle, peer.destination) as at:
        push(at, films)
        _wait(_all(tmp_path, 2, "sent"))
    assert len(peer.aborted) == 1
    rows = _rows(tmp_path, capsys)
    owed = {uid for row in rows for uid in row["result_uids"]}
    assert peer.aborted[0] in owed  # the one aborted was sent again, under its own UID
    assert owed == set(peer.stored)
    assert set(peer.copies.values()) == {1}
    with WorklistStore.in_folder(tmp_path) as store:
        failures = store.query("SELECT outcome, detail FROM audit WHERE what = 'send failed'")
        attempts = store.query("SELECT attempts FROM outbox WHERE sop_instance_uid = ?",
                               (peer.aborted[0],))
    assert any(peer.aborted[0] in row["detail"] and row["outcome"] == "no status"
               and "association lost" in row["detail"] for row in failures)
    assert attempts[0]["attempts"] >= 2


def test_refused_sop_class_is_failed_shown_and_sent_with_retry_failed(
        tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    film = chest_film(80)
    with storage_peer(port=port, sop_classes=(SECONDARY_CAPTURE,)), \
            sending_node(tmp_path, tiny_bundle, f"PACS@127.0.0.1:{port}") as at:
        push(at, [film])
        _wait(_all(tmp_path, 1, "failed"))
    row = _rows(tmp_path, capsys)[0]
    assert row["send_status"] == "failed"
    assert "does not accept Comprehensive 3D SR Storage" in row["send_error"]
    with storage_peer(port=port) as peer:
        assert run_send(["--data-dir", str(tmp_path), "--retry-failed"]) == 0
    assert "0 result(s) not sent yet" in capsys.readouterr().out
    row = _rows(tmp_path, capsys)[0]
    assert row["send_status"] == "sent"
    assert set(row["result_uids"]) <= set(peer.stored)


def test_destination_taking_only_implicit_vr_gets_the_results(
        tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with storage_peer(syntaxes=(IMPLICIT,)) as peer, \
            sending_node(tmp_path, tiny_bundle, peer.destination) as at:
        push(at, [chest_film(90)])
        _wait(_all(tmp_path, 1, "sent"))
    assert peer.stored
    assert set(peer.syntaxes.values()) == {IMPLICIT}


def _outbox_of_films(store: WorklistStore, folder: Path, count: int, destination: str
                     ) -> tuple[Outbox, set[str]]:
    """An outbox owing ``count`` films (sent as they are) to ``destination``."""
    outbox = Outbox(store, retry_base_seconds=0.05)
    uids = set()
    for seed in range(count):
        film = chest_film(400 + seed, size=(64, 56))
        path = folder / f"{film.SOPInstanceUID}.dcm"
        film.save_as(path, enforce_file_format=True)
        store.add_film(film.SOPInstanceUID, origin="dicom", stored_file=path, sha256="0" * 64)
        outbox.add(film.SOPInstanceUID, destination,
                   [ResultEntry("SC", DX, film.SOPInstanceUID, path)])
        uids.add(str(film.SOPInstanceUID))
    return outbox, uids


def test_many_results_go_over_several_associations_at_once(tmp_path: Path) -> None:
    with storage_peer(sop_classes=(DX,), delay=0.02) as peer, \
            WorklistStore.in_folder(tmp_path) as store:
        outbox, uids = _outbox_of_films(store, tmp_path, 32, peer.destination)
        tally = send_due(outbox, "LUNGLENS", timeout=10)
    assert (tally.sent, tally.retrying, tally.failed) == (32, 0, 0)
    assert set(peer.stored) == uids
    assert peer.most_at_once == PARALLEL_ASSOCIATIONS


def test_a_destination_too_busy_for_more_associations_is_tried_again_not_failed(
        tmp_path: Path) -> None:
    with storage_peer(sop_classes=(DX,), delay=0.05, max_associations=1) as peer, \
            WorklistStore.in_folder(tmp_path) as store:
        outbox, uids = _outbox_of_films(store, tmp_path, 24, peer.destination)
        first = send_due(outbox, "LUNGLENS", timeout=10)
        assert (first.failed, first.sent + first.retrying) == (0, 24)
        assert first.retrying > 0  # (all of them, when the associations asked at one moment)
        errors = {row.last_error for row in outbox.unsent()}
        assert errors == {f"association rejected for now by {peer.destination} (transient: "
                          "Local limit exceeded)"}
        deadline = time.monotonic() + 60
        while outbox.unsent():
            assert time.monotonic() < deadline, "not all sent"
            time.sleep(0.1)
            outbox.retry_now()  # (the back-off is the outbox's business, tested elsewhere)
            assert send_due(outbox, "LUNGLENS", timeout=10).failed == 0
    assert set(peer.stored) == uids
    assert peer.most_at_once == 1
