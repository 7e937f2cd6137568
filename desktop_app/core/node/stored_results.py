"""A stored worklist answer as the :class:`ImageResult` the window shows.

The worklist keeps the ``classify --json`` record, not the pixels: a film analysed before a
restart is shown from its row at once (probabilities, label, refusal) and its image is read
again only when the user selects it. The decision (label, "uncertain", its reason) is a
deterministic function of the probabilities and the model card, so it is rebuilt with
:func:`desktop_app.core.decision.decide` — but only for the model that answered: another
model's probabilities under this card's operating point would be a wrong answer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from desktop_app.core.classify.analysis import ImageResult
from desktop_app.core.decision import decide
from desktop_app.core.gate import OodVerdict
from desktop_app.core.model.model_card import ModelCard
from desktop_app.core.node.worklist_store import FilmRow
from desktop_app.core.patient_age import PatientAge

__all__ = ["result_from_row"]

_AGE_NOT_KEPT = "the worklist keeps no patient age: select the film to read its header"


def result_from_row(row: FilmRow, card: ModelCard) -> ImageResult | None:
    """The row's answer for display, or ``None`` when the film must be analysed (again).

    ``None`` for films still queued and for answers of another model than ``card``'s.
    """
    if row.status == "failed":
        return ImageResult(row.stored_file, row.model_id or card.model_id,
                           error=row.refusal or "could not be read")
    if row.status != "analysed" or row.model_id != card.model_id or not row.probabilities:
        return None
    if set(row.probabilities) != set(card.classes):
        return None
    record = row.record or {}
    refused = bool(record.get("out_of_distribution"))
    probabilities = np.array([row.probabilities[name] for name in card.classes])
    age, age_group = _stored_age(record)
    return ImageResult(
        path=row.stored_file,
        model_id=card.model_id,
        probabilities=dict(row.probabilities),
        decision=None if refused else decide(probabilities, card.classes, card.decision,
                                             age_group=age_group),
        ood=OodVerdict(refused, row.refusal if refused else None),
        age=age,
        age_group=age_group,
    )


def _stored_age(record: dict[str, Any]) -> tuple[PatientAge, str]:
    """The age and age group the film was decided for, as its record keeps them.

    The answer must be rebuilt for the same age group it was given for (an adult's film
    decided at the adult thresholds stays so after a restart); records written before
    2026-12-07 keep no age and are shown for an unknown age, as they were then.
    """
    group = record.get("age_group")
    group = group if group in ("child", "adult") else "unknown"
    years = record.get("patient_age_years")
    if isinstance(years, int | float) and not isinstance(years, bool):
        return PatientAge(float(years), str(record.get("age_source") or "")), group
    return PatientAge.unknown(_AGE_NOT_KEPT), group
