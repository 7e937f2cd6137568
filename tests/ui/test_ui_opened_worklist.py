"""Opened and dropped films are kept in the persistent worklist and come back after a restart."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom

from desktop_app.core.cli.worklist_cli import run_worklist
from desktop_app.core.hashing import sha256_file
from desktop_app.core.imaging.film_files import uid_from_sha256
from desktop_app.core.node.opened_films import register_opened
from desktop_app.core.node.worklist_store import WorklistStore
from desktop_app.ui.results_table import Status
from tests.dicom_films import chest_film
from tests.ui.dragdrop import mime_for, send_drop
from tests.ui.images import write_xray


def _wait_answered(qtbot, window, count: int) -> None:
    def done() -> None:
        model = window.table_model
        assert model.rowCount() == count
        assert model.count(Status.DONE) + model.count(Status.ERROR) == count
        assert not window.batch.running

    qtbot.waitUntil(done, timeout=30_000)


def _counts(data_dir: Path) -> dict[str, int]:
    with WorklistStore.in_folder(data_dir) as store:
        return store.counts()


def _committed(data_dir: Path, count: int) -> list:
    with WorklistStore.in_folder(data_dir) as store:
        rows = store.films()
    assert len(rows) == count
    assert all(row.status == "analysed" for row in rows), [row.status for row in rows]
    return rows


def test_opened_films_are_rows_of_the_worklist_and_return_after_a_restart(
        qtbot, make_window, isolated_user_data: Path, tmp_path: Path, capsys) -> None:
    png = write_xray(tmp_path / "films" / "one.png", 1)
    dropped = write_xray(tmp_path / "films" / "two.png", 2)
    film = chest_film(500)
    dicom = tmp_path / "films" / "three.dcm"
    pydicom.dcmwrite(dicom, film, enforce_file_format=True)

    window = make_window()
    window.opening.open_paths([png, dicom])
    _wait_answered(qtbot, window, 2)
    assert send_drop(window, mime_for([dropped]))
    _wait_answered(qtbot, window, 3)
    first = {r.path.name: r for r in window.table_model.records()}
    # Opening the same file again (and a copy of the same bytes) adds no row, here or there.
    copy = tmp_path / "elsewhere" / "one-copy.png"
    copy.parent.mkdir()
    copy.write_bytes(png.read_bytes())
    window.opening.open_paths([png, copy])
    qtbot.waitUntil(lambda: "already in the worklist" in window.statusBar().currentMessage(),
                    timeout=30_000)
    assert window.table_model.rowCount() == 3
    qtbot.waitUntil(lambda: _counts(isolated_user_data)["analysed"] == 3, timeout=30_000)
    window.close()

    rows = {row.stored_file.name: row for row in _committed(isolated_user_data, 3)}
    assert set(rows) == {"one.png", "two.png", "three.dcm"}
    assert rows["three.dcm"].sop_instance_uid == film.SOPInstanceUID  # DICOM keeps its UID
    assert rows["one.png"].sop_instance_uid == uid_from_sha256(sha256_file(png))
    assert rows["one.png"].sha256 == sha256_file(png)
    assert rows["one.png"].stored_file == png.resolve()  # the file itself, never a copy
    assert {row.origin for row in rows.values()} == {"open"}
    assert {row.analyses for row in rows.values()} == {1}
    assert all(row.thumbnail_png for row in rows.values())
    assert not (isolated_user_data / "received").exists()

    # A restart: today's opened films are back with their answers, and nothing is analysed.
    again = make_window()
    qtbot.waitUntil(lambda: again.table_model.rowCount() == 3, timeout=30_000)
    shown = {r.path.name: r for r in again.table_model.records()}
    assert set(shown) == {"one.png", "two.png", "three.dcm"}
    for name, record in shown.items():
        assert record.status is Status.DONE
        assert record.result.probabilities == first[name].result.probabilities
        assert record.label_text == first[name].label_text
        assert record.thumbnail is not None
    assert not again.batch.running
    with WorklistStore.in_folder(isolated_user_data) as store:
        assert {row.analyses for row in store.films()} == {1}

    assert run_worklist(["--data-dir", str(isolated_user_data), "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(Path(item["path"]).name for item in listed) == ["one.png", "three.dcm",
                                                                  "two.png"]
    assert {item["status"] for item in listed} == {"analysed"}
    assert {item["sop_instance_uid"] for item in listed} == {
        row.sop_instance_uid for row in rows.values()}


def test_a_restart_answers_opened_films_left_queued_and_keeps_answers_of_moved_files(
        qtbot, make_window, isolated_user_data: Path, tmp_path: Path) -> None:
    kept = write_xray(tmp_path / "kept.png", 3)
    moved = write_xray(tmp_path / "moved.png", 4)
    window = make_window()
    window.opening.open_paths([moved])
    _wait_answered(qtbot, window, 1)
    answer = window.table_model.records()[0].result.probabilities
    window.close()
    moved.unlink()
    # Opened, then the window closed before its batch answered: the row is still queued.
    with WorklistStore.in_folder(isolated_user_data) as store:
        register_opened(store, [kept])
        assert store.counts()["queued"] == 1

    again = make_window()
    _wait_answered(qtbot, again, 2)
    records = {r.path.name: r for r in again.table_model.records()}
    assert records["kept.png"].status is Status.DONE  # the window answered it
    qtbot.waitUntil(lambda: _counts(isolated_user_data)
                    == {"queued": 0, "analysed": 2, "failed": 0}, timeout=30_000)
    # The moved file keeps its stored answer; selecting it says the file is gone.
    gone = records["moved.png"]
    assert gone.status is Status.DONE
    assert gone.result.probabilities == answer
    again.table.select_key(gone.key)
    qtbot.waitUntil(lambda: "no longer there" in again.viewer.view._placeholder, timeout=10_000)
    assert again.panel.result is gone.result


def test_the_received_column_says_who_sent_a_film_or_that_it_was_opened() -> None:
    import datetime as dt

    from desktop_app.core.node.worklist import RowRecord
    from desktop_app.ui.results_table import _sender_text

    when = dt.datetime(2026, 12, 7, 9, 30, 5)
    assert _sender_text(RowRecord(1, Path("a.dcm"), received=when, calling_ae="MODALITY",
                                  origin="dicom")) == "MODALITY · 09:30:05"
    assert _sender_text(RowRecord(2, Path("b.png"), received=when, origin="watch")) == (
        "watch folder · 09:30:05")
    assert _sender_text(RowRecord(3, Path("c.png"), received=when, origin="open")) == (
        "opened · 09:30:05")
    assert _sender_text(RowRecord(4, Path("d.png"))) == ""
