"""``serve`` and ``worklist`` as a user runs them: real processes, real clients, SIGKILL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from desktop_app.core.cli.worklist_cli import run_worklist
from desktop_app.core.node.dicom_receiver import STATUS_SUCCESS
from desktop_app.core.node.worklist_store import WorklistStore
from tests.dicom_films import chest_film, push, push_until_killed
from tests.serve_process import Server, serving

pytest.importorskip("pynetdicom")


def _wait_until_answered(data_dir: Path, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with WorklistStore.in_folder(data_dir) as store:
            counts = store.counts()
        if counts["queued"] == 0 and counts["analysed"] + counts["failed"] >= count:
            return
        assert time.monotonic() < deadline, f"still queued: {counts}"
        time.sleep(0.2)


@pytest.mark.skipif(os.name != "posix", reason="signals as on POSIX")
def test_serve_answers_then_exits_0_on_sigterm_and_worklist_lists_the_film(
        tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    film = chest_film(40)
    with serving(data, tiny_bundle, "--allow-ae", "XRAYROOM") as server:
        assert server.address[0] == "127.0.0.1"
        assert push(server.address, [film]) == {film.SOPInstanceUID: STATUS_SUCCESS}
        _wait_until_answered(data, 1)
        assert server.stop(signal.SIGTERM) == 0
    log = server.log
    assert "association accepted from AE 'XRAYROOM'" in log
    assert f"stored {film.SOPInstanceUID} from AE 'XRAYROOM'" in log
    assert f"analysed {film.SOPInstanceUID} from XRAYROOM: " in log
    assert "stopping: 1 result(s) committed" in log

    assert run_worklist(["--data-dir", str(data), "--json", "--since", "today"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["sop_instance_uid"] == film.SOPInstanceUID
    assert (record["status"], record["calling_ae"], record["ok"]) == ("analysed", "XRAYROOM",
                                                                     True)
    assert {"path", "label", "probabilities", "out_of_distribution", "ood_reason", "model",
            "received"} <= set(record)


def test_worklist_without_a_worklist_says_so(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert run_worklist(["--data-dir", str(tmp_path)]) == 1
    assert f"no worklist in {str(tmp_path)!r}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_worklist(["--since", "yesterday-ish"])
    assert "got 'yesterday-ish'" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_sigkill_mid_push_loses_no_acknowledged_film_and_answers_none_twice(
        tmp_path: Path, tiny_bundle: Path) -> None:
    data = tmp_path / "data"
    films = [chest_film(100 + seed) for seed in range(60)]
    statuses: dict[str, int] = {}
    server = Server(data, tiny_bundle)
    # A short pause between films: the kill must land in the middle of the push.
    pusher = threading.Thread(target=push_until_killed,
                              args=(server.address, films, statuses, 0.05))
    pusher.start()
    deadline = time.monotonic() + 60
    while len(statuses) < 15 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL  # in the middle of the push
    pusher.join(60)
    acknowledged = {uid for uid, status in statuses.items() if status == STATUS_SUCCESS}
    assert 15 <= len(acknowledged) < len(films)

    with serving(data, tiny_bundle) as restarted:
        # The sender retries everything (it cannot know what the dead node kept).
        retried = push(restarted.address, films)
        assert set(retried.values()) == {STATUS_SUCCESS}
        _wait_until_answered(data, len(films))
    with WorklistStore.in_folder(data) as store:
        rows = {row.sop_instance_uid: row for row in store.films()}
    assert acknowledged <= set(rows)
    assert len(rows) == len(films)
    assert {row.analyses for row in rows.values()} == {1}
    assert {row.status for row in rows.values()} == {"analysed"}
    assert not list((data / "received").rglob("*.partial"))


@pytest.mark.skipif(shutil.which("storescu") is None or shutil.which("echoscu") is None,
                    reason="dcmtk's storescu/echoscu not installed (Debian: apt-get install "
                    "dcmtk)")
def test_dcmtk_echoscu_and_storescu(tmp_path: Path, tiny_bundle: Path) -> None:
    data = tmp_path / "data"
    files = []
    for seed in range(3):
        film = chest_film(200 + seed)
        path = tmp_path / f"{seed}.dcm"
        film.save_as(path, enforce_file_format=True)
        files.append((film.SOPInstanceUID, path))
    with serving(data, tiny_bundle, "--allow-ae", "DCMTK") as server:
        host, port = server.address
        echo = subprocess.run(["echoscu", "-aet", "DCMTK", "-aec", "LUNGLENS", host, str(port)],
                              capture_output=True, text=True, timeout=60, check=False)
        assert echo.returncode == 0, echo.stderr
        store = subprocess.run(["storescu", "-aet", "DCMTK", "-aec", "LUNGLENS", host, str(port),
                                *(str(path) for _, path in files)],
                               capture_output=True, text=True, timeout=60, check=False)
        assert store.returncode == 0, store.stderr
        refused = subprocess.run(["echoscu", "-aet", "STRANGER", "-aec", "LUNGLENS", host,
                                  str(port)], capture_output=True, text=True, timeout=60,
                                 check=False)
        assert refused.returncode != 0
        _wait_until_answered(data, len(files))
    assert "association rejected from AE 'STRANGER'" in server.log
    with WorklistStore.in_folder(data) as worklist:
        rows = worklist.films()
    assert sorted(row.sop_instance_uid for row in rows) == sorted(uid for uid, _ in files)
    assert {(row.calling_ae, row.analyses) for row in rows} == {("DCMTK", 1)}
