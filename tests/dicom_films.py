"""Films and a real DICOM client (pynetdicom's SCU) for the DICOM node tests and benchmark."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from desktop_app.core.classify.synthetic import synthetic_radiograph
from desktop_app.core.node.dicom_receiver import IMAGE_STORAGE_CLASSES
from tests.image_factory import dicom_dataset

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"


def chest_film(seed: int, size: tuple[int, int] = (256, 224)) -> Dataset:
    """A DX film (12-bit, Explicit VR Little Endian) with a UID unique to ``seed``."""
    pixels = synthetic_radiograph(size=size, seed=seed % 50).astype(np.uint16) * 15 + 100
    return dicom_dataset(pixels, seed=seed)


def push(address: tuple[str, int], films: Sequence[Dataset | Path], *,
         calling_ae: str = "XRAYROOM", called_ae: str = "LUNGLENS",
         statuses: dict[str, int] | None = None,
         contexts: Sequence[str] = tuple(IMAGE_STORAGE_CLASSES),
         pause: float = 0.0) -> dict[str, int]:
    """Send films over one association; return ``{sop_instance_uid: status}``.

    A film without an answer (association lost) gets no entry. ``statuses`` may be a shared
    dict filled as answers arrive (the fault test reads it after killing the server);
    ``pause`` seconds pass between films (so that a kill lands in the middle of a push).

    Raises:
        ConnectionError: If the association is rejected or cannot be made.
    """
    from pynetdicom import AE

    answers = statuses if statuses is not None else {}
    ae = AE(ae_title=calling_ae)
    for sop_class in contexts:
        # As a modality proposes: a context for the syntax its files are in (a file sent as
        # it is needs exactly that one), then one offering the usual uncompressed ones.
        ae.add_requested_context(sop_class, [EXPLICIT_VR_LITTLE_ENDIAN])
        ae.add_requested_context(sop_class)
    assoc = ae.associate(address[0], address[1], ae_title=called_ae)
    if not assoc.is_established:
        raise ConnectionError(f"association with {address} not established "
                              f"(rejected={assoc.is_rejected})")
    try:
        for film in films:
            uid = (str(film.SOPInstanceUID) if isinstance(film, Dataset)
                   else Path(film).stem)
            status = assoc.send_c_store(film)
            if "Status" not in status:
                break  # no answer: the peer went away
            answers[uid] = int(status.Status)
            time.sleep(pause)
    finally:
        if assoc.is_established:
            assoc.release()
    return answers


def push_until_killed(address: tuple[str, int], films: Sequence[Dataset | Path],
                      statuses: dict[str, int], pause: float = 0.0) -> None:
    """Like :func:`push`, for a server about to be killed: answers so far stay in ``statuses``."""
    with contextlib.suppress(ConnectionError, RuntimeError, OSError):
        push(address, films, statuses=statuses, pause=pause)


def push_concurrently(address: tuple[str, int], films: Sequence[Dataset],
                      associations: int = 4) -> dict[str, int]:
    """Send films split over ``associations`` simultaneous associations."""
    statuses: dict[str, int] = {}
    errors: list[BaseException] = []

    def send(part: Sequence[Dataset]) -> None:
        try:
            push(address, part, statuses=statuses)
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=send, args=(films[i::associations],))
               for i in range(associations)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return statuses
