"""The persistent worklist: one row per UID, results committed once, any result field kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from desktop_app.core.imaging.film_files import (
    is_valid_uid,
    received_file,
    remove_partial_files,
    uid_from_sha256,
    write_all_atomically,
    write_atomically,
)
from desktop_app.core.node.worklist_store import WorklistStore, start_of_local_day

RECORD = {"path": "/x/a.dcm", "ok": True, "label": "Normal",
          "probabilities": {"Normal": 0.8, "Pneumonia": 0.1, "COVID-19": 0.1},
          "out_of_distribution": False, "ood_reason": None, "model": "m1"}


def test_a_uid_is_one_row_and_a_result_is_committed_once(tmp_path: Path) -> None:
    with WorklistStore.in_folder(tmp_path) as store:
        assert store.add_film("1.2.3", origin="dicom", stored_file=tmp_path / "a.dcm",
                              sha256="ab", calling_ae="XRAY")
        assert not store.add_film("1.2.3", origin="watch", stored_file=tmp_path / "b.dcm",
                                  sha256="cd")
        assert [row.sop_instance_uid for row in store.queued()] == ["1.2.3"]
        assert store.record_result("1.2.3", RECORD)
        assert not store.record_result("1.2.3", RECORD)  # not queued any more: dropped
        row = store.film("1.2.3")
    assert row is not None
    assert (row.status, row.analyses, row.label, row.calling_ae) == ("analysed", 1, "Normal",
                                                                   "XRAY")
    assert row.stored_file == tmp_path / "a.dcm"  # the first arrival's row is kept
    assert row.probabilities == RECORD["probabilities"]


def test_rows_survive_reopening_in_order_of_arrival(tmp_path: Path) -> None:
    with WorklistStore.in_folder(tmp_path) as store:
        for uid in ("1.5", "1.3", "1.4"):
            store.add_film(uid, origin="dicom", stored_file=tmp_path / uid, sha256="00")
    with WorklistStore.in_folder(tmp_path) as store:
        assert [row.sop_instance_uid for row in store.queued()] == ["1.5", "1.3", "1.4"]
        assert store.counts() == {"queued": 3, "analysed": 0, "failed": 0}


def test_new_result_fields_flow_through_and_caution_has_its_column(tmp_path: Path) -> None:
    record = {**RECORD, "caution": "unusual exposure", "some_future_key": [1, 2]}
    with WorklistStore.in_folder(tmp_path) as store:
        store.add_film("1.9", origin="open", stored_file=tmp_path / "f.png", sha256="00")
        store.record_result("1.9", record)
        row = store.film("1.9")
    assert row is not None
    assert row.caution == "unusual exposure"
    listed = row.to_json()
    assert listed["some_future_key"] == [1, 2]
    assert listed["caution"] == "unusual exposure"
    assert (listed["status"], listed["sop_instance_uid"]) == ("analysed", "1.9")


def test_a_failed_read_is_status_failed_with_the_reason(tmp_path: Path) -> None:
    with WorklistStore.in_folder(tmp_path) as store:
        store.add_film("1.7", origin="dicom", stored_file=tmp_path / "x", sha256="00")
        store.record_result("1.7", {"path": "x", "ok": False, "error": "file is truncated"})
        row = store.film("1.7")
    assert row is not None
    assert (row.status, row.refusal, row.label) == ("failed", "file is truncated", None)


def test_since_compares_instants(tmp_path: Path) -> None:
    yesterday = dt.datetime.now().astimezone() - dt.timedelta(days=1)
    with WorklistStore.in_folder(tmp_path) as store:
        store.add_film("1.1", origin="dicom", stored_file=tmp_path / "a", sha256="00",
                       received=yesterday)
        store.add_film("1.2", origin="dicom", stored_file=tmp_path / "b", sha256="00")
        today = store.films(start_of_local_day(dt.date.today()))
        assert [row.sop_instance_uid for row in today] == ["1.2"]
        assert len(store.films()) == 2


@pytest.mark.parametrize("uid", ["../../etc/passwd", "1.2.03", "", "1..2", "1.2.", "C:\\x",
                                 "1." + "2" * 70, "1.2.3\x00", " 1.2"])
def test_uids_that_could_name_a_path_are_refused(tmp_path: Path, uid: str) -> None:
    assert not is_valid_uid(uid)
    with pytest.raises(ValueError, match="not a valid SOP Instance UID"):
        received_file(tmp_path, "20261206", uid)


def test_valid_and_derived_uids() -> None:
    assert is_valid_uid("1.2.840.10008.5.1.4.1.1.1.1")
    derived = uid_from_sha256("f" * 64)
    assert derived.startswith("2.25.")
    assert is_valid_uid(derived)


def test_atomic_write_leaves_the_whole_file_and_no_partial(tmp_path: Path) -> None:
    target = received_file(tmp_path, "20261206", "1.2.3")
    write_atomically(target, b"x" * 1000)
    assert target.read_bytes() == b"x" * 1000
    assert list(target.parent.iterdir()) == [target]
    (target.parent / ".1.2.4.dcm.1.2.partial").write_bytes(b"half")
    assert remove_partial_files(tmp_path) == 1
    assert list(target.parent.iterdir()) == [target]


def test_files_written_together_are_each_synced_and_their_folder_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    sr, sc = (received_file(tmp_path, "20261207", uid) for uid in ("1.2.3", "1.2.4"))
    write_all_atomically([(sr, b"report"), (sc, b"picture")])
    assert (sr.read_bytes(), sc.read_bytes()) == (b"report", b"picture")
    assert sorted(sr.parent.iterdir()) == [sr, sc]
    # Each file under its temporary name, then the folder once (after both renames).
    assert len(synced) == 3
    assert [Path(name).suffix for name in synced[:2]] == [".partial", ".partial"]
    assert synced[2] == str(sr.parent)


def test_worklist_command_prints_a_readable_table(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from desktop_app.core.cli.worklist_cli import run_worklist

    with WorklistStore.in_folder(tmp_path) as store:
        store.add_film("1.2.3", origin="dicom", stored_file=tmp_path / "a.dcm", sha256="00",
                       calling_ae="XRAYROOM")
        store.add_film("1.2.4", origin="watch", stored_file=tmp_path / "b.png", sha256="00")
        store.record_result("1.2.3", {**RECORD, "caution": "low contrast"})
    assert run_worklist(["--data-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "XRAYROOM" in lines[0]
    assert "analysed" in lines[0]
    assert "Normal (caution: low contrast)" in lines[0]
    assert lines[0].endswith("1.2.3")
    assert "watch" in lines[1]
    assert "queued" in lines[1]
    assert lines[2] == ("2 film(s) listed; in the worklist: 1 queued, 1 analysed, 0 failed.")


def test_only_an_opened_film_takes_another_models_answer(tmp_path: Path) -> None:
    other_model = {**RECORD, "model": "m2", "label": "Pneumonia"}
    with WorklistStore.in_folder(tmp_path) as store:
        for uid, origin in (("1.1", "open"), ("1.2", "dicom"), ("1.3", "watch")):
            store.add_film(uid, origin=origin, stored_file=tmp_path / f"{uid}.png", sha256="ab")
            assert store.record_result(uid, RECORD)
        # The same model again: dropped, whatever the origin (one answer per model).
        assert not store.record_result("1.1", RECORD, replace_other_model=True)
        # Another model: the window's opened film takes it; received and watched films do not.
        assert store.record_result("1.1", other_model, replace_other_model=True)
        assert not store.record_result("1.2", other_model, replace_other_model=True)
        assert not store.record_result("1.3", other_model, replace_other_model=True)
        assert not store.record_result("1.1", other_model)  # not asked: never replaced
        rows = {row.sop_instance_uid: row for row in store.films()}
    assert (rows["1.1"].model_id, rows["1.1"].label, rows["1.1"].analyses) == ("m2", "Pneumonia",
                                                                               2)
    assert {rows[uid].model_id for uid in ("1.2", "1.3")} == {"m1"}
    assert {rows[uid].analyses for uid in ("1.2", "1.3")} == {1}


def test_two_openers_adding_the_same_later_column_both_succeed(tmp_path: Path) -> None:
    """The node and a command open a worklist of an earlier version at the same moment."""
    import threading

    from desktop_app.core.node import worklist_store as module

    path = tmp_path / "worklist.sqlite3"
    WorklistStore(path).close()
    first = WorklistStore(path)
    # The second opener read the columns before the first added them: its ALTER now finds
    # the column there, which must count as done, not as an error.
    name, kind = module._ADDED_FILM_COLUMNS[0]
    first._add_column(name, kind)
    first._add_column(name, kind)
    errors: list[BaseException] = []

    fresh = tmp_path / "new" / "worklist.sqlite3"  # created and migrated by racing openers

    def open_and_close() -> None:
        try:
            WorklistStore(fresh).close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_and_close) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first.close()
    assert errors == []
