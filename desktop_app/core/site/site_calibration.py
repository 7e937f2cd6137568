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
from collections import Counter
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
from desktop_app.core.site.site_figures import (
    FilmOutcome,
    class_counts,
    few_films_warnings,
    site_figures,
)
from desktop_app.core.site.site_films import (
    MeasuredFilm,
    SiteFilmsError,
    measure_films,
    read_site_films,
)
from desktop_app.core.site.site_gate import (
    GateLimits,
    ViewLimits,
    card_value,
    refused_and_cautioned,
    site_limits,
    site_look,
)
from desktop_app.core.site.site_thresholds import ThresholdSettings, site_decision

__all__ = [
    "MIN_SITE_FILMS",
    "SECTION",
    "CalibrationError",
    "CalibrationSettings",
    "SiteCalibration",
    "calibrate_site",
    "calibration_line",
    "require_new_folder",
]

#: The card section a calibrated bundle carries.
SECTION = SITE_CALIBRATION
#: Fewest frontal films (the site's look) a calibration is made from.
MIN_SITE_FILMS = 30
#: A source named by at least this share of the films counts as a separate site.
_SEVERAL_SITES_SHARE = 0.1

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
    """

    source: Path
    card: dict[str, Any]

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


class _Calibrator:
    """Chooses limits and thresholds on some films; applies them to others."""

    def __init__(self, card: Mapping[str, Any], model: Mapping[str, Any],
                 view: ViewLimits, checks: Sequence[MeasuredFilm],
                 check_cases: Sequence[CheckCase], settings: CalibrationSettings) -> None:
        self.card = card
        self.model = model  # the model's own decision and ood section
        self.classes = list(card["classes"])
        self.view = view
        self.settings = settings
        self.check_values = [m.values for m in checks]
        self.check_fixed = [m.refused or not m.ok for m in checks]
        self.check_development = [not case.held_out for case in check_cases]

    def choose(self, films: Sequence[MeasuredFilm]) -> tuple[dict[str, Any], dict[str, Any],
                                                             dict[str, Any] | None]:
        gate = site_limits(self.model["ood"], [m.values for m in films], self.view,
                           self.check_values, self.check_fixed, self.check_development)
        labelled = [m for m in films if m.film.truth is not None]
        decision, how = dict(self.model["decision"]), None
        if labelled:
            decision, how = site_decision(
                self.model["decision"], np.stack([m.probabilities for m in labelled]),
                [m.film.truth for m in labelled], [m.age_group for m in labelled],
                self.classes, self.settings.thresholds)
        return gate, decision, how

    def apply(self, films: Sequence[MeasuredFilm], limits: GateLimits,
              decision: Mapping[str, Any]) -> list[FilmOutcome]:
        refused, cautioned = refused_and_cautioned(
            [m.values for m in films], limits, self.view, [m.refused for m in films])
        out = []
        for index, m in enumerate(films):
            label = None
            if not refused[index]:
                label = decide(m.probabilities, self.classes, decision,
                               age_group=m.age_group).label
            out.append(FilmOutcome(m.film.truth, m.age_group, label, bool(refused[index]),
                                   bool(cautioned[index])))
        return out


def _model_sections(card: Mapping[str, Any]) -> dict[str, Any]:
    """The model's own decision and ood section (a calibrated card keeps them)."""
    previous = card.get(SECTION)
    if previous:
        ood = GateLimits(previous["model_limits"]["usual"],
                         previous["model_limits"]["refusal"]).to_spec(card["ood"])
        return {"decision": previous["model_decision"], "ood": ood,
                "model_id": previous["model_id"]}
    return {"decision": card["decision"], "ood": card["ood"], "model_id": card["model_id"]}


def _expected_sensitivity(card: Mapping[str, Any], finding: str, threshold: float
                          ) -> dict[str, Any] | None:
    """The model's own TEST sensitivity at ``threshold`` (its card's curve), if recorded."""
    curve = (((card.get("metrics") or {}).get("test") or {}).get("sensitivity_curves")
             or {}).get(finding)
    if not curve:
        return None
    thresholds = np.asarray(curve["thresholds"], dtype=np.float64)
    sensitivity = np.asarray(curve["sensitivity"], dtype=np.float64)
    value = float(np.interp(threshold, thresholds, sensitivity))
    return {"value": value, "n": int(curve["n"]), "population": curve.get("population", "")}


def _shared_by_many(values: Counter[str], films: int) -> dict[str, int]:
    """The values held by at least :data:`_SEVERAL_SITES_SHARE` of the films."""
    return {k: v for k, v in sorted(values.items()) if v >= _SEVERAL_SITES_SHARE * films}


def _warnings(films: Sequence[MeasuredFilm], counts: Mapping[str, int],
              after: Mapping[str, Any], gate: Mapping[str, Any],
              how: Mapping[str, Any] | None, card: Mapping[str, Any],
              classes: Sequence[str], decision: Mapping[str, Any],
              cross_validated: bool) -> list[str]:
    """Everything a reader of the figures should be told, in plain words."""
    warnings: list[str] = []
    labelled = sum(v for k, v in counts.items() if k != "unlabelled")
    if not labelled:
        warnings.append("no labelled films: the gate learned the site's look, the thresholds "
                        "are the model's; give labelled films (a folder per class) to set "
                        "thresholds for this site")
    else:
        warnings += _threshold_warnings(counts, how, card, classes, decision)
    if cross_validated:
        warnings += few_films_warnings(after)
    else:
        warnings.append("every film comes from one patient group too small to split: the "
                        "figures after calibration are not cross-validated")
    warnings += _mixed_films_warnings(films)
    for check, moved in gate["moved"].items():
        if moved < 1.0 - 1e-9:
            warnings.append(
                f"the {check} limit moved {moved:.0%} of the way the site's films asked: "
                "further would let images of the shipped non-chest check set through; "
                "films past it are still refused")
    return warnings


def _threshold_warnings(counts: Mapping[str, int], how: Mapping[str, Any] | None,
                        card: Mapping[str, Any], classes: Sequence[str],
                        decision: Mapping[str, Any]) -> list[str]:
    """What the labelled films could not measure, and the notes of how thresholds were set."""
    warnings: list[str] = []
    for name in classes:
        if not counts.get(name):
            warnings.append(f"no {name} films: this site's {name} sensitivity is not "
                            "measured here")
    covid = how.get("all", {}).get("COVID-19") if how else None
    if covid and not covid.get("positives") and "COVID-19" in classes:
        expected = _expected_sensitivity(card, "COVID-19",
                                         float(decision["thresholds"]["COVID-19"]))
        if expected is not None:
            warnings.append(
                f"the COVID-19 threshold ({decision['thresholds']['COVID-19']:.3f}) comes "
                f"from the site's {covid['negatives']} films without COVID-19 alone; at it "
                f"the model found {expected['value']:.0%} of the COVID-19 films of its own "
                f"test split (n={expected['n']}) — an expectation from elsewhere, not "
                "measured at this site")
        else:
            warnings.append("the COVID-19 threshold comes from the site's films without "
                            "COVID-19 alone; how many COVID-19 films it finds here is "
                            "not known (the model's card has no test curve to say)")
    for scope, record in (how or {}).items():
        for finding, entry in record.items() if isinstance(record, Mapping) else ():
            note = entry.get("note") if isinstance(entry, Mapping) else None
            if note:
                where = "" if scope == "all" else f" ({scope} films)"
                warnings.append(f"{finding}{where}: {note}")
    return warnings


def _mixed_films_warnings(films: Sequence[MeasuredFilm]) -> list[str]:
    """Films that name several sources or come from several machines."""
    warnings: list[str] = []
    named = _shared_by_many(Counter(m.film.source for m in films if m.film.source),
                            len(films))
    if len(named) > 1:
        listed = ", ".join(f"{k} ({v})" for k, v in named.items())
        warnings.append(f"the films name several sources ({listed}): a calibration fits one "
                        "site's films; if these are different hospitals or machines, "
                        "calibrate for each separately")
    several = _shared_by_many(Counter(m.equipment for m in films if m.equipment), len(films))
    if len(several) > 1:
        listed = ", ".join(f"{k} ({v})" for k, v in several.items())
        warnings.append(f"the films come from several machines ({listed}): if their films "
                        "look different, one calibration fits neither well; check each "
                        "machine's figures with validate, or calibrate for each")
    return warnings


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
        settings: Site name and operating-point rule.
        progress: Called with (films measured, films to measure), the check set included.
        cancelled: Polled between films; when it returns True, returns ``None``.
        analyzer: An analyzer for ``bundle`` to reuse.
        check_set: The non-chest check set (default: the one shipped with LungLens).

    Returns:
        The calibration, or ``None`` when cancelled.

    Raises:
        CalibrationError: If the films cannot be read or too few are frontal chest films.
    """
    classes = list(bundle.card.classes)
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
    calibrator = _Calibrator(card, model, view, checks, cases, settings)
    gate, decision, how = calibrator.choose(readable)
    fold = _folds(readable, settings.folds)
    after = _outcomes_after(calibrator, readable, fold, gate, decision, cancelled)
    if after is None:
        return None
    outcomes_before = _outcomes_before(readable)
    counts = class_counts(outcomes_before)
    after_figures = site_figures([o for o in after if o is not None])

    today = dt.datetime.now(dt.UTC).date()
    section = _section(settings, today, model, data, gate, decision, how, fold,
                       films=_films_record(films, measured, readable, look, left_out, counts),
                       figures=(site_figures(outcomes_before), after_figures))
    section["warnings"] = _warnings(readable, counts, after_figures, gate, how, card,
                                    classes, decision, len(set(fold.tolist())) >= 2)
    return SiteCalibration(bundle.path, _site_card(card, model, settings, today, decision,
                                                   gate, section))


def _films_record(films: Sequence[Any], measured: Sequence[MeasuredFilm],
                  readable: Sequence[MeasuredFilm], look: Sequence[Any], left_out: Any,
                  counts: Mapping[str, int]) -> dict[str, Any]:
    """How many films were given, used, unreadable, of the site's look; by class."""
    return {"given": len(films), "used": len(readable),
            "unreadable": len(measured) - len(readable),
            "site_look": len(look), "other_classes_left_out": left_out,
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


def _outcomes_after(calibrator: _Calibrator, readable: Sequence[MeasuredFilm],
                    fold: np.ndarray, gate: Mapping[str, Any], decision: Mapping[str, Any],
                    cancelled: CancelCallback | None) -> list[FilmOutcome | None] | None:
    """Each film's outcome after calibration (``None`` when cancelled).

    Cross-validation by patient: each fold measured with what the other folds chose. With
    one patient group only, the films are measured with what they chose themselves.
    """
    if len(set(fold.tolist())) < 2:
        return calibrator.apply(readable, gate["limits"], decision)
    after: list[FilmOutcome | None] = [None] * len(readable)
    for index in sorted(set(fold.tolist())):
        if cancelled is not None and cancelled():
            return None
        train = [m for m, f in zip(readable, fold, strict=True) if f != index]
        test_rows = np.flatnonzero(fold == index)
        fold_gate, fold_decision, _ = calibrator.choose(train)
        outcomes = calibrator.apply([readable[i] for i in test_rows],
                                    fold_gate["limits"], fold_decision)
        for row, outcome in zip(test_rows, outcomes, strict=True):
            after[row] = outcome
    return after


def _section(settings: CalibrationSettings, today: dt.date, model: Mapping[str, Any],
             data: Path | str, gate: Mapping[str, Any], decision: Mapping[str, Any],
             how: Mapping[str, Any] | None, fold: np.ndarray, *, films: dict[str, Any],
             figures: tuple[Any, Any]) -> dict[str, Any]:
    """The card's site-calibration section (without its warnings)."""
    folds = len(set(fold.tolist()))
    before_limits = GateLimits.from_spec(model["ood"])
    return {
        "site": settings.site.strip(),
        "date": today.isoformat(),
        "by": f"LungLens {__version__} (python -m desktop_app calibrate)",
        "model_id": model["model_id"],
        "data": str(Path(data).resolve()),
        "films": films,
        "settings": {"max_false_covid": settings.thresholds.max_false_covid,
                     "target_sensitivity": settings.thresholds.target_sensitivity,
                     "max_false_pneumonia": settings.thresholds.max_false_pneumonia,
                     "folds": settings.folds},
        "thresholds": _thresholds_record(model, decision, how),
        "gate": _gate_record(before_limits, gate),
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


def _thresholds_record(model: Mapping[str, Any], decision: Mapping[str, Any],
                       how: Mapping[str, Any] | None) -> dict[str, Any]:
    """The model's and the site's thresholds (overall and by age group), and how chosen."""
    return {"model": model["decision"]["thresholds"],
            "site": decision["thresholds"],
            "model_by_age_group": {k: v["thresholds"] for k, v in
                                   (model["decision"].get("by_age_group") or {}).items()},
            "site_by_age_group": {k: v["thresholds"] for k, v in
                                  (decision.get("by_age_group") or {}).items()},
            "how": how or {}}


def _gate_record(before_limits: GateLimits, gate: Mapping[str, Any]) -> dict[str, Any]:
    """Per check: the usual and refusal limits before and after, how far they moved."""
    limits: GateLimits = gate["limits"]
    return {check: {"usual": [card_value(check, before_limits.usual[check]),
                              card_value(check, limits.usual[check])],
                    "refusal": [card_value(check, before_limits.refusal[check]),
                                card_value(check, limits.refusal[check])],
                    "moved": gate["moved"][check],
                    "site_wanted_refusal": card_value(check, gate["wanted"].refusal[check])}
            for check in limits.usual}
