"""The worklist model without Qt: rows from every source, one per file or film, observed."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from desktop_app.core.classify.analysis import ImageResult
from desktop_app.core.decision import decide
from desktop_app.core.locations import bundled_model_dir
from desktop_app.core.model.model_card import ModelCard
from desktop_app.core.node.stored_results import result_from_row
from desktop_app.core.node.worklist import Status, Worklist
from desktop_app.core.node.worklist_store import FilmRow


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def rows_about_to_be_inserted(self, first: int, last: int) -> None:
        self.events.append(("inserting", first, last))

    def rows_inserted(self) -> None:
        self.events.append(("inserted",))

    def rows_changed(self, first: int, last: int) -> None:
        self.events.append(("changed", first, last))

    def about_to_reset(self) -> None:
        self.events.append(("resetting",))

    def reset(self) -> None:
        self.events.append(("reset",))


def test_rows_from_opening_and_receiving_share_one_worklist() -> None:
    worklist = Worklist()
    recorder = Recorder()
    worklist.subscribe(recorder)
    keys, existing = worklist.add_paths([Path("a.png"), Path("b.dcm"), Path("a.png")])
    assert (len(keys), existing) == (2, [])
    received = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.UTC)
    film_key, new = worklist.add_film(Path("/data/1.2.3.dcm"), "1.2.3", calling_ae="XRAY",
                                      received=received)
    assert new
    assert worklist.add_film(Path("/elsewhere/copy.dcm"), "1.2.3") == (film_key, False)
    # A film received from a file already opened is that row, now with its sender.
    same_key, new = worklist.add_film(Path("b.dcm"), "1.2.4", calling_ae="PACS")
    assert (same_key, new) == (keys[1], False)
    assert worklist.record(keys[1]).calling_ae == "PACS"
    assert worklist.key_of_film("1.2.4") == keys[1]
    assert [r.path.name for r in worklist.records()] == ["a.png", "b.dcm", "1.2.3.dcm"]
    assert recorder.events[:2] == [("inserting", 0, 1), ("inserted",)]
    assert ("inserting", 2, 2) in recorder.events
    assert ("changed", 1, 1) in recorder.events

    worklist.set_status([keys[0], film_key], Status.RUNNING)
    assert recorder.events[-1] == ("changed", 0, 2)
    worklist.set_result(film_key, ImageResult(Path("x"), "m", error="truncated"))
    assert worklist.record(film_key).status is Status.ERROR
    assert worklist.record(film_key).details == "truncated"
    assert worklist.count(Status.RUNNING) == 1
    worklist.clear()
    assert len(worklist) == 0
    assert recorder.events[-2:] == [("resetting",), ("reset",)]
    assert worklist.key_of_film("1.2.3") is None


def _row(card: ModelCard, **changes: object) -> FilmRow:
    probabilities = dict(zip(card.classes, [0.1, 0.2, 0.7], strict=True))
    row = FilmRow(seq=1, sop_instance_uid="1.2", received=dt.datetime.now().astimezone(),
                  origin="dicom", calling_ae="XRAY", stored_file=Path("/d/1.2.dcm"),
                  sha256="00", status="analysed", model_id=card.model_id, label=None,
                  probabilities=probabilities, caution=None, refusal=None,
                  record={"ok": True, "out_of_distribution": False}, analyses=1)
    return dataclasses.replace(row, **changes)


def test_a_stored_answer_is_shown_only_for_the_model_that_gave_it() -> None:
    card = ModelCard.read(bundled_model_dir() / "model_card.json")
    row = _row(card)
    result = result_from_row(row, card)
    assert result is not None
    expected = decide([0.1, 0.2, 0.7], card.classes, card.decision)
    assert result.decision == expected
    assert (result.label, result.path) == (expected.label, row.stored_file)

    refused = result_from_row(_row(card, refusal="lateral view",
                                   record={"ok": True, "out_of_distribution": True}), card)
    assert refused is not None
    assert (refused.label, refused.ood.reason) == (None, "lateral view")

    failed = result_from_row(_row(card, status="failed", refusal="file is truncated"), card)
    assert failed is not None
    assert failed.error == "file is truncated"
    assert result_from_row(_row(card, model_id="another-model"), card) is None
    assert result_from_row(_row(card, status="queued"), card) is None


def test_a_stored_answer_is_rebuilt_for_the_age_group_it_was_given_for() -> None:
    card = ModelCard.read(bundled_model_dir() / "model_card.json")
    assert card.decision.get("by_age_group"), "the bundled card decides per age group"
    adult_record = {"ok": True, "out_of_distribution": False, "age_group": "adult",
                    "patient_age_years": 45.0, "age_source": "DICOM PatientAge 045Y"}
    result = result_from_row(_row(card, record=adult_record), card)
    assert result is not None
    assert result.decision == decide([0.1, 0.2, 0.7], card.classes, card.decision,
                                     age_group="adult")
    assert result.age is not None
    assert result.age.years == 45.0
    assert result.thresholds_note.startswith("adult thresholds (COVID-19 ")
    assert result.thresholds_note.endswith("): PatientAge 045Y")
    # A record of before 2026-12-07 keeps no age: the thresholds for all ages, as then.
    old = result_from_row(_row(card), card)
    assert old is not None
    assert old.decision.age_group is None
    assert old.thresholds_note.startswith("thresholds for all ages (")
    assert "the worklist keeps no patient age" in old.thresholds_note
