"""The node end to end: pushed and watched films analysed from the database queue, once."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.node.data_folder_lock import DataFolderBusyError, DataFolderLock
from desktop_app.core.node.dicom_node import DicomNode, NodeCallbacks, NodeOptions
from desktop_app.core.node.dicom_receiver import STATUS_SUCCESS, ReceiverConfig
from desktop_app.core.node.watch_folder import WatchFolder
from desktop_app.core.node.worklist_store import WorklistStore
from tests.dicom_films import chest_film, push_concurrently

pytest.importorskip("pynetdicom")

#: Films of the in-suite load test (the 500-film run is benchmarks/dicom_node.py).
LOAD_FILMS = 48


def _wait_for(condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the node")
        time.sleep(0.1)


@contextmanager
def running_node(data_dir: Path, bundle: Path, *, listen: bool = True,
                 watch: Path | None = None) -> Iterator[tuple[DicomNode, tuple[str, int]]]:
    """A node in a background thread; yields it and its address once it listens."""
    address: list[tuple[str, int]] = []
    ready = threading.Event()
    callbacks = NodeCallbacks(listening=lambda a: (address.append(a), ready.set()))
    options = NodeOptions(receiver=ReceiverConfig(port=0) if listen else None,
                          data_dir=data_dir, watch=watch, poll_seconds=0.1, settle_seconds=0.2)
    node = DicomNode(options, lambda: Analyzer(load_bundle(bundle)), callbacks)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            node.run()
        except BaseException as error:
            errors.append(error)
        finally:
            ready.set()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        if listen:
            assert ready.wait(60)
            if errors:
                raise errors[0]
        yield node, (address[0] if address else ("", 0))
    finally:
        node.stop()
        thread.join(60)
    if errors:
        raise errors[0]


def _all_answered(data_dir: Path, count: int) -> Callable[[], bool]:
    def check() -> bool:
        with WorklistStore.in_folder(data_dir) as store:
            counts = store.counts()
        return counts["queued"] == 0 and counts["analysed"] + counts["failed"] == count
    return check


def test_films_over_four_associations_are_all_stored_and_analysed_once(
        tmp_path: Path, tiny_bundle: Path) -> None:
    films = [chest_film(seed) for seed in range(LOAD_FILMS)]
    with running_node(tmp_path, tiny_bundle) as (_node, address):
        statuses = push_concurrently(address, films, associations=4)
        _wait_for(_all_answered(tmp_path, LOAD_FILMS))
    assert statuses == {film.SOPInstanceUID: STATUS_SUCCESS for film in films}
    with WorklistStore.in_folder(tmp_path) as store:
        rows = store.films()
    assert len(rows) == LOAD_FILMS
    assert {row.analyses for row in rows} == {1}
    assert {row.status for row in rows} == {"analysed"}
    assert all(row.record is not None and row.record["path"] == str(row.stored_file)
               for row in rows)


def test_a_restart_resumes_the_queue_and_answers_nothing_twice(
        tmp_path: Path, tiny_bundle: Path) -> None:
    films = tmp_path / "films"
    films.mkdir()
    with WorklistStore.in_folder(tmp_path / "data") as store:
        for seed in range(3):
            path = films / f"{seed}.dcm"
            chest_film(seed).save_as(path, enforce_file_format=True)
            store.add_film(f"1.2.{seed}", origin="dicom", stored_file=path, sha256="00")
    with running_node(tmp_path / "data", tiny_bundle, listen=False):
        _wait_for(_all_answered(tmp_path / "data", 3))
    with running_node(tmp_path / "data", tiny_bundle, listen=False) as (node, _):
        time.sleep(0.5)
    with WorklistStore.in_folder(tmp_path / "data") as store:
        assert [row.analyses for row in store.films()] == [1, 1, 1]
    assert node.stopping


def test_one_node_per_data_folder(tmp_path: Path) -> None:
    with DataFolderLock(tmp_path), pytest.raises(DataFolderBusyError, match=str(os.getpid())):
        DataFolderLock(tmp_path).acquire()
    with DataFolderLock(tmp_path):  # released: taken again
        pass


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_watch_folder_takes_complete_files_once_and_never_alters_them(
        tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    film = chest_film(20)
    path = folder / "film.dcm"
    film.save_as(path, enforce_file_format=True)
    whole = path.read_bytes()
    path.write_bytes(whole[:1000])  # an export in progress
    (folder / "notes.txt").write_text("not an image")
    clock = _Clock()
    with WorklistStore.in_folder(tmp_path / "data") as store:
        watcher = WatchFolder(folder, store, settle_seconds=2.0, clock=clock)
        assert watcher.scan() == []
        clock.now = 1.0
        path.write_bytes(whole)  # still growing: the clock starts again
        assert watcher.scan() == []
        clock.now = 2.5
        assert watcher.scan() == []  # unchanged for 1.5 s only
        clock.now = 3.5
        taken = watcher.scan()
        assert [(f.sop_instance_uid, f.path) for f in taken] == [(film.SOPInstanceUID, path)]
        before = path.stat()
        # A restart (a new watcher on the same worklist) does not take it again.
        again = WatchFolder(folder, store, settle_seconds=0.0, clock=clock)
        again.scan()
        clock.now = 10.0
        assert again.scan() == []
        rows = store.films()
    assert [(row.origin, row.stored_file) for row in rows] == [("watch", path)]
    assert path.read_bytes() == whole
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in folder.iterdir()) == ["film.dcm", "notes.txt"]


def test_a_watched_copy_of_a_received_film_is_not_queued_twice(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    film = chest_film(21)
    film.save_as(folder / "copy.dcm", enforce_file_format=True)
    png = folder / "film.png"
    from PIL import Image

    from desktop_app.core.classify.synthetic import synthetic_radiograph

    Image.fromarray(synthetic_radiograph(seed=3)).save(png)
    clock = _Clock()
    with WorklistStore.in_folder(tmp_path / "data") as store:
        store.add_film(film.SOPInstanceUID, origin="dicom", stored_file=tmp_path / "x.dcm",
                       sha256="00", calling_ae="PACS")
        watcher = WatchFolder(folder, store, settle_seconds=0.0, clock=clock)
        watcher.scan()
        clock.now = 1.0
        taken = watcher.scan()
        assert [f.path for f in taken] == [png]
        assert taken[0].sop_instance_uid.startswith("2.25.")
        assert len(store.films()) == 2


def test_the_node_analyses_watched_films(tmp_path: Path, tiny_bundle: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    for seed in range(2):
        chest_film(30 + seed).save_as(folder / f"{seed}.dcm", enforce_file_format=True)
    with running_node(tmp_path / "data", tiny_bundle, listen=False, watch=folder):
        _wait_for(_all_answered(tmp_path / "data", 2))
    with WorklistStore.in_folder(tmp_path / "data") as store:
        assert [(row.origin, row.analyses) for row in store.films()] == [("watch", 1)] * 2
