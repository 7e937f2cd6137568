"""Results back to the PACS in the window: the destination and its Test, the menu, the column."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6 import QtCore, QtWidgets

from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.hashing import sha256_file
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.model.model_store import ActiveModel
from desktop_app.core.node.worklist_store import ORIGIN_OPEN, WorklistStore
from desktop_app.core.session.session import Session
from desktop_app.ui.receiver_control import ReceiverControl, ReceiverDialog
from desktop_app.ui.results_sending import DestinationBox, SendControl
from desktop_app.ui.results_table import ResultsTableModel, ResultsTableView
from desktop_app.ui.session_signals import SessionSignals
from desktop_app.ui.settings import Settings
from tests.dicom_films import chest_film
from tests.image_factory import write_dicom
from tests.storage_peer import free_port, storage_peer

pytest.importorskip("pynetdicom")


def test_destination_box_writes_the_destination_and_refuses_a_bad_one(qtbot) -> None:
    box = DestinationBox("PACS@10.0.0.5:4242", "LUNGLENS")
    qtbot.addWidget(box)
    assert (box.ae_title.text(), box.host.text(), box.port.value()) == ("PACS", "10.0.0.5",
                                                                        4242)
    assert box.send_to() == "PACS@10.0.0.5:4242"
    box.host.setText("")
    assert "got 'PACS@:4242'" in box.check()
    box.ae_title.setText("")
    assert box.send_to() == ""
    assert box.check() is None  # no AE title: results are not sent


def test_test_button_echoes_the_destination(qtbot) -> None:
    with storage_peer() as peer:
        box = DestinationBox(peer.destination, "LUNGLENS")
        qtbot.addWidget(box)
        box.test_button.click()
        qtbot.waitUntil(lambda: box.test_button.isEnabled(), timeout=30_000)
        assert box.test_result.text() == f"{peer.destination} answered the C-ECHO"
    box.port.setValue(free_port())
    box.test_button.click()
    qtbot.waitUntil(lambda: box.test_button.isEnabled(), timeout=30_000)
    assert "connection refused, timed out or aborted" in box.test_result.text()


def test_receiver_dialog_keeps_the_destination_with_its_choices(qtbot) -> None:
    dialog = ReceiverDialog({"send_to": "ORTHANC@127.0.0.1:4242"})
    qtbot.addWidget(dialog)
    assert dialog.options()["send_to"] == "ORTHANC@127.0.0.1:4242"
    dialog.destination.port.setValue(104)
    assert dialog.options()["send_to"] == "ORTHANC@127.0.0.1:104"


def test_menu_sends_an_opened_dicom_films_results_and_the_column_shows_sent(
        qtbot, tmp_path: Path, tiny_bundle: Path) -> None:
    data = tmp_path / "data"
    film = chest_film(150)
    path = write_dicom(film, tmp_path / "film.dcm")
    bundle = load_bundle(tiny_bundle)
    with WorklistStore.in_folder(data) as store:
        store.add_film(film.SOPInstanceUID, origin=ORIGIN_OPEN, stored_file=path,
                       sha256=sha256_file(path))
        store.record_result(film.SOPInstanceUID, Analyzer(bundle).analyse_one(path).to_json())
        rows = store.films()
    parent = QtWidgets.QWidget()
    qtbot.addWidget(parent)
    session = Session()
    model = ResultsTableModel(parent, session.worklist)
    signals = SessionSignals(session, parent)
    table = ResultsTableView(model, parent)
    pool = QtCore.QThreadPool(parent)
    session.use_model(ActiveModel("test", bundle))
    session.add_films(rows)
    settings = Settings()
    receiver = ReceiverControl(signals, settings, data, pool, parent)
    control = SendControl(signals, settings, data, pool, receiver, table, parent, follow_ms=200)
    messages: list[str] = []
    control.status_message.connect(lambda text, _ms: messages.append(text))
    control.send_selected()
    assert "Set where results go" in messages[-1]
    with storage_peer() as peer:
        settings.set_receiver_options({"send_to": peer.destination})
        table.selectRow(0)
        assert control.selected_films() == [film.SOPInstanceUID]
        control.send_selected()
        qtbot.waitUntil(lambda: model.index(0, model.send_column).data() == "sent",
                        timeout=120_000)
        qtbot.waitUntil(lambda: "0 result(s) not sent yet" in messages[-1], timeout=60_000)
    sr = next(ds for ds in peer.stored.values() if ds.Modality == "SR")
    assert sr.StudyInstanceUID == film.StudyInstanceUID
    pool.waitForDone(10_000)
