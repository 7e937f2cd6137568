"""The non-chest check set as a model measured it, kept in the model's card.

Site calibration brakes the gate with the check set shipped with LungLens
(:mod:`desktop_app.core.site.site_gate`): it needs every check-set image's gate values under the
model being calibrated. Measuring 219 images costs about half of what classifying 500 site
films costs, and the values never change for a model (they are distances to the model's own
reference statistics, which calibration does not move; the view model is the shipped one).
So an export measures them once and keeps them in the card (``ood.check_set``), with the
fingerprint of the check set's manifest and the view model's id; calibration uses the record
when both still match and measures afresh otherwise (an older bundle, a new check set or view
model), so a stale record can never brake the gate.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.gate.check_set import (
    MANIFEST_FILE,
    CheckCase,
    check_set_dir,
    load_check_set,
)
from desktop_app.core.hashing import sha256_file
from desktop_app.core.imaging.film_files import write_atomically
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.model.model_card import CARD_FILE
from desktop_app.core.site.site_films import MeasuredFilm, SiteFilm, measure_films

__all__ = ["RECORD_KEY", "check_set_record", "measure_check_set", "record_check_set",
           "recorded_check_set"]

#: Where the record lives in a card's ``ood`` section.
RECORD_KEY = "check_set"
#: The record's format: 2 holds every check's value for every image (the image statistics
#: and the appearance checks too, for images an image check refuses).
RECORD_FORMAT = 2


def _fingerprint(folder: Path | None) -> str:
    return sha256_file((Path(folder) if folder is not None else check_set_dir()) / MANIFEST_FILE)


def measure_check_set(
    analyzer: Analyzer, cases: Sequence[CheckCase], *,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[MeasuredFilm] | None:
    """Each check-set image through the classify path (``None`` when cancelled)."""
    return measure_films([SiteFilm(case.path, None, case.group) for case in cases], analyzer,
                         progress=progress, cancelled=cancelled)


def check_set_record(measured: Sequence[MeasuredFilm], analyzer: Analyzer,
                     folder: Path | None = None) -> dict[str, Any]:
    """The JSON record of a measured check set (see module docs)."""
    return {
        "format": RECORD_FORMAT,
        "manifest_sha256": _fingerprint(folder),
        "view_model": analyzer.view.model.card.model_id,
        "recorded": dt.datetime.now(dt.UTC).date().isoformat(),
        "films": [{"refused": bool(m.refused or not m.ok),
                   "values": {k: round(float(v), 6) for k, v in (m.values or {}).items()}
                   if m.ok else None}
                  for m in measured],
    }


def recorded_check_set(ood: Mapping[str, Any], cases: Sequence[CheckCase],
                       analyzer: Analyzer, folder: Path | None = None
                       ) -> list[MeasuredFilm] | None:
    """The card's record as measurements, or ``None`` when it is absent or stale."""
    record = ood.get(RECORD_KEY)
    if not isinstance(record, Mapping):
        return None
    films = record.get("films")
    if (record.get("format") != RECORD_FORMAT
            or record.get("manifest_sha256") != _fingerprint(folder)
            or record.get("view_model") != analyzer.view.model.card.model_id
            or not isinstance(films, list) or len(films) != len(cases)):
        return None
    return [MeasuredFilm(SiteFilm(case.path, None, case.group),
                         error=None if film["values"] is not None else "not read",
                         values=dict(film["values"]) if film["values"] is not None else None,
                         refused=bool(film["refused"]))
            for case, film in zip(cases, films, strict=True)]


def record_check_set(bundle_dir: Path | str, folder: Path | None = None) -> dict[str, Any]:
    """Measure the shipped check set with a bundle and keep the record in its card.

    Called by an export (:mod:`model_training.finalize`) and by ``model_training decide``;
    the card is rewritten atomically (it is not hashed, the model files are).

    Returns:
        The record.
    """
    bundle = load_bundle(bundle_dir)
    analyzer = Analyzer(bundle)
    cases = load_check_set(folder)
    measured = measure_check_set(analyzer, cases)
    assert measured is not None  # never cancelled here
    record = check_set_record(measured, analyzer, folder)
    card_path = Path(bundle_dir) / CARD_FILE
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["ood"][RECORD_KEY] = record
    write_atomically(card_path, (json.dumps(card, indent=2) + "\n").encode("utf-8"))
    load_bundle(bundle_dir)  # the rewritten card must still load and verify
    return record
