"""The session's rules without a window: what is queued, which answers count, who is told."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest

from desktop_app.core.classify.analysis import ImageResult
from desktop_app.core.locations import bundled_model_dir
from desktop_app.core.model.model_card import ModelCard
from desktop_app.core.model.model_store import ActiveModel
from desktop_app.core.node.worklist import Status
from desktop_app.core.node.worklist_store import FilmRow
from desktop_app.core.session.session import Session, is_from_model


class Recorder:
    """A session listener that writes down what it is told."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def rows_about_to_be_inserted(self, first: int, last: int) -> None:
        self.events.append(f"inserting {first}-{last}")

    def rows_inserted(self) -> None:
        self.events.append("inserted")

    def rows_changed(self, first: int, last: int) -> None:
        self.events.append(f"changed {first}-{last}")

    def about_to_reset(self) -> None:
        self.events.append("resetting")

    def reset(self) -> None:
        self.events.append("reset")

    def model_changed(self) -> None:
        self.events.append("model")

    def queue_changed(self) -> None:
        self.events.append("queue")


@pytest.fixture(scope="module")
def card() -> ModelCard:
    return ModelCard.read(bundled_model_dir() / "model_card.json")


def _model(card: ModelCard, model_id: str | None = None) -> ActiveModel:
    """A model in use: the session reads only the bundle's card (no weights are loaded)."""
    if model_id is not None:
        card = dataclasses.replace(card, model_id=model_id)
    return ActiveModel("test", SimpleNamespace(card=card))  # type: ignore[arg-type]


def _answer(path: Path, model_id: str) -> ImageResult:
    return ImageResult(path, model_id, probabilities={"Normal": 0.8, "Pneumonia": 0.1,
                                                      "COVID-19": 0.1})


def _film(card: ModelCard, uid: str, **changes: object) -> FilmRow:
    row = FilmRow(seq=1, sop_instance_uid=uid, received=dt.datetime.now().astimezone(),
                  origin="dicom", calling_ae="XRAY", stored_file=Path(f"/d/{uid}.dcm"),
                  sha256="00", status="analysed", model_id=card.model_id, label=None,
                  probabilities=dict(zip(card.classes, [0.1, 0.2, 0.7], strict=True)),
                  caution=None, refusal=None,
                  record={"ok": True, "out_of_distribution": False}, analyses=1)
    return dataclasses.replace(row, **changes)


def test_opened_files_are_added_once_and_queued(tmp_path: Path) -> None:
    session = Session()
    recorder = Recorder()
    session.subscribe(recorder)
    files = [tmp_path / "a.png", tmp_path / "b.png"]
    added = session.add_opened(files, {})
    assert (len(added.keys), added.existing) == (2, [])
    assert added.queued == added.keys
    assert session.waiting() == added.keys
    assert session.unanswered() == added.keys
    assert recorder.events == ["inserting 0-0", "inserted", "inserting 1-1", "inserted",
                               "queue"]
    again = session.add_opened([files[0]], {})
    assert (again.keys, again.existing, again.queued) == ([], [added.keys[0]], [])
    assert session.waiting() == added.keys


def test_an_opened_film_already_shown_is_not_added_again(card: ModelCard,
                                                         tmp_path: Path) -> None:
    session = Session()
    session.use_model(_model(card))
    path = tmp_path / "one.png"
    path.write_bytes(b"")
    row = _film(card, "2.25.1", origin="open", status="queued", model_id=None,
                probabilities=None, record=None, stored_file=path)
    first = session.add_opened([path], {path: row})
    assert len(first.keys) == 1
    assert first.queued == first.keys  # an opened film still queued: the window answers it
    copy = tmp_path / "copy.png"
    second = session.add_opened([copy], {copy: dataclasses.replace(row, stored_file=copy)})
    assert (second.keys, second.existing) == ([], first.keys)


def test_received_films_show_their_stored_answer_or_wait_for_this_model(
        card: ModelCard, tmp_path: Path) -> None:
    session = Session()
    session.use_model(_model(card))
    answered = _film(card, "1.1")
    other_model = _film(card, "1.2", model_id="an-older-model")
    for_the_node = _film(card, "1.3", status="queued", model_id=None, probabilities=None,
                         record=None)
    gone = _film(card, "1.4", origin="open", status="queued", model_id=None,
                 probabilities=None, record=None, stored_file=tmp_path / "moved.png")
    queued = session.add_films([answered, other_model, for_the_node, gone])
    keys = [session.worklist.key_of_film(uid) for uid in ("1.1", "1.2", "1.3", "1.4")]
    assert queued == [keys[1]]  # another model's answer: this model answers again
    assert session.waiting() == [keys[1]]
    assert session.worklist.record(keys[0]).status is Status.DONE
    assert session.worklist.record(keys[2]).status is Status.QUEUED  # the node answers it
    assert "is no longer there" in session.worklist.record(keys[3]).details
    assert session.unanswered() == [keys[1], keys[2]]
    # A film received again (same UID) is the same row.
    again = session.add_received(Path("/elsewhere.dcm"), "1.3", "PACS",
                                 dt.datetime.now().astimezone())
    assert again == keys[2]


def test_nothing_is_handed_to_a_batch_before_a_model_is_loaded(card: ModelCard) -> None:
    session = Session()
    added = session.add_opened([Path("a.png"), Path("b.png")], {})
    assert session.take_waiting() == []
    assert session.waiting() == added.keys
    session.use_model(_model(card))
    assert session.take_waiting() == added.keys
    assert session.waiting() == []
    assert session.take_waiting() == []


def test_an_answer_counts_only_from_the_model_in_use(card: ModelCard) -> None:
    session = Session()
    key = session.add_opened([Path("a.png")], {}).keys[0]
    assert not session.is_current_model(_answer(Path("a.png"), card.model_id))  # no model yet
    assert not session.accept_answer(key, _answer(Path("a.png"), card.model_id))
    session.use_model(_model(card))
    old = _answer(Path("a.png"), "an-older-model")
    assert not session.is_current_model(old)
    assert not session.accept_answer(key, old)
    assert session.worklist.record(key).status is Status.QUEUED
    assert session.worklist.record(key).result is None
    current = _answer(Path("a.png"), card.model_id)
    assert session.is_current_model(current)
    assert session.accept_answer(key, current)
    assert session.worklist.record(key).result is current
    assert session.worklist.record(key).status is Status.DONE
    assert session.unanswered() == []
    assert not session.accept_answer(key + 100, current)  # a row that was cleared


def test_is_from_model_needs_a_model() -> None:
    result = _answer(Path("a.png"), "m")
    assert is_from_model(result, "m")
    assert not is_from_model(result, "other")
    assert not is_from_model(result, None)


def test_a_new_model_queues_every_row_again_and_drops_the_old_models_answers(
        card: ModelCard) -> None:
    session = Session()
    recorder = Recorder()
    session.subscribe(recorder)
    first = _model(card)
    assert not session.use_model(first)  # the first model: nothing to answer again
    keys = session.add_opened([Path("a.png"), Path("b.png")], {}).keys
    session.take_waiting()
    assert session.accept_answer(keys[0], _answer(Path("a.png"), card.model_id))
    recorder.events.clear()
    assert session.use_model(_model(card, "retrained"))
    assert recorder.events == ["changed 0-1", "queue", "model"]
    assert session.model_id == "retrained"
    assert session.waiting() == keys
    assert [session.worklist.record(k).status for k in keys] == [Status.QUEUED] * 2
    # A late answer of the old model's batch does not count.
    assert not session.accept_answer(keys[1], _answer(Path("b.png"), card.model_id))
    assert session.worklist.record(keys[1]).status is Status.QUEUED
    assert session.accept_answer(keys[1], _answer(Path("b.png"), "retrained"))
    # The same bundle loaded again is not a new model.
    assert not session.use_model(dataclasses.replace(session.active, warning="again"))


def test_a_failed_model_load_says_why_and_keeps_the_rows_queued(card: ModelCard) -> None:
    session = Session()
    recorder = Recorder()
    session.subscribe(recorder)
    keys = session.add_opened([Path("a.png")], {}).keys
    session.model_failed("'/no/model' is not a model folder")
    assert recorder.events[-1] == "model"
    assert (session.active, session.model_id) == (None, None)
    assert session.model_error == "'/no/model' is not a model folder"
    assert session.waiting() == keys
    session.use_model(_model(card))
    assert session.model_error is None


def test_cancel_empties_the_queue_without_losing_rows(card: ModelCard) -> None:
    session = Session()
    recorder = Recorder()
    session.subscribe(recorder)
    keys = session.add_opened([Path("a.png"), Path("b.png")], {}).keys
    recorder.events.clear()
    assert session.cancel() == keys
    assert recorder.events == ["changed 0-1", "queue"]
    assert session.waiting() == []
    assert len(session.worklist) == 2
    assert [session.worklist.record(k).status for k in keys] == [Status.CANCELLED] * 2
    recorder.events.clear()
    assert session.cancel() == []
    assert recorder.events == []  # nothing queued: nobody is told
    session.use_model(_model(card))
    assert session.take_waiting() == []


def test_clear_empties_the_queue_and_the_worklist() -> None:
    session = Session()
    recorder = Recorder()
    session.subscribe(recorder)
    session.add_opened([Path("a.png")], {})
    recorder.events.clear()
    session.clear()
    assert recorder.events == ["changed 0-0", "queue", "resetting", "reset"]
    assert (len(session.worklist), session.waiting()) == (0, [])
