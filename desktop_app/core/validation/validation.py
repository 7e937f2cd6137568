"""Local validation: how well the installed model does on a clinic's own labelled films.

Radiology societies' guidance on adopting AI asks a site to check a model on its own patients
before relying on it. :func:`validate` reads labelled films in any layout the training wizard
reads (:mod:`desktop_app.core.validation.labelled_data`), classifies them with the app's own
classify path (:class:`~desktop_app.core.classify.analysis.Analyzer`: the same loader,
preprocessing, out-of-distribution gate and decision as the main window), and reports the
figures of the wizard's Results page: per class, per source and per age group (when the data
says), the confusion matrix at the app's decision, ROC curves and calibration, each figure with
a patient-level bootstrap 95 % interval (:mod:`desktop_app.core.metrics.populations`).

Films the gate refuses (not a frontal chest X-ray, as far as the model can tell) get no label
in the app, so they are counted and listed but **excluded from the figures**; so are files
that cannot be read. Because a clinic still sees a refused film as a film without an answer,
each class's sensitivity is also given counting its refused films as not found
(:mod:`desktop_app.core.metrics.refusals`), and films labelled with a caution (unusual but
accepted) are counted. Labels the model does not have (Pneumonia for a COVID-vs-Normal model)
are left out and counted.

Every validation is kept in the user data folder (``validations/``: one JSON record with the
model id, date, dataset fingerprint and figures, and a per-image CSV) so the model card can
list them. Numpy and the standard library only: it runs in the classify-only build.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app import __version__
from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.errors import LungLensError
from desktop_app.core.metrics.classification import (
    confusion_matrix,
    reliability_bins,
    roc_curve,
)
from desktop_app.core.metrics.decisions import decision_predictions
from desktop_app.core.metrics.populations import (
    Resampler,
    estimate_weighted,
    population_metrics,
    weighted_auroc,
)
from desktop_app.core.metrics.refusals import refusal_figures
from desktop_app.core.metrics.threshold_curves import age_group_populations, curves_section
from desktop_app.core.model.calibration_line import calibration_line
from desktop_app.core.model.model_bundle import ModelBundle
from desktop_app.core.validation.data_fingerprint import file_sha1, images_fingerprint
from desktop_app.core.validation.labelled_data import LabelledImage, read_labelled
from desktop_app.core.validation.validation_records import (
    RECORD_FORMAT,
    StoredValidation,
    stored_validations,
    validations_dir,
)

__all__ = [
    "EXCLUSION_NOTE",
    "RECORD_FORMAT",
    "StoredValidation",
    "ValidatedImage",
    "ValidationError",
    "ValidationResult",
    "image_rows",
    "stored_validations",
    "validate",
    "validation_metrics",
    "validations_dir",
    "write_images_csv",
]

EXCLUSION_NOTE = ("Films the out-of-distribution check refused (no label in the app) and "
                  "files that could not be read are listed but excluded from every figure.")
_ROC_POINTS = 101
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

ProgressCallback = Callable[[int, int], None]
CancelCallback = Callable[[], bool]


class ValidationError(LungLensError):
    """The labelled data cannot be validated (the message names the file and the problem)."""


@dataclass(frozen=True)
class ValidatedImage:
    """One labelled film and what the installed model said about it.

    Attributes:
        path: The image file.
        truth: The label from the data.
        source: Source column (or a guess from the file name).
        age_group: ``child``, ``adult`` or ``unknown``: the film's own (DICOM) age group,
            else the data's; the app decided at that group's thresholds when the card has
            them.
        patient_id: Patient key for the bootstrap.
        predicted: The app's label (None when refused or unreadable).
        uncertain: The app flagged its label as uncertain.
        probabilities: Calibrated probabilities (None when unreadable).
        out_of_distribution: The gate refused to label the film.
        ood_reason: Why it refused.
        error: Why the file could not be read.
        caution: Why a labelled film is unusual (None when refused, unreadable or usual).
    """

    path: str
    truth: str
    source: str
    age_group: str
    patient_id: str
    predicted: str | None = None
    uncertain: bool = False
    probabilities: dict[str, float] | None = None
    out_of_distribution: bool = False
    ood_reason: str | None = None
    error: str | None = None
    caution: str | None = None

    @property
    def measured(self) -> bool:
        """True when the film counts in the figures (read and labelled by the app)."""
        return self.error is None and not self.out_of_distribution


@dataclass
class ValidationResult:
    """A finished validation.

    Attributes:
        model_id: The model validated.
        created: When (ISO 8601, UTC).
        data_path: The folder or CSV validated on.
        fingerprint: :func:`desktop_app.core.validation.data_fingerprint.images_fingerprint`
            of the labelled films of the model's classes.
        classes: The model's classes, in output order.
        images: One entry per labelled film of the model's classes.
        metrics: The figures (see :func:`validation_metrics`).
        record_path: Where the JSON record was stored (None when not stored).
        csv_path: Where the per-image CSV was stored.
        calibration: For a model calibrated to a site, which calibration was measured
            (site, date, films, the model it was made from); ``None`` for a model as trained.
    """

    model_id: str
    created: str
    data_path: str
    fingerprint: dict[str, Any]
    classes: list[str]
    images: list[ValidatedImage]
    metrics: dict[str, Any]
    record_path: Path | None = None
    csv_path: Path | None = None
    calibration: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The stored record (also what ``validate --json`` prints)."""
        return {
            "format": RECORD_FORMAT,
            "model_id": self.model_id,
            "created": self.created,
            "lunglens_version": __version__,
            "data_path": self.data_path,
            "data_fingerprint": self.fingerprint,
            "classes": list(self.classes),
            "metrics": self.metrics,
            "images_csv": self.csv_path.name if self.csv_path is not None else None,
            "calibration": self.calibration,
        }


def validate(
    data_path: Path | str,
    bundle: ModelBundle,
    *,
    progress: ProgressCallback | None = None,
    cancelled: CancelCallback | None = None,
    bootstrap_rounds: int = 1000,
    store: bool = True,
    analyzer: Analyzer | None = None,
) -> ValidationResult | None:
    """Classify labelled films with ``bundle`` and measure it (see module docs).

    Args:
        data_path: A labelled folder (folder per class, LungLens or Kaggle metadata) or a
            CSV in CoronaHack's columns; ``age``/``age_group`` columns are optional.
        bundle: The model to validate (normally the installed one).
        progress: Called with (films classified, films to classify).
        cancelled: Polled between films; when it returns True the run stops, nothing is
            stored and None is returned.
        bootstrap_rounds: Resamples (by patient) for the 95 % intervals.
        store: Keep the record and CSV in :func:`validations_dir`.
        analyzer: An analyzer for ``bundle`` to reuse (one is made otherwise).

    Returns:
        The result, or None when cancelled.

    Raises:
        ValidationError: If the data cannot be read or holds no film of the model's classes.
    """
    data_path = Path(data_path)
    classes = list(bundle.card.classes)
    rows, usable = _usable_rows(data_path, classes, bundle.model_id)
    analyzer = analyzer if analyzer is not None else Analyzer(bundle)
    images = _validated_images(analyzer, usable, progress, cancelled)
    if images is None:
        return None
    fingerprint = _fingerprint(usable, cancelled)
    if fingerprint is None:
        return None
    metrics = validation_metrics(images, classes, bundle.card.decision,
                                 bootstrap_rounds=bootstrap_rounds)
    if cancelled is not None and cancelled():  # cancelled while the figures were computed
        return None
    metrics["counts"]["labelled"] = len(rows)
    metrics["counts"]["other_classes"] = len(rows) - len(usable)
    result = ValidationResult(
        model_id=bundle.model_id,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        data_path=str(data_path.resolve()),
        fingerprint=fingerprint,
        classes=classes,
        images=images,
        metrics=metrics,
        calibration=_calibration_measured(bundle),
    )
    if store:
        _store(result)
    return result



def _usable_rows(data_path: Path, classes: list[str], model_id: str
                 ) -> tuple[list[LabelledImage], list[LabelledImage]]:
    """Every labelled row, and those of the model's classes (at least one, or raise)."""
    try:
        rows = read_labelled(data_path)
    except (OSError, ValueError) as error:
        raise ValidationError(f"cannot read labelled films from {str(data_path)!r}: "
                              f"{error}") from error
    usable = [row for row in rows if row.label in classes]
    if not usable:
        found = sorted({row.label for row in rows})
        raise ValidationError(
            f"{str(data_path)!r} holds no film of the classes of {model_id} "
            f"({', '.join(classes)}); labels found: {found or 'none'}")
    return rows, usable


def _validated_images(analyzer: Analyzer, usable: Sequence[LabelledImage],
                      progress: ProgressCallback | None,
                      cancelled: CancelCallback | None) -> list[ValidatedImage] | None:
    """Each film classified by the app's path (``None`` when cancelled)."""
    images: list[ValidatedImage] = []
    # The data's age fills in where the file carries none: the app decides with the
    # thresholds for that age group, as it would for the patient's own DICOM age.
    results = analyzer.analyse([Path(row.path) for row in usable], progress=progress,
                               cancelled=cancelled,
                               age_groups=[row.age_group for row in usable])
    # Results drive the loop (not the rows), so the generator runs to its end and reports
    # its last progress step.
    for position, result in enumerate(results):
        images.append(_validated(usable[position], result))
    if len(images) < len(usable) or (cancelled is not None and cancelled()):
        return None
    return images


def _fingerprint(usable: Sequence[LabelledImage], cancelled: CancelCallback | None
                 ) -> str | None:
    """The data's fingerprint: paths, labels and file hashes (``None`` when cancelled)."""
    hashes = []
    for row in usable:
        if cancelled is not None and cancelled():
            return None
        try:
            hashes.append(file_sha1(row.path))
        except OSError:
            hashes.append("unreadable")
    return images_fingerprint([row.path for row in usable],
                              [row.label for row in usable], hashes)


def _calibration_measured(bundle: ModelBundle) -> dict[str, Any] | None:
    """Which site calibration the figures belong to (kept in the record; see module docs)."""
    section = bundle.card.site_calibration
    if not section:
        return None
    return {"site": section["site"], "date": section["date"],
            "films": section["films"].get("used"), "calibrated_from": section.get("model_id"),
            "line": calibration_line(bundle.card)}


def _validated(row: LabelledImage, result: Any) -> ValidatedImage:
    # The age group the app decided for: the file's own DICOM age, else the data's.
    common = {"path": row.path, "truth": row.label, "source": row.source,
              "age_group": result.age_group, "patient_id": row.patient_id}
    if not result.ok:
        return ValidatedImage(**common, error=result.error)
    decision = result.decision
    return ValidatedImage(
        **common,
        predicted=result.label,
        uncertain=bool(decision is not None and decision.uncertain),
        probabilities=dict(result.probabilities or {}),
        out_of_distribution=result.out_of_distribution,
        ood_reason=result.ood.reason if result.out_of_distribution and result.ood else None,
        caution=result.caution,
    )


def validation_metrics(images: Sequence[ValidatedImage], classes: Sequence[str],
                       decision: dict[str, Any], *, bootstrap_rounds: int = 1000,
                       seed: int = 0) -> dict[str, Any]:
    """The figures of a validation, on the films the app labelled.

    Returns:
        JSON-ready ``{"counts", "excluded", "classes", "overall", "populations",
        "refusals", "confusion_matrix", "roc", "reliability", "threshold_curves"}``:
        ``refusals`` is :func:`~desktop_app.core.metrics.refusals.refusal_figures` over the
        films read (each class's sensitivity over the labelled films and counting its refused films
        as not found); ``populations`` is
        :func:`~desktop_app.core.metrics.populations.population_metrics` (per class, source,
        age group, key figures, each ``{"value", "ci95", "n"}``); ``overall`` adds the macro
        AUROC and the share of uncertain answers; ``roc`` per class ``{"fpr", "tpr"}``;
        ``reliability`` the calibration diagram's bins; ``threshold_curves`` each finding's
        trade-off per age group (:func:`~desktop_app.core.metrics.threshold_curves
        .curves_section`).
    """
    classes = list(classes)
    measured = [image for image in images if image.measured]
    refused = [image for image in images if image.error is None and image.out_of_distribution]
    failed = [image for image in images if image.error is not None]
    counts = _counts(images, measured, refused, failed)
    index = {name: i for i, name in enumerate(classes)}
    n = len(measured)
    probabilities = np.array([[image.probabilities[c] for c in classes] for image in measured],
                             dtype=np.float64).reshape(n, len(classes))
    labels = np.array([index[image.truth] for image in measured], dtype=np.int64)
    patients = [image.patient_id for image in measured]
    resampler = Resampler(n, rounds=bootstrap_rounds, seed=seed, patients=patients)
    populations = population_metrics(
        probabilities, labels, classes, decision,
        sources=[image.source for image in measured],
        age_groups=[image.age_group for image in measured],
        patients=patients, bootstrap_rounds=bootstrap_rounds, seed=seed, resampler=resampler)
    metrics: dict[str, Any] = {
        "counts": counts,
        "excluded": EXCLUSION_NOTE,
        "classes": classes,
        "populations": populations,
        "overall": {"n": n, "accuracy": populations["overall"]["accuracy"],
                    "ece": populations["overall"]["ece"], "macro_auroc": None,
                    "uncertain": None},
        "refusals": _refusals(measured, refused, classes, populations, bootstrap_rounds, seed),
        "confusion_matrix": [[0] * len(classes) for _ in classes],
        "roc": {},
        "reliability": None,
    }
    if n:
        _add_curves(metrics, probabilities, labels, classes, decision,
                    [image.age_group for image in measured], resampler)
    return metrics


def _add_curves(metrics: dict[str, Any], probabilities: np.ndarray, labels: np.ndarray,
                classes: list[str], decision: dict[str, Any], age_groups: list[str],
                resampler: Resampler) -> None:
    """The confusion matrix, ROC, calibration and threshold curves of the labelled films."""
    chosen, uncertain = decision_predictions(probabilities, classes, decision, age_groups)
    metrics["confusion_matrix"] = confusion_matrix(labels, chosen, len(classes)).tolist()
    metrics["overall"]["uncertain"] = float(uncertain.mean())
    metrics["overall"]["macro_auroc"] = _macro_auroc(probabilities, labels, resampler)
    metrics["roc"] = _roc_curves(probabilities, labels, classes)
    bins = reliability_bins(probabilities, labels, bins=10)
    metrics["reliability"] = {key: [None if not np.isfinite(v) else float(v) for v in values]
                              for key, values in bins.items()}
    # Each age group at its own thresholds, as the app decided its films.
    metrics["threshold_curves"] = curves_section(
        probabilities, labels, classes, decision, age_group_populations(age_groups),
        measured_on="the validated films the app labelled", resampler=resampler)


def _counts(images: Sequence[ValidatedImage], measured: Sequence[ValidatedImage],
            refused: Sequence[ValidatedImage], failed: Sequence[ValidatedImage]
            ) -> dict[str, Any]:
    """How many films were validated, measured, refused, failed and cautioned."""
    return {
        "validated": len(images),
        "measured": len(measured),
        "out_of_distribution": len(refused),
        "failed": len(failed),
        "out_of_distribution_by_class": dict(Counter(image.truth for image in refused)),
        "cautioned": sum(image.caution is not None for image in measured),
        "cautioned_by_class": dict(Counter(image.truth for image in measured
                                           if image.caution is not None)),
    }


def _macro_auroc(probabilities: np.ndarray, labels: np.ndarray,
                 resampler: Resampler) -> dict[str, Any]:
    """The mean of the one-vs-rest AUROCs, with its interval on the shared resamples."""
    per_class = [weighted_auroc(labels == i, probabilities[:, i])
                 for i in range(probabilities.shape[1])]

    def macro(rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.stack([statistic(rows, weights) for statistic in per_class])
        # A class absent from a resample has no AUROC; the macro mean needs every class.
        return values.mean(axis=0)

    return estimate_weighted(macro, np.ones(len(labels), dtype=bool), resampler)


def _roc_curves(probabilities: np.ndarray, labels: np.ndarray,
                classes: Sequence[str]) -> dict[str, dict[str, list[float]]]:
    """Per class with positives and negatives: its ROC curve, thinned for the record."""
    curves = {}
    for i, name in enumerate(classes):
        positive = labels == i
        if positive.all() or not positive.any():
            continue
        fpr, tpr = roc_curve(positive, probabilities[:, i])
        keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), _ROC_POINTS)).astype(int))
        curves[name] = {"fpr": [float(v) for v in fpr[keep]],
                        "tpr": [float(v) for v in tpr[keep]]}
    return curves


def _refusals(measured: Sequence[ValidatedImage], refused: Sequence[ValidatedImage],
              classes: Sequence[str], populations: dict[str, Any], bootstrap_rounds: int,
              seed: int) -> dict[str, Any]:
    """Sensitivity both ways over the films read; the labelled figure is the table's own."""
    index = {name: i for i, name in enumerate(classes)}
    read = [*measured, *refused]
    return refusal_figures(
        [index[image.truth] for image in read],
        [index.get(image.predicted or "", -1) for image in read],
        [image.out_of_distribution for image in read], classes,
        cautioned=[image.caution is not None for image in read],
        patients=[image.patient_id for image in read],
        labelled_sensitivity={name: populations["per_class"][name]["sensitivity"]
                              for name in classes},
        bootstrap_rounds=bootstrap_rounds, seed=seed)


def image_rows(result: ValidationResult) -> list[list[str]]:
    """Header plus one row per film: truth, the app's answer, probabilities, exclusion."""
    header = ["file", "path", "true_label", "predicted", "uncertain", "correct",
              *(f"p_{name}" for name in result.classes), "out_of_distribution", "ood_reason",
              "caution", "error", "source", "age_group", "patient_id", "model_id"]
    rows = [header]
    for image in result.images:
        probabilities = image.probabilities or {}
        measured = image.measured
        rows.append([
            _safe_cell(Path(image.path).name),
            _safe_cell(image.path),
            image.truth,
            image.predicted or "",
            ("yes" if image.uncertain else "no") if measured else "",
            ("yes" if image.predicted == image.truth else "no") if measured else "",
            *(f"{probabilities[name]:.4f}" if name in probabilities else ""
              for name in result.classes),
            "" if image.error is not None else ("yes" if image.out_of_distribution else "no"),
            _safe_cell(image.ood_reason or ""),
            _safe_cell(image.caution or ""),
            _safe_cell(image.error or ""),
            _safe_cell(image.source),
            image.age_group,
            _safe_cell(image.patient_id),
            result.model_id,
        ])
    return rows


def _safe_cell(value: str) -> str:
    # A file name like "=HYPERLINK(...)" must not become a formula in a spreadsheet.
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def write_images_csv(path: Path | str, result: ValidationResult) -> int:
    """Write the per-image CSV (UTF-8 with BOM so spreadsheets detect the encoding).

    Returns:
        Number of films written.
    """
    rows = image_rows(result)
    with open(path, "w", encoding="utf-8-sig", newline="") as stream:
        csv.writer(stream).writerows(rows)
    return len(rows) - 1


def _store(result: ValidationResult) -> None:
    """Write the record and its CSV (temporary names first: no half file is ever listed)."""
    folder = validations_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = result.created.replace("-", "").replace(":", "").replace("+0000", "Z")
    stamp = re.sub(r"[^0-9A-Za-z]", "", stamp)[:15]
    model = re.sub(r"[^0-9A-Za-z._-]", "_", result.model_id)
    stem = f"{stamp}-{model}-{result.fingerprint['sha256'][:8]}"
    record_path, csv_path = folder / f"{stem}.json", folder / f"{stem}.csv"
    repeat = 1
    while record_path.exists() or csv_path.exists():  # the same data twice in one second
        repeat += 1
        record_path, csv_path = (folder / f"{stem}-{repeat}.json",
                                 folder / f"{stem}-{repeat}.csv")
    temp_csv = csv_path.with_name(f".{csv_path.name}.part")
    write_images_csv(temp_csv, result)
    temp_csv.replace(csv_path)
    result.csv_path = csv_path
    temp = record_path.with_name(f".{record_path.name}.part")
    temp.write_text(json.dumps(result.to_json(), indent=1), encoding="utf-8")
    temp.replace(record_path)
    result.record_path = record_path
