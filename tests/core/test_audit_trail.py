"""The audit trail: every event a row, in the same transaction as its change, never edited."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from desktop_app.core.audit_trail import append_to_folder
from desktop_app.core.cli.audit_cli import run_audit
from desktop_app.core.model.model_store import ModelStore
from desktop_app.core.node.outbox_store import Outbox, ResultEntry
from desktop_app.core.node.worklist_store import WorklistStore


def _film_history(data: Path) -> None:
    with WorklistStore.in_folder(data) as store:
        assert store.add_film("1.2.3", origin="dicom", stored_file=data / "f.dcm", sha256="0",
                              calling_ae="XRAYROOM")
        assert not store.add_film("1.2.3", origin="dicom", stored_file=data / "f.dcm",
                                  sha256="0")  # a repeat is no event
        store.record_result("1.2.3", {"ok": True, "label": "Pneumonia", "model": "m1",
                                      "probabilities": {"Pneumonia": 0.7}})
        outbox = Outbox(store)
        outbox.add("1.2.3", "PACS@h:104", [ResultEntry("SR", "1.2.840.10008.5.1.4.1.1.88.34",
                                                       "2.25.9", data / "sr.dcm")])
        row = outbox.due()[0]
        outbox.record_failure(row.id, "PACS@h:104 answered failure status 0xA900",
                              status=0xA900, permanent=True)
        outbox.record_sent(row.id, 0)


def test_a_films_life_is_in_the_trail_in_order(tmp_path: Path) -> None:
    _film_history(tmp_path)
    with WorklistStore.in_folder(tmp_path) as store:
        events = store.audit_events()
    assert [(e.what, e.outcome) for e in events] == [
        ("received", "queued (dicom)"), ("analysed", "Pneumonia"), ("result written", "SR"),
        ("send failed", "status 0xA900"), ("sent", "status 0x0000")]
    assert {e.film_uid for e in events} == {"1.2.3"}
    assert events[1].model_id == "m1"
    assert "answered failure status 0xA900" in events[3].detail
    assert events[4].detail == "SR 2.25.9 to PACS@h:104"


@pytest.mark.parametrize("statement", ["UPDATE audit SET outcome = 'x'", "DELETE FROM audit"])
def test_the_trail_refuses_edits(tmp_path: Path, statement: str) -> None:
    _film_history(tmp_path)
    connection = sqlite3.connect(tmp_path / "worklist.sqlite3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        connection.execute(statement)
    connection.close()


def test_audit_command_prints_the_trail(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert run_audit(["--data-dir", str(tmp_path)]) == 1
    assert "no worklist" in capsys.readouterr().err
    _film_history(tmp_path)
    assert run_audit(["--data-dir", str(tmp_path), "--json", "--since", "today"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["what"] for line in lines] == ["received", "analysed", "result written",
                                                "send failed", "sent"]
    assert run_audit(["--data-dir", str(tmp_path)]) == 0
    assert "5 event(s)." in capsys.readouterr().out


def test_models_installed_switched_and_rolled_back_are_recorded(
        tmp_path: Path, tiny_bundle: Path) -> None:
    data = tmp_path / "data"
    store = ModelStore(root=tmp_path / "models", audit_dir=data)
    store.install(tiny_bundle, "first")
    store.install(tiny_bundle, "second")
    assert store.rollback() == "first"
    with WorklistStore.in_folder(data) as worklist:
        events = [(e.what, e.outcome) for e in worklist.audit_events()]
    assert events == [("model installed", "first"), ("model activated", "first"),
                      ("model installed", "second"), ("model activated", "second"),
                      ("model activated", "first"), ("model rolled back", "first")]


def test_an_unwritable_trail_does_not_stop_the_caller(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert not append_to_folder(blocker, "model installed", "m")
