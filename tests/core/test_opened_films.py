"""Opened files as worklist rows: keyed by DICOM UID or content, never copied, never twice."""

from __future__ import annotations

from pathlib import Path

import pydicom

from desktop_app.core.hashing import sha256_file
from desktop_app.core.imaging.film_files import uid_from_sha256
from desktop_app.core.node.opened_films import ORIGIN_OPEN, register_opened
from desktop_app.core.node.worklist_store import WorklistStore
from tests.dicom_films import chest_film
from tests.ui.images import write_xray


def test_opened_files_become_one_row_each_keyed_by_uid_or_content(tmp_path: Path) -> None:
    png = write_xray(tmp_path / "a.png", 1)
    twin = tmp_path / "twin.png"
    twin.write_bytes(png.read_bytes())
    film = chest_film(7)
    dicom = tmp_path / "b.dcm"
    pydicom.dcmwrite(dicom, film, enforce_file_format=True)
    missing = tmp_path / "gone.png"
    with WorklistStore.in_folder(tmp_path / "data") as store:
        rows = register_opened(store, [png, dicom, missing, twin])
        again = register_opened(store, [png])
        films = store.films()
        stopped = register_opened(store, [png], cancelled=lambda: True)
    assert set(rows) == {png, dicom, twin}  # an unreadable file gets no row
    assert rows[png].sop_instance_uid == uid_from_sha256(sha256_file(png))
    assert rows[twin] == rows[png]  # the same bytes elsewhere: the same film
    assert rows[dicom].sop_instance_uid == film.SOPInstanceUID
    assert again[png] == rows[png]
    assert len(films) == 2
    assert {(row.origin, row.status) for row in films} == {(ORIGIN_OPEN, "queued")}
    assert rows[png].stored_file == png.resolve()
    assert rows[png].sha256 == sha256_file(png)
    assert not (tmp_path / "data" / "received").exists()  # recorded, not copied
    assert stopped == {}
