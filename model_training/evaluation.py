"""``evaluate()``: the same metrics for a Keras model (during training) or an exported bundle.

Besides the overall figures it reports what this data needs reported (see the dataset
README's shortcut caveat):

* **per source** (kermany, ieee8023, actualmed, figure1): COVID-19 images are all adult and
  from other hospitals than the pediatric Kermany images, so an overall score mixes
  "found the disease" with "recognised the hospital";
* **pediatric Normal vs Pneumonia** (Kermany rows only), the one comparison inside a source;
* a **shortcut audit**: the same metrics with the lung fields masked out (two fixed ellipses
  on the preprocessed image replaced by the image mean). A model that still scores high
  without seeing the lungs is using something else - age, scanner, labels, borders.

The figures are over every image given; where the caller knows which of them the app's
out-of-distribution gate refuses (and which it labels with a caution), ``metrics["gate"]``
adds each class's sensitivity over the labelled images and counting a refused image as not
found (:mod:`desktop_app.core.metrics.refusals`), with the refused and cautioned counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.metrics.classification import (
    auroc,
    confusion_matrix,
    sensitivity_specificity,
    softmax,
    summary,
)
from desktop_app.core.metrics.decisions import decision_predictions
from desktop_app.core.metrics.populations import population_metrics
from desktop_app.core.metrics.refusals import refusal_figures
from desktop_app.core.metrics.thresholds import sensitivity_curves

__all__ = [
    "LUNG_MASK_DESCRIPTION",
    "EvaluationResult",
    "ModelOutputs",
    "evaluate",
    "lung_mask",
    "mask_lungs",
    "population_columns",
    "predict",
]

LUNG_MASK_DESCRIPTION = (
    "two fixed ellipses over the lung fields of the preprocessed image (centres at "
    "x=0.31/0.69, y=0.47 of the side; semi-axes 0.17 x 0.30 of the side), replaced by the "
    "image mean"
)


@dataclass(frozen=True)
class ModelOutputs:
    """Raw model outputs for a set of images.

    Attributes:
        logits: ``(n, classes)`` before temperature scaling.
        features: ``(n, dim)`` pooled penultimate features.
    """

    logits: np.ndarray
    features: np.ndarray


@dataclass
class EvaluationResult:
    """Metrics plus the arrays the report's figures are drawn from.

    Attributes:
        metrics: JSON-ready metrics (see :func:`evaluate`).
        logits: Test logits.
        labels: True class indices.
        masked_logits: Logits of the lung-masked images (shortcut audit), or None.
    """

    metrics: dict[str, Any]
    logits: np.ndarray
    labels: np.ndarray
    masked_logits: np.ndarray | None = None


def predict(model: Any, images: np.ndarray, *, batch_size: int = 64) -> ModelOutputs:
    """Run a Keras model, LiteRT bytes, a ``TfliteModel``, a ``ModelBundle`` or a bundle folder.

    Args:
        model: ``keras.Model`` (with a ``pooled`` layer), a ``.tflite`` flatbuffer
            (``bytes``, see :func:`model_training.export.run_tflite`),
            ``desktop_app.core.classify.inference.TfliteModel``,
            ``desktop_app.core.model.model_bundle.ModelBundle`` or a path.
        images: ``(n, s, s)`` or ``(n, s, s, 1)`` float32 preprocessed images.
        batch_size: Images per call.

    Returns:
        Logits and pooled features.
    """
    from desktop_app.core.classify.inference import TfliteModel
    from desktop_app.core.model.model_bundle import ModelBundle, load_bundle

    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if isinstance(model, bytes):
        from model_training.export import run_tflite

        out = run_tflite(model, images, batch_size=batch_size)
        return ModelOutputs(out["logits"], out["features"])
    if isinstance(model, str | Path):
        model = load_bundle(model)
    if isinstance(model, ModelBundle):
        model = TfliteModel(model)
    if isinstance(model, TfliteModel):
        logits, features = [], []
        for start in range(0, len(images), batch_size):
            out = model.run(images[start:start + batch_size])
            logits.append(out.logits)
            features.append(out.features)
        return ModelOutputs(np.concatenate(logits), np.concatenate(features))
    import keras

    both = keras.Model(model.inputs, [model.outputs[0], model.get_layer("pooled").output])
    logits, features = both.predict(images, batch_size=batch_size, verbose=0)
    return ModelOutputs(np.asarray(logits), np.asarray(features))


def population_columns(rows: Any) -> dict[str, list[str]]:
    """``sources``, ``age_groups`` and ``patients`` of dataset-table rows, for :func:`evaluate`.

    Tables without an ``age_group`` column (older run folders) leave it out: every image then
    counts as of unknown age.
    """
    columns = {"sources": rows["source"].astype(str).tolist(),
               "patients": rows["patient_id"].astype(str).tolist()}
    if "age_group" in rows.columns:
        columns["age_groups"] = rows["age_group"].astype(str).tolist()
    return columns


def lung_mask(size: int) -> np.ndarray:
    """Boolean ``(size, size)`` mask of two ellipses over the lung fields (see module docs)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / max(1, size - 1)
    mask = np.zeros((size, size), dtype=bool)
    for cx in (0.31, 0.69):
        mask |= ((xx - cx) / 0.17) ** 2 + ((yy - 0.47) / 0.30) ** 2 <= 1.0
    return mask


def mask_lungs(images: np.ndarray) -> np.ndarray:
    """Copy of ``images`` with the lung ellipses replaced by each image's mean."""
    images = np.array(images, dtype=np.float32, copy=True)
    squeeze = images.ndim == 4
    view = images[..., 0] if squeeze else images
    mask = lung_mask(view.shape[1])
    means = view.reshape(len(view), -1).mean(axis=1)
    view[:, mask] = means[:, None]
    return images


def _group_metrics(
    logits: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    temperature: float,
    decision: dict[str, Any] | None,
    age_groups: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Compact metrics for a subgroup (per source, masked)."""
    probabilities = softmax(logits, temperature)
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted, len(classes))
    result: dict[str, Any] = {
        "n": len(labels),
        "accuracy": float((predicted == labels).mean()) if len(labels) else None,
        "per_class": {},
        "confusion_matrix": matrix.tolist(),
    }
    aurocs = []
    for index, name in enumerate(classes):
        count = int((labels == index).sum())
        sens, _ = sensitivity_specificity(matrix, index)
        value = auroc(labels == index, probabilities[:, index])
        if np.isfinite(value):
            aurocs.append(value)
        result["per_class"][name] = {
            "n": count,
            "sensitivity": float(sens) if count else None,
            "auroc": float(value) if np.isfinite(value) else None,
        }
    result["macro_auroc"] = float(np.mean(aurocs)) if aurocs else None
    if decision is not None:
        chosen, _ = decision_predictions(probabilities, classes, decision, age_groups)
        result["operating_point_accuracy"] = float((chosen == labels).mean()) if len(labels) \
            else None
    return result


def evaluate(
    model: Any, images: np.ndarray, labels: np.ndarray, classes: Sequence[str], *,
    sources: Sequence[str] | None = None, age_groups: Sequence[str] | None = None,
    patients: Sequence[str] | None = None, temperature: float = 1.0,
    decision: dict[str, Any] | None = None, shortcut_audit: bool = True,
    bootstrap_rounds: int = 1000, seed: int = 0, outputs: ModelOutputs | None = None,
    refused: Sequence[bool] | None = None, cautioned: Sequence[bool] | None = None,
) -> EvaluationResult:
    """Score a model on preprocessed images.

    Args:
        model: Anything :func:`predict` accepts (ignored when ``outputs`` is given).
        images: ``(n, s, s)`` preprocessed images.
        labels: ``(n,)`` class indices.
        classes: Class names.
        sources: Source name per image (``kermany``...), for per-source and pediatric rows.
        age_groups: ``child``/``adult``/``unknown`` per image, for the per-population figures
            and the decision (a card's thresholds per age group apply to each image's own
            group, as in the app; unknown: the top-level thresholds).
        patients: Patient id per image (bootstrap intervals resample patients).
        temperature: Calibration temperature; metrics are reported both uncalibrated (T=1)
            and at this temperature.
        decision: The card's decision section; adds operating-point metrics.
        shortcut_audit: Also score the lung-masked images.
        bootstrap_rounds: Bootstrap resamples for the AUROC confidence intervals.
        seed: Bootstrap seed.
        outputs: Precomputed outputs for ``images`` (skips one prediction pass).
        refused: Per image, the app's gate refuses it (with ``decision``: adds ``gate``).
        cautioned: Per image, the gate labels it with a caution.

    Returns:
        Metrics (``overall``, ``uncalibrated``, ``operating_point``, ``per_source``,
        ``pediatric``, ``populations`` (with ``decision`` and ``sources``: see
        :mod:`desktop_app.core.metrics.populations`), ``shortcut_audit``, ``gate`` when
        ``refused`` is given: :func:`~desktop_app.core.metrics.refusals.refusal_figures`) and
        the arrays behind them.
    """
    labels = np.asarray(labels, dtype=np.int64)
    outputs = outputs or predict(model, images)
    logits = outputs.logits
    metrics = _overall_metrics(logits, labels, classes, temperature, bootstrap_rounds, seed)
    _add_decision_figures(metrics, softmax(logits, temperature), labels, classes, decision,
                          age_groups=age_groups, sources=sources, patients=patients,
                          refused=refused, cautioned=cautioned,
                          bootstrap_rounds=bootstrap_rounds, seed=seed)
    masked_logits = None
    if shortcut_audit:
        masked_logits = predict(model, mask_lungs(images)).logits
        metrics["shortcut_audit"] = {
            "mask": LUNG_MASK_DESCRIPTION,
            "overall": _group_metrics(masked_logits, labels, classes, temperature, decision,
                                      age_groups),
        }
    if sources is not None:
        _add_per_source(metrics, logits, masked_logits, labels, classes, sources, age_groups,
                        temperature, decision)
    return EvaluationResult(metrics=metrics, logits=logits, labels=labels,
                            masked_logits=masked_logits)


def _overall_metrics(logits: np.ndarray, labels: np.ndarray, classes: Sequence[str],
                     temperature: float, bootstrap_rounds: int, seed: int) -> dict[str, Any]:
    """Count, classes, the calibrated summary and the uncalibrated ECE and NLL."""
    overall = summary(logits, labels, classes, temperature=temperature,
                      bootstrap_rounds=bootstrap_rounds, seed=seed)
    raw = summary(logits, labels, classes, temperature=1.0, bootstrap_rounds=0)
    return {
        "n": len(labels),
        "classes": list(classes),
        "overall": overall,
        "uncalibrated": {"ece": raw["ece"], "nll": raw["nll"]},
    }


def _add_decision_figures(
    metrics: dict[str, Any], probabilities: np.ndarray, labels: np.ndarray,
    classes: Sequence[str], decision: dict[str, Any] | None, *,
    age_groups: Sequence[str] | None, sources: Sequence[str] | None,
    patients: Sequence[str] | None, refused: Sequence[bool] | None,
    cautioned: Sequence[bool] | None, bootstrap_rounds: int, seed: int,
) -> None:
    """Add the operating point, sensitivity curves, gate and population figures."""
    if decision is not None:
        # At each image's own age group's thresholds when the card has them: the app's answer.
        chosen, uncertain = decision_predictions(probabilities, classes, decision, age_groups)
        matrix = confusion_matrix(labels, chosen, len(classes))
        metrics["operating_point"] = {
            "accuracy": float((chosen == labels).mean()),
            "uncertain_fraction": float(uncertain.mean()),
            "confusion_matrix": matrix.tolist(),
            "per_class": {
                name: dict(zip(("sensitivity", "specificity"),
                               sensitivity_specificity(matrix, i), strict=True))
                for i, name in enumerate(classes)
            },
        }
    metrics["sensitivity_curves"] = sensitivity_curves(probabilities, labels, classes,
                                                       age_groups)
    if decision is not None and refused is not None:
        if len(refused) != len(labels):
            raise ValueError(f"refused must have one flag per image ({len(labels)}). "
                             f"Received: {len(refused)}")
        metrics["gate"] = refusal_figures(
            labels, chosen, refused, classes, cautioned=cautioned, patients=patients,
            bootstrap_rounds=bootstrap_rounds, seed=seed)
    if decision is not None and sources is not None:
        metrics["populations"] = population_metrics(
            probabilities, labels, classes, decision, sources=sources, age_groups=age_groups,
            patients=patients, bootstrap_rounds=bootstrap_rounds, seed=seed)


def _add_per_source(metrics: dict[str, Any], logits: np.ndarray,
                    masked_logits: np.ndarray | None, labels: np.ndarray,
                    classes: Sequence[str], sources: Sequence[str],
                    age_groups: Sequence[str] | None, temperature: float,
                    decision: dict[str, Any] | None) -> None:
    """Add the per-source figures and the pediatric row (and their shortcut-audit twins)."""
    sources_arr = np.asarray([str(s) for s in sources])
    metrics["per_source"] = {}
    if masked_logits is not None:
        metrics["shortcut_audit"]["per_source"] = {}
    groups_arr = (np.asarray([str(g) for g in age_groups]) if age_groups is not None
                  else None)
    for source in sorted(set(sources_arr.tolist())):
        rows = sources_arr == source
        groups = groups_arr[rows].tolist() if groups_arr is not None else None
        metrics["per_source"][source] = _group_metrics(
            logits[rows], labels[rows], classes, temperature, decision, groups)
        if masked_logits is not None:
            metrics["shortcut_audit"]["per_source"][source] = _group_metrics(
                masked_logits[rows], labels[rows], classes, temperature, decision, groups)
    if "Normal" in classes and "Pneumonia" in classes:
        metrics["pediatric"] = _pediatric(logits, labels, classes, sources_arr, temperature)
        if masked_logits is not None:
            metrics["shortcut_audit"]["pediatric"] = _pediatric(
                masked_logits, labels, classes, sources_arr, temperature)


def _pediatric(
    logits: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    sources: np.ndarray,
    temperature: float,
) -> dict[str, Any]:
    """Normal vs Pneumonia on Kermany (pediatric) rows.

    ``accuracy`` counts a COVID-19 prediction as an error (the app's 3-class answer);
    ``accuracy_two_class`` compares only the Normal and Pneumonia outputs (the Kermany
    benchmark's binary question).
    """
    normal, pneumonia = list(classes).index("Normal"), list(classes).index("Pneumonia")
    rows = (sources == "kermany") & np.isin(labels, [normal, pneumonia])
    if not rows.any():
        return {"n": 0, "accuracy": None, "accuracy_two_class": None}
    probabilities = softmax(logits[rows], temperature)
    truth = labels[rows]
    three = probabilities.argmax(axis=1)
    two = np.where(probabilities[:, pneumonia] > probabilities[:, normal], pneumonia, normal)
    return {
        "n": int(rows.sum()),
        "accuracy": float((three == truth).mean()),
        "accuracy_two_class": float((two == truth).mean()),
        "pneumonia_auroc_two_class": auroc(truth == pneumonia,
                                           probabilities[:, pneumonia]
                                           / (probabilities[:, pneumonia]
                                              + probabilities[:, normal])),
    }
