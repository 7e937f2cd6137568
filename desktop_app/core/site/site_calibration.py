"""Calibrate to this site: the same weights, the site's thresholds and gate limits.

No model trained on public research films decides equally well everywhere: at a hospital it
never saw, its ranking of films holds far better than its thresholds and its gate's idea of a
usual film (docs/operating_point.md, docs/ood_evaluation.md). Radiology guidance asks a site
to validate a model locally before relying on it; LungLens goes one step further and lets the
site **adapt the decisions** to its own films, in minutes, on the workstation, without
TensorFlow (the classify-only build does it):

1. the site's films are measured once by the app's own classify path
   (:mod:`desktop_app.core.site.site_films`), and so is the non-chest check set shipped with
   LungLens (:mod:`desktop_app.core.gate.check_set`);
2. the gate's limits move out to the site's frontal films, braked by the check set
   (:mod:`desktop_app.core.site.site_gate`);
3. with labelled films, the finding thresholds are chosen on the site's films
   (:mod:`desktop_app.core.site.site_thresholds`); unlabelled films adapt the gate only;
4. the before/after figures are **cross-validated by patient**: every film is measured with
   limits and thresholds chosen without its patient (:mod:`desktop_app.core.site.site_figures`),
   with n, 95 % intervals and plain-word warnings.

The result is a complete model bundle (:meth:`SiteCalibration.write_bundle`): the same model
files (same sha256), a card whose ``decision`` and ``ood`` limits are the site's, a new
``model_id`` and a ``site_calibration`` section saying for which site, when, from how many
films, what moved and what that changed. The input bundle is never modified. Calibrating a
calibrated bundle starts again from the model's own thresholds and limits (kept in the
section), so calibrations never compound.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app import __version__
from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.decision import decide
from desktop_app.core.errors import LungLensError
from desktop_app.core.gate.check_set import CheckCase, CheckSetError, load_check_set
from desktop_app.core.imaging.film_files import write_atomically
from desktop_app.core.model.calibration_line import SITE_CALIBRATION, calibration_line
from desktop_app.core.model.model_bundle import ModelBundle, load_bundle
from desktop_app.core.model.model_card import CARD_FILE
from desktop_app.core.site.check_set_record import measure_check_set, recorded_check_set
from desktop_app.core.site.site_curves import site_curves_section
from desktop_app.core.site.site_figures import FilmOutcome, class_counts, site_figures
from desktop_app.core.site.site_films import (
    MeasuredFilm,
    SiteFilmsError,
    measure_films,
    read_site_films,
)
from desktop_app.core.site.site_gate import (
    GateLimits,
    ViewLimits,
    refused_and_cautioned,
    site_limits,
    site_look,
)
from desktop_app.core.site.site_records import gate_record, thresholds_record
from desktop_app.core.site.site_thresholds import ThresholdSettings, check_fixed, site_decision
from desktop_app.core.site.site_warnings import calibration_warnings

__all__ = [
    "MIN_SITE_FILMS",
    "SECTION",
    "CalibrationError",
    "CalibrationSettings",
    "SiteCalibration",
    "SiteEvidence",
    "calibrate_site",
    "calibration_line",
    "recalibrate",
    "require_new_folder",
]

#: The card section a calibrated bundle carries.
SECTION = SITE_CALIBRATION
#: Fewest frontal films (the site's look) a calibration is made from.
MIN_SITE_FILMS = 30

ProgressCallback = Callable[[int, int], None]
CancelCallback = Callable[[], bool]


class CalibrationError(LungLensError):
    """The site's films cannot calibrate the model (the message says why)."""


@dataclass(frozen=True)
class CalibrationSettings:
    """What the clinic asks of the calibration.

    Attributes:
        site: The site's name, shown wherever the model is ("calibrated for <site> ...").
        thresholds: The operating-point rule (:class:`ThresholdSettings`).
        folds: Folds of the cross-validation by patient.
    """

    site: str
    thresholds: ThresholdSettings = field(default_factory=ThresholdSettings)
    folds: int = 5

    def __post_init__(self) -> None:
        if not self.site.strip():
            raise ValueError(f"the site needs a name. Received: {self.site!r}")
        if self.folds < 2:
            raise ValueError(f"folds must be at least 2. Received: {self.folds!r}")


@dataclass
class SiteCalibration:
    """A finished calibration: the new card, and what it changed.

    Attributes:
        source: The bundle folder that was calibrated (never modified).
        card: The calibrated bundle's card (JSON-ready).
        evidence: What the films measured, to choose other thresholds without measuring
            them again (:func:`recalibrate`); ``None`` when not at hand.
        settings: What the calibration was asked (``None`` when not known).
    """

    source: Path
    card: dict[str, Any]
    evidence: SiteEvidence | None = field(default=None, repr=False, compare=False)
    settings: CalibrationSettings | None = None

    @property
    def summary(self) -> dict[str, Any]:
        """The card's ``site_calibration`` section."""
        return self.card[SECTION]

    @property
    def warnings(self) -> list[str]:
        """Plain-word warnings about the figures and the films."""
        return list(self.summary.get("warnings", []))

    @property
    def model_id(self) -> str:
        """The calibrated bundle's model id."""
        return str(self.card["model_id"])

    def write_bundle(self, out: Path | str) -> ModelBundle:
        """Write the complete calibrated bundle into ``out`` (a new or empty folder).

        The model files are copied byte for byte (their sha256 stay in the card); the card
        is written atomically last, and the bundle is loaded and verified before returning.

        Raises:
            CalibrationError: If ``out`` is the source bundle or a folder that is not empty.
        """
        out = Path(out)
        require_new_folder(out, self.source)
        out.mkdir(parents=True, exist_ok=True)
        for name in self.card["files"]:
            shutil.copy2(self.source / name, out / name)
        text = json.dumps(self.card, indent=2, ensure_ascii=False) + "\n"
        write_atomically(out / CARD_FILE, text.encode("utf-8"))
        return load_bundle(out)


def require_new_folder(out: Path, source: Path | None = None) -> None:
    """Refuse an output folder that holds anything, or the model being calibrated.

    Called before a calibration starts (so a taken folder fails in a second, not after the
    films were measured) and again when the bundle is written.

    Raises:
        CalibrationError: Naming the folder and what to do.
    """
    if source is not None and out.resolve() == Path(source).resolve():
        raise CalibrationError(f"{str(out)!r} is the model being calibrated: the input model "
                               "is never modified; choose a new folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CalibrationError(f"{str(out)!r} already exists and is not an empty folder; "
                               "choose a new folder for the calibrated model")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "site"


def _view_limits(analyzer: Analyzer) -> ViewLimits:
    view = analyzer.view
    return ViewLimits(view.min_frontal_probability, view.caution_frontal_probability,
                      view.confident_frontal_probability)


def _folds(films: Sequence[MeasuredFilm], folds: int) -> np.ndarray:
    """A fold per film, by patient (a stable hash: the same films always split alike)."""
    patients = sorted({m.film.patient_id for m in films})
    count = min(folds, len(patients))
    order = sorted(patients, key=lambda p: hashlib.sha256(p.encode("utf-8")).hexdigest())
    fold_of = {patient: index % count for index, patient in enumerate(order)}
    return np.array([fold_of[m.film.patient_id] for m in films])


def _outcomes_before(films: Sequence[MeasuredFilm]) -> list[FilmOutcome]:
    return [FilmOutcome(m.film.truth, m.age_group, m.label, m.refused, m.cautioned)
            for m in films]


class _GateChooser:
    """Chooses the gate's limits on some films; says which films they refuse or caution."""

    def __init__(self, model: Mapping[str, Any], view: ViewLimits,
                 checks: Sequence[MeasuredFilm], check_cases: Sequence[CheckCase]) -> None:
        self.model = model  # the model's own decision and ood section
        self.view = view
        self.check_values = [m.values for m in checks]
        self.check_fixed = [m.refused or not m.ok for m in checks]
        self.check_development = [not case.held_out for case in check_cases]

    def choose(self, films: Sequence[MeasuredFilm]) -> dict[str, Any]:
        return site_limits(self.model["ood"], [m.values for m in films], self.view,
                           self.check_values, self.check_fixed, self.check_development)

    def flags(self, films: Sequence[MeasuredFilm], limits: GateLimits
              ) -> tuple[np.ndarray, np.ndarray]:
        refused, cautioned = refused_and_cautioned(
            [m.values for m in films], limits, self.view, [m.refused for m in films])
        return np.asarray(refused, dtype=bool), np.asarray(cautioned, dtype=bool)


@dataclass
class SiteEvidence:
    """What one pass over the site's films measured, and the gate chosen on them.

    Thresholds are the part of a calibration a clinic may want to choose again (the dialog's
    curves, ``--threshold``); everything that choice needs is here, so :func:`recalibrate`
    re-decides the films by arithmetic: no film is read and no gate limit chosen again (the
    gate does not depend on the thresholds).

    Attributes:
        data: The site's films as given.
        source: The bundle calibrated.
        card: Its card (JSON); ``model``: the model's own decision, gate and id.
        films: The films given; ``measured``: what the classify path measured of each;
            ``readable``: those it could read (the films every figure counts).
        look: The films that made the site's look; ``left_out``: labelled films of
            other classes.
        gate: The gate chosen on every readable film (the calibrated bundle's).
        fold: Each readable film's cross-validation fold (by patient).
        refused: Each readable film refused by the gate chosen without its fold (the
            films' own gate when there is one fold); ``cautioned`` likewise.
    """

    data: Path | str
    source: Path
    card: dict[str, Any]
    model: dict[str, Any]
    films: list[Any]
    measured: list[MeasuredFilm]
    readable: list[MeasuredFilm]
    look: Any
    left_out: Any
    gate: dict[str, Any]
    fold: np.ndarray
    refused: np.ndarray
    cautioned: np.ndarray

    @property
    def classes(self) -> list[str]:
        """The model's classes."""
        return list(self.card["classes"])

    @property
    def cross_validated(self) -> bool:
        """The films fell into at least two patient folds."""
        return len(set(self.fold.tolist())) >= 2


def _model_sections(card: Mapping[str, Any]) -> dict[str, Any]:
    """The model's own decision and ood section (a calibrated card keeps them)."""
    previous = card.get(SECTION)
    if previous:
        ood = GateLimits(previous["model_limits"]["usual"],
                         previous["model_limits"]["refusal"]).to_spec(card["ood"])
        return {"decision": previous["model_decision"], "ood": ood,
                "model_id": previous["model_id"]}
    return {"decision": card["decision"], "ood": card["ood"], "model_id": card["model_id"]}


def calibrate_site(
    data: Path | str,
    bundle: ModelBundle,
    settings: CalibrationSettings,
    *,
    progress: ProgressCallback | None = None,
    cancelled: CancelCallback | None = None,
    analyzer: Analyzer | None = None,
    check_set: Sequence[CheckCase] | None = None,
) -> SiteCalibration | None:
    """Calibrate ``bundle`` to the films at ``data`` (see module docs).

    Args:
        data: The site's films: a labelled folder or CSV (any layout ``validate`` reads) or
            a folder of unlabelled films.
        bundle: The model to calibrate (not modified).
        settings: Site name and operating-point rule (thresholds set by hand included).
        progress: Called with (films measured, films to measure), the check set included.
        cancelled: Polled between films; when it returns True, returns ``None``.
        analyzer: An analyzer for ``bundle`` to reuse.
        check_set: The non-chest check set (default: the one shipped with LungLens).

    Returns:
        The calibration, or ``None`` when cancelled.

    Raises:
        CalibrationError: If the films cannot be read or too few are frontal chest films,
            or a threshold is set by hand for a class without one.
    """
    classes = list(bundle.card.classes)
    _check_fixed(settings, bundle.card.decision, classes)
    films, left_out, cases = _films_and_check_set(data, classes, check_set)
    analyzer = analyzer if analyzer is not None else Analyzer(bundle)
    measurement = _measure(films, cases, check_set is not None, bundle, analyzer, progress,
                           cancelled)
    if measurement is None:
        return None
    measured, checks = measurement
    readable = [m for m in measured if m.ok]
    view = _view_limits(analyzer)
    look = _site_look(data, films, measured, readable, view, bundle)
    card = json.loads((bundle.path / CARD_FILE).read_text(encoding="utf-8"))
    model = _model_sections(card)
    gates = _GateChooser(model, view, checks, cases)
    gate = gates.choose(readable)
    fold = _folds(readable, settings.folds)
    flags = _flags_after(gates, readable, fold, gate, cancelled)
    if flags is None:
        return None
    evidence = SiteEvidence(data, bundle.path, card, model, list(films), measured, readable,
                            look, left_out, gate, fold, *flags)
    return _calibration(evidence, settings, dt.datetime.now(dt.UTC).date())


def recalibrate(calibration: SiteCalibration, settings: CalibrationSettings
                ) -> SiteCalibration:
    """The same films and gate with other thresholds or targets: nothing is measured again.

    The calibration dialog calls this as the clinician moves a point along a curve; the
    figures, warnings and curves are those :func:`calibrate_site` would give with
    ``settings`` (cross-validated the same way, on the same folds).

    Raises:
        CalibrationError: If ``calibration`` was read from a card (its films are not at hand)
            or a threshold is set by hand for a class without one.
    """
    evidence = calibration.evidence
    if evidence is None:
        raise CalibrationError("this calibration's films are not at hand (it was read from "
                               "a card): calibrate again to choose other thresholds")
    _check_fixed(settings, evidence.model["decision"], evidence.classes)
    return _calibration(evidence, settings, dt.date.fromisoformat(calibration.summary["date"]))


def _check_fixed(settings: CalibrationSettings, decision: Mapping[str, Any],
                 classes: Sequence[str]) -> None:
    try:
        check_fixed(settings.thresholds.fixed, decision, classes)
    except ValueError as error:
        raise CalibrationError(str(error)) from error


def _calibration(evidence: SiteEvidence, settings: CalibrationSettings, today: dt.date
                 ) -> SiteCalibration:
    """Thresholds on every film, figures cross-validated by patient, curves, section, card."""
    readable, classes = evidence.readable, evidence.classes
    everyone = np.ones(len(readable), dtype=bool)
    decision, how = _site_thresholds(evidence, settings, everyone)
    per_film = _fold_decisions(evidence, settings, decision)
    after = [FilmOutcome(m.film.truth, m.age_group,
                         None if refused else decide(m.probabilities, classes, rule,
                                                     age_group=m.age_group).label,
                         bool(refused), bool(cautioned))
             for m, rule, refused, cautioned in zip(readable, per_film, evidence.refused,
                                                    evidence.cautioned, strict=True)]
    outcomes_before = _outcomes_before(readable)
    counts = class_counts(outcomes_before)
    after_figures = site_figures(after)
    section = _section(settings, today, evidence, decision, how,
                       films=_films_record(evidence, counts),
                       figures=(site_figures(outcomes_before), after_figures))
    section["threshold_curves"] = site_curves_section(
        np.stack([m.probabilities for m in readable]), [m.film.truth for m in readable],
        [m.age_group for m in readable], ~evidence.refused, per_film, decision, classes,
        settings.thresholds, after_figures, cross_validated=evidence.cross_validated)
    section["warnings"] = calibration_warnings(readable, counts, after_figures, evidence.gate,
                                               how, evidence.card, classes, decision,
                                               evidence.cross_validated)
    card = _site_card(evidence.card, evidence.model, settings, today, decision,
                      evidence.gate, section)
    return SiteCalibration(evidence.source, card, evidence=evidence, settings=settings)


def _site_thresholds(evidence: SiteEvidence, settings: CalibrationSettings, rows: np.ndarray
                     ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The decision chosen on the labelled films among ``rows`` (and how each was set)."""
    labelled = [m for m, keep in zip(evidence.readable, rows, strict=True)
                if keep and m.film.truth is not None]
    model = evidence.model["decision"]
    if not labelled and not settings.thresholds.fixed:
        return dict(model), None
    probabilities = (np.stack([m.probabilities for m in labelled]) if labelled
                     else np.zeros((0, len(evidence.classes))))
    return site_decision(model, probabilities, [m.film.truth for m in labelled],
                         [m.age_group for m in labelled], evidence.classes,
                         settings.thresholds)


def _fold_decisions(evidence: SiteEvidence, settings: CalibrationSettings,
                    decision: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Each film's decision after calibration: chosen without its fold's patients.

    With one patient group only, every film is decided by the films' own choice.
    """
    if not evidence.cross_validated:
        return [decision] * len(evidence.readable)
    chosen = {fold: _site_thresholds(evidence, settings, evidence.fold != fold)[0]
              for fold in sorted(set(evidence.fold.tolist()))}
    return [chosen[fold] for fold in evidence.fold.tolist()]


def _films_record(evidence: SiteEvidence, counts: Mapping[str, int]) -> dict[str, Any]:
    """How many films were given, used, unreadable, of the site's look; by class."""
    return {"given": len(evidence.films), "used": len(evidence.readable),
            "unreadable": len(evidence.measured) - len(evidence.readable),
            "site_look": len(evidence.look), "other_classes_left_out": evidence.left_out,
            "by_class": counts}


def _measure(films: Sequence[Any], cases: Sequence[CheckCase], own_check_set: bool,
             bundle: ModelBundle, analyzer: Analyzer, progress: ProgressCallback | None,
             cancelled: CancelCallback | None
             ) -> tuple[list[MeasuredFilm], Sequence[MeasuredFilm]] | None:
    """Measure the site's films and the check set (``None`` when cancelled)."""
    # The card's record of the check set when it still matches (an export makes it); the
    # model's distances of those images never change, and measuring them costs time.
    checks = None if own_check_set else recorded_check_set(bundle.card.ood, cases, analyzer)
    total = len(films) + (len(cases) if checks is None else 0)

    def step(offset: int) -> ProgressCallback | None:
        return None if progress is None else (lambda done, _n: progress(offset + done, total))

    measured = measure_films(films, analyzer, progress=step(0), cancelled=cancelled)
    if measured is None:
        return None
    if checks is None:
        checks = measure_check_set(analyzer, cases, progress=step(len(films)),
                                   cancelled=cancelled)
    if checks is None:
        return None
    return measured, checks


def _site_look(data: Path | str, films: Sequence[Any], measured: Sequence[MeasuredFilm],
               readable: Sequence[MeasuredFilm], view: ViewLimits,
               bundle: ModelBundle) -> Any:
    """The readable films the model's image and view checks accept; enough of them, or raise."""
    look = site_look([m.values for m in readable], view, GateLimits.from_spec(bundle.card.ood))
    _require_enough_films(data, films, measured, readable, look)
    return look


def _site_card(card: Mapping[str, Any], model: Mapping[str, Any],
               settings: CalibrationSettings, today: dt.date, decision: Mapping[str, Any],
               gate: Mapping[str, Any], section: dict[str, Any]) -> dict[str, Any]:
    """The calibrated card: a new model id, the site's decision and gate, the section."""
    new_card = dict(card)
    new_card["model_id"] = (f"{model['model_id']}-site-{_slug(settings.site)}-"
                            f"{today.strftime('%Y%m%d')}")
    new_card["decision"] = decision
    new_card["ood"] = gate["limits"].to_spec(card["ood"])
    new_card[SECTION] = section
    return new_card


def _films_and_check_set(data: Path | str, classes: list[str],
                         check_set: Sequence[CheckCase] | None
                         ) -> tuple[list[Any], Any, list[CheckCase]]:
    """The site's films, the classes left out, and the non-chest check set's cases."""
    try:
        films, left_out = read_site_films(data, classes)
    except SiteFilmsError as error:
        raise CalibrationError(str(error)) from error
    try:
        cases = list(check_set) if check_set is not None else load_check_set()
    except CheckSetError as error:
        raise CalibrationError(
            f"the non-chest check set shipped with LungLens cannot be read ({error}); it "
            "brakes how far the gate may widen, so nothing was calibrated: reinstall "
            "LungLens") from error
    return films, left_out, cases


def _require_enough_films(data: Path | str, films: Sequence[Any],
                          measured: Sequence[MeasuredFilm], readable: Sequence[MeasuredFilm],
                          look: Sequence[Any]) -> None:
    """Raise CalibrationError unless enough films are frontal chest films the model measured."""
    if len(look) < MIN_SITE_FILMS and len(look) == len(films):
        raise CalibrationError(
            f"only {len(films)} films in {str(data)!r}; a calibration needs at least "
            f"{MIN_SITE_FILMS} of the site's frontal chest films")
    if len(look) < MIN_SITE_FILMS:
        raise CalibrationError(
            f"only {len(look)} of the {len(films)} films in {str(data)!r} are frontal chest "
            f"films the model could measure (unreadable: {len(measured) - len(readable)}; "
            f"refused by the image or view checks: {len(readable) - len(look)}); a "
            f"calibration needs at least {MIN_SITE_FILMS}: give more of the site's frontal "
            "chest films")


def _flags_after(gates: _GateChooser, readable: Sequence[MeasuredFilm], fold: np.ndarray,
                 gate: Mapping[str, Any], cancelled: CancelCallback | None
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """Each film refused / cautioned after calibration (``None`` when cancelled).

    Cross-validation by patient: each fold judged by the limits the other folds chose. With
    one patient group only, the films are judged by the limits they chose themselves.
    """
    if len(set(fold.tolist())) < 2:
        return gates.flags(readable, gate["limits"])
    refused = np.zeros(len(readable), dtype=bool)
    cautioned = np.zeros(len(readable), dtype=bool)
    for index in sorted(set(fold.tolist())):
        if cancelled is not None and cancelled():
            return None
        train = [m for m, f in zip(readable, fold, strict=True) if f != index]
        test_rows = np.flatnonzero(fold == index)
        refused[test_rows], cautioned[test_rows] = gates.flags(
            [readable[i] for i in test_rows], gates.choose(train)["limits"])
    return refused, cautioned


def _section(settings: CalibrationSettings, today: dt.date, evidence: SiteEvidence,
             decision: Mapping[str, Any], how: Mapping[str, Any] | None, *,
             films: dict[str, Any], figures: tuple[Any, Any]) -> dict[str, Any]:
    """The card's site-calibration section (without its curves and warnings)."""
    model, gate = evidence.model, evidence.gate
    folds = len(set(evidence.fold.tolist()))
    before_limits = GateLimits.from_spec(model["ood"])
    return {
        "site": settings.site.strip(),
        "date": today.isoformat(),
        "by": f"LungLens {__version__} (python -m desktop_app calibrate)",
        "model_id": model["model_id"],
        "data": str(Path(evidence.data).resolve()),
        "films": films,
        "settings": {"max_false_covid": settings.thresholds.max_false_covid,
                     "target_sensitivity": settings.thresholds.target_sensitivity,
                     "max_false_pneumonia": settings.thresholds.max_false_pneumonia,
                     "thresholds_set_by_hand": dict(settings.thresholds.fixed),
                     "folds": settings.folds},
        "thresholds": thresholds_record(model, decision, how),
        "gate": gate_record(before_limits, gate),
        "gate_note": "limits as the card states them (orientation: a minimum score, which "
                     "widening lowers; aspect and flat area: one limit, no caution tier); "
                     "'moved' is the fraction of the way to where the site's films asked",
        "non_chest_check_set": gate["non_chest"],
        "figures": {"before": figures[0], "after": figures[1],
                    "after_is": (f"cross-validated by patient ({folds} folds)" if folds >= 2
                                 else "measured on the calibration films themselves")},
        "model_limits": {"usual": before_limits.usual, "refusal": before_limits.refusal},
        "model_decision": model["decision"],
    }
