"""``serve --send-to`` and ``send`` as a user runs them: real processes, SIGKILL, dcmtk."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from desktop_app.core.cli.send_cli import run_send
from desktop_app.core.cli.serve_cli import run_serve
from desktop_app.core.cli.worklist_cli import run_worklist
from desktop_app.core.node.outbox_store import Outbox
from desktop_app.core.node.worklist_store import WorklistStore
from tests.dicom_films import chest_film, push
from tests.serve_process import serving
from tests.storage_peer import free_port, storage_peer

pytest.importorskip("pynetdicom")


def _wait(condition, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _states(data_dir: Path) -> dict[str, str]:
    with WorklistStore.in_folder(data_dir) as store:
        return {uid: s.status for uid, s in Outbox(store).film_states().items()}


def _sent_rows(data_dir: Path) -> int:
    with WorklistStore.in_folder(data_dir) as store:
        return len(store.query("SELECT 1 FROM outbox WHERE status = 'sent'"))


def _result_uids(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, list[str]]:
    capsys.readouterr()
    assert run_worklist(["--data-dir", str(data_dir), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return {row["sop_instance_uid"]: row["result_uids"] for row in rows}


@pytest.mark.parametrize("text", ["PACS", "PACS@host", "PACS@host:99999", "@:1"])
def test_malformed_send_to_is_a_usage_error(text: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert run_serve(["--send-to", text, "--data-dir", str(tmp_path)]) == 2
    assert repr(text) in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_sigkill_while_sending_then_restart_sends_everything_with_the_same_uids(
        tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    films = [chest_film(100 + i) for i in range(6)]
    with storage_peer(delay=0.5) as peer:
        extra = ("--send-to", peer.destination, "--retry-base", "0.2")
        with serving(data, tiny_bundle, *extra) as server:
            push(server.address, films)
            _wait(lambda: _sent_rows(data) >= 2)
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(30)
        before = _result_uids(data, capsys)
        assert 0 < sum(state == "sent" for state in _states(data).values()) < len(films)
        with serving(data, tiny_bundle, *extra) as server:
            _wait(lambda: set(_states(data).values()) == {"sent"}
                  and len(_states(data)) == len(films))
            assert "resuming the outbox: " in server.log
        after = _result_uids(data, capsys)
    assert {uid: uids for uid, uids in after.items() if before[uid]} == \
        {uid: uids for uid, uids in before.items() if uids}
    owed = {uid for uids in after.values() for uid in uids}
    assert owed == set(peer.stored)  # nothing missing, nothing else
    assert len(owed) >= len(films)


@pytest.mark.skipif(shutil.which("storescp") is None,
                    reason="dcmtk's storescp is not installed (Debian package dcmtk)")
def test_dcmtk_storescp_receives_the_results(tmp_path: Path, tiny_bundle: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    port, received = free_port(), tmp_path / "storescp"
    received.mkdir()
    scp = subprocess.Popen(["storescp", "--aetitle", "DCMTK", "--output-directory",
                            str(received), "--accept-all", str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    data = tmp_path / "data"
    try:
        with serving(data, tiny_bundle, "--send-to", f"DCMTK@127.0.0.1:{port}") as server:
            push(server.address, [chest_film(120)])
            _wait(lambda: set(_states(data).values()) == {"sent"})
    finally:
        scp.terminate()
        scp.wait(30)
    uids = next(iter(_result_uids(data, capsys).values()))
    files = {path.name for path in received.iterdir()}
    assert len(files) == len(uids)
    assert all(any(uid in name for name in files) for uid in uids)


def test_orthanc_stores_each_films_results(tmp_path: Path, tiny_bundle: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from tests.orthanc_peer import orthanc

    films = [chest_film(130 + i) for i in range(3)]
    data = tmp_path / "data"
    with orthanc(tmp_path) as pacs:
        with serving(data, tiny_bundle, "--send-to", pacs.destination) as server:
            push(server.address, films)
            _wait(lambda: len(_states(data)) == len(films)
                  and set(_states(data).values()) == {"sent"})
        stored = pacs.instance_uids()
    owed = _result_uids(data, capsys)
    for film in films:
        uids = owed[film.SOPInstanceUID]
        assert stored[uids[0]] == "1.2.840.10008.5.1.4.1.1.88.34"  # exactly one SR
        assert len(uids) <= 2  # at most one SC
    assert set(stored) == {uid for uids in owed.values() for uid in uids}


def test_send_echo_tests_the_destination_given_and_sends_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with storage_peer() as peer:
        assert run_send(["--data-dir", str(tmp_path), "--echo", peer.destination]) == 0
    out = capsys.readouterr().out
    assert f"C-ECHO to {peer.destination}: answered Success in " in out
    assert not peer.stored
    assert not (tmp_path / "worklist.sqlite3").exists()  # nothing opened, nothing written


def test_send_echo_names_a_destination_that_does_not_answer(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    down = f"PACS@127.0.0.1:{free_port()}"
    assert run_send(["--data-dir", str(tmp_path), "--echo", down, "--timeout", "5"]) == 1
    assert (f"C-ECHO to {down} failed: no association with {down}: connection refused"
            in capsys.readouterr().out)


def test_send_echo_without_a_destination_tests_those_the_worklist_names(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_send(["--data-dir", str(tmp_path), "--echo"]) == 1
    assert "no destination named in the worklist of" in capsys.readouterr().err
    with storage_peer() as peer:
        with WorklistStore.in_folder(tmp_path) as store:
            store.add_film("1.2.3.4", origin="dicom", stored_file=tmp_path / "f.dcm",
                           sha256="0" * 64)
            assert Outbox(store).want_results(["1.2.3.4"], peer.destination) == 1
        assert run_send(["--data-dir", str(tmp_path), "--echo"]) == 0
    assert f"C-ECHO to {peer.destination}: answered Success" in capsys.readouterr().out


@pytest.mark.parametrize("text", ["PACS", "PACS@host:0"])
def test_send_echo_with_a_malformed_destination_is_a_usage_error(
        text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_send(["--data-dir", str(tmp_path), "--echo", text]) == 2
    assert repr(text) in capsys.readouterr().err
