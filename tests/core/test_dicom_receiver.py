"""The DICOM receiver with a real client (pynetdicom's SCU): stored, refused, still serving."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.core.node.dicom_receiver import (
    STATUS_CANNOT_UNDERSTAND,
    STATUS_OUT_OF_RESOURCES,
    STATUS_SUCCESS,
    ReceiverConfig,
    StorageReceiver,
)
from desktop_app.core.node.worklist_store import WorklistStore
from tests.dicom_films import ENCAPSULATED_PDF, chest_film, push

DX = "1.2.840.10008.5.1.4.1.1.1.1"

pytest.importorskip("pynetdicom")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[WorklistStore]:
    with WorklistStore.in_folder(tmp_path) as opened:
        yield opened


def _receiver(store: WorklistStore, tmp_path: Path, **config: object) -> StorageReceiver:
    receiver = StorageReceiver(ReceiverConfig(port=0, **config), store,  # type: ignore[arg-type]
                               tmp_path / "received")
    receiver.start()
    return receiver


def _echo(address: tuple[str, int], calling_ae: str = "XRAYROOM") -> int:
    from pynetdicom import AE

    ae = AE(ae_title=calling_ae)
    ae.add_requested_context("1.2.840.10008.1.1")
    assoc = ae.associate(*address, ae_title="LUNGLENS")
    assert assoc.is_established
    status = assoc.send_c_echo()
    assoc.release()
    return int(status.Status)


def test_listens_on_loopback_by_default() -> None:
    assert ReceiverConfig().host == "127.0.0.1"


def test_echo_and_store_queue_the_film_with_its_sender(store: WorklistStore,
                                                        tmp_path: Path) -> None:
    receiver = _receiver(store, tmp_path)
    try:
        assert receiver.address[0] == "127.0.0.1"
        assert _echo(receiver.address) == STATUS_SUCCESS
        film = chest_film(1)
        assert push(receiver.address, [film]) == {film.SOPInstanceUID: STATUS_SUCCESS}
    finally:
        receiver.stop()
    row = store.film(film.SOPInstanceUID)
    assert row is not None
    assert (row.status, row.calling_ae, row.origin) == ("queued", "XRAYROOM", "dicom")
    assert row.stored_file.name == f"{film.SOPInstanceUID}.dcm"
    assert row.stored_file.is_relative_to(tmp_path / "received")
    buffer = io.BytesIO()
    film.save_as(buffer, enforce_file_format=True)
    import hashlib

    stored = row.stored_file.read_bytes()
    assert hashlib.sha256(stored).hexdigest() == row.sha256
    assert stored.endswith(bytes(film.PixelData))  # the pixel data as sent


def test_a_repeated_push_stays_one_row(store: WorklistStore, tmp_path: Path) -> None:
    receiver = _receiver(store, tmp_path)
    film = chest_film(2)
    try:
        push(receiver.address, [film])
        assert push(receiver.address, [film]) == {film.SOPInstanceUID: STATUS_SUCCESS}
    finally:
        receiver.stop()
    assert len(store.films()) == 1


def test_unknown_calling_ae_is_rejected_at_association(
        store: WorklistStore, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="desktop_app.dicom")
    receiver = _receiver(store, tmp_path, allowed_aes=("XRAYROOM",))
    try:
        with pytest.raises(ConnectionError, match="rejected=True"):
            push(receiver.address, [chest_film(3)], calling_ae="INTRUDER")
        assert "association rejected from AE 'INTRUDER'" in caplog.text
        assert push(receiver.address, [chest_film(4)]) != {}  # the allowed one still stores
    finally:
        receiver.stop()
    assert [row.calling_ae for row in store.films()] == ["XRAYROOM"]


def test_bad_inputs_get_their_status_and_a_log_line_and_serving_goes_on(
        store: WorklistStore, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="desktop_app.dicom")
    receiver = _receiver(store, tmp_path, max_bytes=200_000)
    address = receiver.address
    try:
        big = chest_film(5, size=(512, 448))  # 458,752 bytes of pixel data
        assert push(address, [big]) == {big.SOPInstanceUID: STATUS_OUT_OF_RESOURCES}
        assert "exceeds the limit of 200,000 bytes" in caplog.text

        truncated = chest_film(6)
        truncated.PixelData = bytes(truncated.PixelData)[:-5000]
        assert push(address, [truncated]) == {truncated.SOPInstanceUID:
                                             STATUS_CANNOT_UNDERSTAND}
        assert "pixel data truncated: 109,688 of 114,688 bytes" in caplog.text

        no_pixels = chest_film(7)
        del no_pixels.PixelData
        assert push(address, [no_pixels]) == {no_pixels.SOPInstanceUID:
                                             STATUS_CANNOT_UNDERSTAND}
        assert "dataset has no pixel data" in caplog.text

        pdf = chest_film(9)
        pdf.SOPClassUID = ENCAPSULATED_PDF
        pdf.file_meta.MediaStorageSOPClassUID = ENCAPSULATED_PDF
        with pytest.raises(ValueError, match="presentation context"):
            push(address, [pdf], contexts=[ENCAPSULATED_PDF, DX])
        assert ("refused presentation context(s) (abstract syntax not supported): "
                "1.2.840.10008.5.1.4.1.1.104.1") in caplog.text

        assert _echo(address) == STATUS_SUCCESS  # still serving after all of the above
        good = chest_film(10)
        assert push(address, [good]) == {good.SOPInstanceUID: STATUS_SUCCESS}
    finally:
        receiver.stop()
    stored = {row.sop_instance_uid for row in store.films()}
    assert good.SOPInstanceUID in stored
    assert not stored & {big.SOPInstanceUID, truncated.SOPInstanceUID,
                         no_pixels.SOPInstanceUID, pdf.SOPInstanceUID}
    assert receiver.refused_count == 3
    assert not list((tmp_path / "received").rglob("*.partial"))


def test_the_receiver_accepts_exactly_the_transfer_syntaxes_the_loader_reads(
        store: WorklistStore, tmp_path: Path) -> None:
    """One list: every syntax the loader is tested to decode is accepted, and no other."""
    from pydicom.uid import AllTransferSyntaxes
    from pynetdicom import AE

    from desktop_app.core.imaging import VERIFIED_TRANSFER_SYNTAXES

    proposed = sorted(set(AllTransferSyntaxes) | set(VERIFIED_TRANSFER_SYNTAXES))
    receiver = _receiver(store, tmp_path)
    try:
        ae = AE(ae_title="XRAYROOM")
        for syntax in proposed:  # one context per syntax, so each is answered on its own
            ae.add_requested_context(DX, [syntax])
        assoc = ae.associate(*receiver.address, ae_title="LUNGLENS")
        assert assoc.is_established
        accepted = {context.transfer_syntax[0] for context in assoc.accepted_contexts}
        assoc.release()
    finally:
        receiver.stop()
    assert accepted == set(VERIFIED_TRANSFER_SYNTAXES)
