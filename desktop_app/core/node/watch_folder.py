"""The watch folder: films a viewer or PACS exports into a folder join the worklist queue.

A file is taken once it is *complete*: its size and modification time did not change
between two scans at least ``settle_seconds`` apart (an export in progress keeps growing).
Files are read, never moved, renamed or altered: the folder belongs to whoever writes it.
Each taken version of a file (path, size, modification time) is remembered in the worklist
database, so a restart does not take it again, and a DICOM film whose SOP Instance UID is
already a row (received over the network too, say) is not queued twice.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.hashing import sha256_file
from desktop_app.core.imaging import sniff_format
from desktop_app.core.imaging.film_files import film_uid
from desktop_app.core.node.worklist_store import WorklistStore

__all__ = ["WatchFolder", "WatchedFilm"]

LOGGER = logging.getLogger("desktop_app.dicom")


@dataclass(frozen=True)
class WatchedFilm:
    """A watched file that was queued.

    Attributes:
        sop_instance_uid: Its UID (the DICOM header's, or derived from the content).
        path: The file.
    """

    sop_instance_uid: str
    path: Path


class WatchFolder:
    """Scans one folder tree; :meth:`scan` queues what became complete since the last scan."""

    def __init__(self, folder: Path, store: WorklistStore, *, settle_seconds: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Watch ``folder`` (recursively, hidden entries skipped).

        Raises:
            NotADirectoryError: Quoting the path, if ``folder`` is not a folder.
        """
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise NotADirectoryError(f"watch folder {str(self.folder)!r} is not a folder")
        self.store = store
        self.settle_seconds = settle_seconds
        self._clock = clock
        # path -> (size, mtime_ns, first time seen with that size and mtime)
        self._candidates: dict[Path, tuple[int, int, float]] = {}

    def _files(self) -> list[tuple[Path, int, int]]:
        found = []
        for root, dirs, names in os.walk(self.folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                if name.startswith("."):
                    continue
                path = Path(root) / name
                try:
                    info = path.stat()
                except OSError:
                    continue  # removed while scanning
                found.append((path, info.st_size, info.st_mtime_ns))
        return found

    def scan(self) -> list[WatchedFilm]:
        """Queue the files that are complete and new; return them."""
        now = self._clock()
        queued: list[WatchedFilm] = []
        present = set()
        for path, size, mtime_ns in self._files():
            present.add(path)
            seen = self._candidates.get(path)
            if seen is None or seen[:2] != (size, mtime_ns):
                self._candidates[path] = (size, mtime_ns, now)
                continue
            if size == 0 or now - seen[2] < self.settle_seconds:
                continue
            del self._candidates[path]
            if self.store.was_watched(path, size, mtime_ns):
                continue
            film = self._take(path, size, mtime_ns)
            if film is not None:
                queued.append(film)
        for gone in set(self._candidates) - present:
            del self._candidates[gone]
        return queued

    def _take(self, path: Path, size: int, mtime_ns: int) -> WatchedFilm | None:
        kind = sniff_format(path)
        if kind is None:
            self.store.mark_watched(path, size, mtime_ns, None)
            LOGGER.info("watch folder: %s is not an image; ignored", path)
            return None
        try:
            digest = sha256_file(path)
        except OSError as error:
            LOGGER.warning("watch folder: cannot read %s: %s", path, error)
            return None
        uid = film_uid(path, digest, is_dicom=kind == "DICOM")
        added = self.store.add_film(uid, origin="watch", stored_file=path, sha256=digest)
        self.store.mark_watched(path, size, mtime_ns, uid)
        if not added:
            LOGGER.info("watch folder: %s is instance %s, already in the worklist", path, uid)
            return None
        LOGGER.info("watch folder: queued %s (%s)", path, uid)
        return WatchedFilm(uid, path)
