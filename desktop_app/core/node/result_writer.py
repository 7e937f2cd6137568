"""Writing a film's result objects to disk and into the outbox, before anything is sent.

The order is the pynetdicom shape the receiver already follows, turned round: build the
objects, write each file atomically (temporary name, ``fsync``, rename), commit the outbox
rows, and only then may the sender touch them. A crash before the commit leaves at most a
file nobody owes (rewritten identically next time: the UIDs are derived); a crash after it
leaves rows the sender resumes.

Normally the objects are built from the analysis just made (its heat maps are in memory).
After a crash between the answer's commit and the outbox's, the film is analysed again with
the same model to rebuild them (:meth:`ResultWriter.write_owed`): the model is deterministic,
so the answer is the one stored, and the UIDs are the ones a first copy would have had.

Data folder layout::

    results/YYYYMMDD/<SOP Instance UID>.dcm    the SR and SC of each film
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from pathlib import Path

from pydicom.dataset import Dataset

from desktop_app.core.classify.analysis import Analyzer, ImageResult
from desktop_app.core.errors import ImageLoadError
from desktop_app.core.imaging import load_image
from desktop_app.core.imaging.film_files import received_file, write_all_atomically
from desktop_app.core.model.model_card import ModelCard
from desktop_app.core.node.outbox_store import Outbox, ResultEntry
from desktop_app.core.node.result_evidence import read_film_header
from desktop_app.core.node.result_identity import AlgorithmFacts, result_uids
from desktop_app.core.node.results_sc import build_secondary_capture
from desktop_app.core.node.results_sr import build_structured_report
from desktop_app.core.node.worklist_store import FilmRow

__all__ = ["RESULTS_FOLDER", "ResultWriter"]

LOGGER = logging.getLogger("desktop_app.dicom")
RESULTS_FOLDER = "results"


def _encoded(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


class ResultWriter:
    """Builds, writes and queues the result objects of answered films."""

    def __init__(self, outbox: Outbox, data_dir: Path) -> None:
        """Write into ``data_dir/results`` and queue into ``outbox``."""
        self.outbox = outbox
        self.folder = Path(data_dir) / RESULTS_FOLDER

    def objects(self, header: Dataset, result: ImageResult, card: ModelCard
                ) -> list[Dataset]:
        """The film's result objects: the SR, and the SC when the film was labelled."""
        group = result.decision.age_group if result.decision is not None else None
        facts = AlgorithmFacts.from_card(card, group)
        uids = result_uids(str(header.SOPInstanceUID), card.model_id)
        objects = [build_structured_report(header, result, facts, uids)]
        if result.label is not None and result.cams is not None:
            image = load_image(result.path)
            objects.append(build_secondary_capture(header, result, image, facts, uids))
        return objects

    def write(self, row: FilmRow, result: ImageResult, card: ModelCard,
              destination: str) -> list[ResultEntry]:
        """Write a film's objects and commit their outbox rows for ``destination``.

        A film whose results cannot be made (not DICOM, its file gone) gets a note instead,
        shown as its send error; nothing is raised for it.
        """
        try:
            header = read_film_header(row.stored_file)
            objects = self.objects(header, result, card)
        # highdicom refuses an odd header with ValueError, TypeError or AttributeError.
        except (ValueError, TypeError, AttributeError, ImageLoadError, OSError) as error:
            note = f"no result objects: {error}"
            LOGGER.warning("%s: %s", row.sop_instance_uid, note)
            self.outbox.note_no_results(row.sop_instance_uid, note)
            return []
        day = dt.datetime.now().astimezone().strftime("%Y%m%d")
        entries = []
        for dataset in objects:
            path = received_file(self.folder, day, str(dataset.SOPInstanceUID))
            kind = "SR" if dataset.Modality == "SR" else "SC"
            entries.append(ResultEntry(kind, str(dataset.SOPClassUID),
                                       str(dataset.SOPInstanceUID), path))
        # Both files (fsync each, rename, one fsync of their folder) before their rows.
        write_all_atomically([(entry.file, _encoded(dataset))
                              for entry, dataset in zip(entries, objects, strict=True)])
        self.outbox.add(row.sop_instance_uid, destination, entries)
        LOGGER.info("results of %s written for %s: %s", row.sop_instance_uid, destination,
                    ", ".join(f"{e.kind} {e.sop_instance_uid}" for e in entries))
        return entries

    def write_owed(self, analyzer: Analyzer, limit: int = 16) -> int:
        """Rebuild the results of answered films that have none yet; how many were written.

        Each film is analysed again with ``analyzer`` (for its heat maps); a film answered
        by another model than the analyzer's is noted, not answered anew here.
        """
        written = 0
        store = self.outbox.store
        for uid in self.outbox.films_owed(limit):
            row = store.film(uid)
            if row is None or row.send_to is None:
                continue
            if row.model_id != analyzer.model_id:
                self.outbox.note_no_results(
                    uid, f"answered by model {row.model_id!r}, but the model in use is "
                    f"{analyzer.model_id!r}: analyse the film again to send its results")
                continue
            result = analyzer.analyse_one(row.stored_file, keep_loaded=False)
            if self.write(row, result, analyzer.card, row.send_to):
                written += 1
        return written
