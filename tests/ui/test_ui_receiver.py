"""File › Receive Films…: pushed films appear, get answered in order, and survive a restart."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import pytest

from desktop_app.core.node.dicom_receiver import STATUS_SUCCESS
from desktop_app.core.node.worklist_store import WorklistStore
from desktop_app.ui.results_table import Status
from tests.dicom_films import chest_film, push

pytest.importorskip("pynetdicom")

OPTIONS = {"host": "127.0.0.1", "port": 0, "ae_title": "LUNGLENS",
           "allowed_aes": ["XRAYROOM"], "watch": ""}


def _address(window) -> tuple[str, int]:
    text = window.receiver.indicator.text()
    host, port = text.removeprefix("Listening on ").split(" ")[0].split(":")
    return host, int(port)


def _push_in_background(address: tuple[str, int], films: list) -> dict[str, int]:
    statuses: dict[str, int] = {}
    thread = threading.Thread(target=push, args=(address, films), kwargs={"statuses": statuses})
    thread.start()
    return statuses


def test_received_films_fill_the_worklist_and_survive_a_restart(
        qtbot, make_window, isolated_user_data: Path, tmp_path: Path) -> None:
    window = make_window()
    assert window.receiver.action.text() == "&Receive Films…"
    with qtbot.waitSignal(window.receiver.state_changed, timeout=10_000):
        assert window.receiver.start(OPTIONS)
    qtbot.waitUntil(lambda: window.receiver.indicator.text().startswith("Listening on"),
                    timeout=30_000)
    films = [chest_film(300 + seed) for seed in range(3)]
    statuses = _push_in_background(_address(window), films)
    model = window.table_model
    qtbot.waitUntil(lambda: model.rowCount() == 3
                    and all(r.status is Status.DONE for r in model.records()), timeout=60_000)
    assert statuses == {film.SOPInstanceUID: STATUS_SUCCESS for film in films}
    records = model.records()
    assert [r.sop_instance_uid for r in records] == [f.SOPInstanceUID for f in films]
    assert {r.calling_ae for r in records} == {"XRAYROOM"}
    assert all(r.thumbnail is not None and r.result.ok for r in records)
    column = model.sender_column
    assert model.index(0, column).data().startswith("XRAYROOM · ")
    assert window.receiver.indicator.text().endswith("3 film(s) received")

    out = tmp_path / "worklist.csv"
    assert window.exports.export_csv(out) == 3
    with open(out, encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert sorted(row["sop_instance_uid"] for row in rows) == sorted(
        f.SOPInstanceUID for f in films)
    assert {row["calling_ae"] for row in rows} == {"XRAYROOM"}

    with qtbot.waitSignal(window.receiver.state_changed, timeout=30_000) as stopped:
        window.receiver.toggle()  # the checked action stops the node
    assert stopped.args == [False]
    assert not window.receiver.action.isChecked()
    window.close()

    with WorklistStore.in_folder(isolated_user_data) as store:
        assert {row.analyses for row in store.films()} == {1}
    # A new window (a restart) shows today's films from the worklist, answered, no re-analysis.
    again = make_window()
    qtbot.waitUntil(lambda: again.table_model.rowCount() == 3, timeout=30_000)
    shown = again.table_model.records()
    assert [r.sop_instance_uid for r in shown] == [f.SOPInstanceUID for f in films]
    assert all(r.status is Status.DONE and r.result is not None for r in shown)
    assert not again.batch.running
    labels = {r.sop_instance_uid: r.result.label for r in records}
    assert {r.sop_instance_uid: r.result.label for r in shown} == labels


def test_the_receiver_needs_a_model_and_reports_a_busy_port(qtbot, make_window) -> None:
    import socket

    window = make_window()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with qtbot.waitSignal(window.receiver.state_changed, timeout=10_000):
            window.receiver.start({**OPTIONS, "port": port})
        with qtbot.waitSignal(window.receiver.state_changed, timeout=30_000) as ended:
            pass
    assert ended.args == [False]
    assert "The DICOM receiver stopped" in window.banner.text()
    assert window.receiver.indicator.text() == "Receiver stopped"


def test_films_queued_before_a_restart_are_shown_and_answered_when_receiving_resumes(
        qtbot, make_window, isolated_user_data: Path) -> None:
    film = chest_film(320)
    path = isolated_user_data / "received" / "20261206" / f"{film.SOPInstanceUID}.dcm"
    path.parent.mkdir(parents=True)
    film.save_as(path, enforce_file_format=True)
    with WorklistStore.in_folder(isolated_user_data) as store:
        store.add_film(film.SOPInstanceUID, origin="dicom", stored_file=path, sha256="00",
                       calling_ae="XRAYROOM")  # acknowledged, then the node stopped
    window = make_window()
    model = window.table_model
    qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=30_000)
    assert model.records()[0].status is Status.QUEUED
    assert not window.batch.running  # the node answers it, not the window's batch
    with qtbot.waitSignal(window.receiver.film_analysed, timeout=60_000) as answered:
        window.receiver.start(OPTIONS)
    assert answered.args == [model.records()[0].key]
    assert model.records()[0].status is Status.DONE
    window.receiver.wait(30_000)
    with WorklistStore.in_folder(isolated_user_data) as store:
        assert store.film(film.SOPInstanceUID).analyses == 1


def test_films_exported_into_the_watch_folder_join_the_worklist(
        qtbot, make_window, tmp_path: Path) -> None:
    folder = tmp_path / "viewer-export"
    folder.mkdir()
    film = chest_film(330)
    film.save_as(folder / "export.dcm", enforce_file_format=True)
    window = make_window()
    window.receiver.start({**OPTIONS, "watch": str(folder)})
    model = window.table_model
    qtbot.waitUntil(lambda: model.rowCount() == 1 and model.records()[0].status is Status.DONE,
                    timeout=60_000)
    record = model.records()[0]
    assert (record.path, record.sop_instance_uid) == (folder / "export.dcm",
                                                      film.SOPInstanceUID)
    assert model.index(0, model.sender_column).data().startswith("watch folder · ")
    window.receiver.wait(30_000)
    assert sorted(p.name for p in folder.iterdir()) == ["export.dcm"]


def test_the_dialog_refuses_bad_choices_quoting_them(qtbot, tmp_path: Path) -> None:
    from desktop_app.ui.receiver_control import ReceiverDialog

    dialog = ReceiverDialog({"ae_title": "A" * 17, "watch": ""})
    qtbot.addWidget(dialog)
    dialog._on_buttons_accepted()
    assert f"got {'A' * 17!r}" in dialog.error.text()
    assert dialog.result() != dialog.DialogCode.Accepted
    dialog.ae_title.setText("LUNGLENS")
    dialog.watch.setText(str(tmp_path / "missing"))
    dialog._on_buttons_accepted()
    assert f"watch folder {str(tmp_path / 'missing')!r} is not a folder" == dialog.error.text()
    dialog.watch.setText(str(tmp_path))
    dialog.allowed.setText("XRAYROOM  PACS")
    dialog._on_buttons_accepted()
    assert dialog.result() == dialog.DialogCode.Accepted
    assert dialog.options() == {"host": "127.0.0.1", "port": 11112, "ae_title": "LUNGLENS",
                                "allowed_aes": ["XRAYROOM", "PACS"], "watch": str(tmp_path),
                                "send_to": ""}
