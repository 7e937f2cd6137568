"""Films opened or dropped in the window join the persistent worklist, without a copy.

The worklist is one model fed by open, drop, the receiver and the watch folder alike: an
opened file becomes a row of :mod:`desktop_app.core.node.worklist_store` (origin ``open``) that
records where the file lies and its sha256, never a copy of its bytes (the user's files stay
where they are). Its key is the one a watched file gets
(:func:`~desktop_app.core.imaging.film_files.
film_uid`): the SOP Instance UID of a DICOM file, else a ``2.25`` UID derived from the
content's sha256. So opening the same file twice — or the same film received over DICOM and
opened from a CD — stays one row, and a restart shows today's opened films with their
answers.

Hashing reads every byte of every file, so :func:`register_opened` runs off the UI thread
(the window runs it with the folder expansion) and takes a cancel callback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from desktop_app.core.hashing import sha256_file
from desktop_app.core.imaging import sniff_format
from desktop_app.core.imaging.film_files import film_uid
from desktop_app.core.node.worklist_store import ORIGIN_OPEN, FilmRow, WorklistStore

__all__ = ["ORIGIN_OPEN", "register_opened"]

LOGGER = logging.getLogger("desktop_app.dicom")

def register_opened(store: WorklistStore, files: Sequence[Path], *,
                    cancelled: Callable[[], bool] | None = None) -> dict[Path, FilmRow]:
    """Make each file a row of the worklist (queued when new) and return the rows.

    A file whose content (or DICOM UID) is already a row keeps that row, its arrival time
    and its answer: the window then shows the stored answer instead of classifying again.

    Args:
        store: The persistent worklist.
        files: Image files (folders already expanded).
        cancelled: Polled between files; registration stops when it returns True.

    Returns:
        The row of each file registered. Files that cannot be read are left out: the
        window still lists them (their analysis reports the read error) but keeps no row.
    """
    rows: dict[Path, FilmRow] = {}
    for path in files:
        if cancelled is not None and cancelled():
            break
        path = Path(path)
        try:
            digest = sha256_file(path)
        except OSError as error:
            LOGGER.warning("opened file %s not kept in the worklist: %s", path, error)
            continue
        uid = film_uid(path, digest, is_dicom=sniff_format(path) == "DICOM")
        store.add_film(uid, origin=ORIGIN_OPEN, stored_file=path.resolve(), sha256=digest)
        row = store.film(uid)
        if row is not None:
            rows[path] = row
    return rows
