"""Who made a result object and what it is called: UIDs, the device, the algorithm's facts.

The Structured Report and the Secondary Capture sent back to the PACS must name the
algorithm the way IHE AI Results asks (the model's name and version, a device UID that
changes when the model changes) and must keep their UIDs when sent again: a PACS that
receives an instance twice with the same SOP Instance UID keeps one, while new UIDs would
make a second copy of the same answer. So every UID here is *derived* (PS3.5 B.2, under
the ``2.25`` root) from what identifies the result — the film's SOP Instance UID, the model
id and the kind of object — never drawn at random: rebuilding a result after a crash gives
the same UIDs as the copy that may already have been sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from desktop_app import __version__
from desktop_app.core.decision import thresholds_for
from desktop_app.core.hashing import sha256_bytes
from desktop_app.core.imaging.film_files import uid_from_sha256
from desktop_app.core.model.calibration_line import calibration_line

if TYPE_CHECKING:
    from desktop_app.core.model.model_card import ModelCard

__all__ = [
    "DECISION_SUPPORT",
    "MANUFACTURER",
    "AlgorithmFacts",
    "ResultUids",
    "derived_uid",
    "device_uid",
    "result_uids",
]

MANUFACTURER = "LungLens"
#: The words every result object carries, in the SR as text and on the SC's banner.
DECISION_SUPPORT = "decision support, not a diagnosis"


def derived_uid(*parts: str) -> str:
    """A ``2.25`` UID from the sha256 of ``parts``: the same parts, the same UID."""
    return uid_from_sha256(sha256_bytes("\x1f".join(("lunglens", *parts)).encode()))


def device_uid(model_id: str) -> str:
    """The UID of LungLens-with-this-model as a device: changes exactly when the model does."""
    return derived_uid("device", model_id)


@dataclass(frozen=True)
class ResultUids:
    """The UIDs of one film's two result objects (each in a series of its own).

    Attributes:
        sr_series: Series Instance UID of the Structured Report.
        sr_instance: SOP Instance UID of the Structured Report.
        sc_series: Series Instance UID of the Secondary Capture.
        sc_instance: SOP Instance UID of the Secondary Capture.
    """

    sr_series: str
    sr_instance: str
    sc_series: str
    sc_instance: str


def result_uids(film_uid: str, model_id: str) -> ResultUids:
    """The UIDs of the results a model gave for a film: the same inputs, the same UIDs."""
    def uid(what: str) -> str:
        return derived_uid("result", film_uid, model_id, what)

    return ResultUids(uid("sr-series"), uid("sr"), uid("sc-series"), uid("sc"))


@dataclass(frozen=True)
class AlgorithmFacts:
    """What a result object says about the algorithm that answered.

    Attributes:
        model_id: The model card's id (also the algorithm's name in TID 4019).
        model_version: The card's version.
        software_version: LungLens' version.
        device_uid: :func:`device_uid` of the model id.
        thresholds: The operating thresholds that applied to this film, per class.
        threshold_group: The age group those thresholds are for (``None``: all ages).
        site_calibration: "calibrated for <site> on <date> from <n> films", or ``None``.
    """

    model_id: str
    model_version: str
    software_version: str
    device_uid: str
    thresholds: dict[str, float]
    threshold_group: str | None
    site_calibration: str | None

    @classmethod
    def from_card(cls, card: ModelCard, age_group: str | None) -> AlgorithmFacts:
        """The facts for a film decided by ``card`` for a patient of ``age_group``."""
        thresholds, group = thresholds_for(card.decision, age_group)
        return cls(model_id=card.model_id, model_version=card.version,
                   software_version=__version__, device_uid=device_uid(card.model_id),
                   thresholds=thresholds, threshold_group=group,
                   site_calibration=calibration_line(card))
