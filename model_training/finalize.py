"""From a trained model to a verified bundle.

Calibrate, choose the operating point, fit the OOD gate, evaluate on test, write the card,
export and report.

Kept apart from :func:`model_training.training.train` so that a long training run is never
lost to a failure in a later step: the CLI saves the trained model first, and this step can
be re-run on it (``python -m model_training export``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from model_training.training import TrainingResult

__all__ = ["INTENDED_USE", "LIMITATIONS", "finalize"]

INTENDED_USE = (
    "Research and teaching aid: a second look at frontal (PA/AP) chest X-rays of the kinds in "
    "its training data, sorting them into Normal / Pneumonia / COVID-19 with a calibrated "
    "probability, a heat map and an out-of-distribution warning. Not a medical device and not "
    "for diagnosis: every result must be read by a qualified clinician together with the "
    "patient's history, examination and tests (COVID-19 is diagnosed by PCR, not by X-ray)."
)

LIMITATIONS = [
    "Shortcut risk: every COVID-19 training image comes from web, journal and hospital "
    "collections (ieee8023, COVID-CXNet, Actualmed, Figure 1) that hold almost no Normal or "
    "non-COVID Pneumonia images, while those come from two uniform sources: children aged 1-5 "
    "from one Guangzhou hospital (Kermany) and adults from one US hospital (NIH ChestX-ray14). "
    "The model can partly separate COVID-19 by source, age, scanner and post-processing "
    "rather than lung findings; the training recipe counters this (group-balanced weights, "
    "augmentation that erases file-format cues) but cannot remove it. Judge it by the "
    "per-source, per-age-group and leave-one-source-out figures, not the overall ones.",
    "Adult non-COVID films come almost only from NIH (726 of 822): on adult Normal or "
    "Pneumonia films from another hospital the model may call COVID-19 more often than the "
    "test figures show. NIH labels are text-mined from reports and noisy.",
    "COVID-19 training images come largely from publications and websites (cropped, annotated, "
    "re-compressed), not from clinical PACS exports.",
    "Frontal views only; lateral views, CT, other body parts and photographs are flagged as "
    "out of distribution only as well as the gate can tell.",
    "Trained on about 3,000 images from six public sources; performance on other "
    "populations, scanners, ages and disease prevalences is unknown.",
    "The test set shares sources (hospitals, scanners) with the training set; it measures "
    "in-distribution performance. The leave-one-source-out figures estimate performance on a "
    "COVID-19 source never seen in training.",
    "Operating point for unseen sites (docs/operating_point.md): the COVID-19 threshold is "
    "raised until at most 10 % of adult non-COVID validation films reach it, and for adults "
    "(age known) the Pneumonia threshold until at most 15 % of adult normals do. This keeps "
    "a new site's normal adults out of COVID-19 and Pneumonia far more often, and in exchange "
    "finds fewer adult COVID-19 films and clearly fewer adult pneumonias: read an adult "
    "'Normal' that is marked uncertain with care.",
]


def compact_floats(value: Any) -> Any:
    """Round floats to 7 significant digits (float32 precision) to keep the card small.

    The OOD section holds a D x D precision matrix; full float64 reprs double the card's size
    for digits the float32 features cannot use.
    """
    if isinstance(value, float):
        return float(f"{value:.7g}")
    if isinstance(value, list):
        return [compact_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: compact_floats(v) for k, v in value.items()}
    return value


def _export_agreement(
    model: Any, deployed_outputs: Any, images: np.ndarray, temperature: float,
    quantization: str,
) -> dict[str, Any]:
    """How far the LiteRT model the app runs is from the Keras model, on validation images.

    Recorded in the card so that a fine-tuning user (who starts from ``model.keras``) and a
    reviewer can see what quantization changed.
    """
    from model_training.evaluation import predict
    from model_training.metrics import softmax

    if quantization == "none":
        # The float32 flatbuffer is checked against Keras (to 1e-4) by export_bundle.
        return {"quantization": "none"}
    if len(images) == 0:
        return {"quantization": quantization, "images": 0}
    reference = softmax(predict(model, images).logits, temperature)
    lite = softmax(deployed_outputs.logits, temperature)
    return {
        "quantization": quantization,
        "images": len(images),
        "max_abs_probability_difference": float(np.max(np.abs(lite - reference))),
        "argmax_agreement": float(np.mean(lite.argmax(axis=1) == reference.argmax(axis=1))),
    }


def _model_id(result: TrainingResult, created: dt.datetime) -> str:
    """``lunglens-<arch>-<date>-<6 hex of the weights and quantization>``.

    Unique per model: a re-export of the same training run with another quantization, or a
    second model trained the same day on the same data, gets its own id (settings, exports
    and the model store refer to models by id).
    """
    import hashlib

    digest = hashlib.sha256(result.config.quantization.encode())
    for weights in result.model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return f"lunglens-{result.config.arch}-{created:%Y%m%d}-{digest.hexdigest()[:6]}"


def _counts(table: Any) -> dict[str, Any]:
    counts: dict[str, Any] = {}
    for subset in ("train", "val", "test"):
        rows = table[table["subset"] == subset]
        counts[subset] = {
            "images": len(rows),
            "patients": int(rows["patient_id"].nunique()),
            "per_class": {str(k): int(v) for k, v in
                          rows["label"].astype(str).value_counts().sort_index().items()},
            "per_source": {str(k): int(v) for k, v in
                           rows["source"].astype(str).value_counts().sort_index().items()},
        }
    return counts


def finalize(
    result: TrainingResult,
    out_dir: Path | str,
    *,
    report_dir: Path | str | None = None,
    dataset_description: str = "",
    bootstrap_rounds: int = 1000,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Calibrate, evaluate, fit OOD, export the bundle to ``out_dir`` and write the report.

    Args:
        result: Output of :func:`model_training.training.train`.
        out_dir: Bundle folder.
        report_dir: Where the JSON report and PNG figures go (None: ``out_dir/report``).
        dataset_description: One paragraph for the card's ``training_data.description``.
        bootstrap_rounds: Bootstrap resamples for the AUROC confidence intervals.
        log: Receives one line per step.

    Returns:
        The report (also written as ``report.json``).
    """
    import desktop_app
    from model_training.architectures import has_cam
    from model_training.augmentation import get_preset
    from model_training.bundle_evaluation import record_gate_figures
    from model_training.calibration import decision_for_config, fit_temperature
    from model_training.data_fingerprint import rows_fingerprint
    from model_training.evaluation import evaluate, population_columns, predict
    from model_training.export import (
        QUANTIZED_TOLERANCE,
        TOLERANCE,
        convert_to_tflite,
        export_bundle,
        training_data_hash,
    )
    from model_training.metrics import softmax
    from model_training.ood_fitting import GateReference, fit_gate
    from model_training.report import write_report

    say = log or (lambda _line: None)
    labels = result.labels()
    images = result.images.arrays
    masks = {name: result.subset_mask(name) for name in ("train", "val", "test")}
    classes = result.classes
    cam = has_cam(result.config.arch)

    # The model every figure below is measured on is the one the app will run: with int8
    # quantization that is the LiteRT flatbuffer, not the Keras model.
    tflite: bytes | None = None
    deployed: Any = result.model
    if result.config.quantization == "int8":
        say("quantizing to int8 (ranges from up to 300 training images)")
        rng = np.random.default_rng(result.config.seed)
        train_indices = np.flatnonzero(masks["train"])
        chosen = np.sort(rng.choice(train_indices, min(300, len(train_indices)), replace=False))
        tflite = convert_to_tflite(result.model, result.spec.input_size, cam=cam,
                                   representative=images[chosen])
        deployed = tflite

    say("predicting the validation split")
    val_out = predict(deployed, images[masks["val"]])
    temperature = fit_temperature(val_out.logits, labels[masks["val"]])
    val_probs = softmax(val_out.logits, temperature)
    val_columns = population_columns(result.table.loc[masks["val"]])
    decision = decision_for_config(val_probs, labels[masks["val"]], classes,
                                   val_columns.get("age_groups"), result.config.to_dict())
    say(f"temperature {temperature:.3f}; thresholds {decision['thresholds']}")
    val_eval = evaluate(deployed, images[masks["val"]], labels[masks["val"]], classes,
                        **val_columns,
                        temperature=temperature, decision=decision, shortcut_audit=False,
                        bootstrap_rounds=200, seed=result.config.seed, outputs=val_out)

    say("fitting the out-of-distribution gate (train; feature threshold on validation)")
    train_out = predict(deployed, images[masks["train"]])

    def reference(subset: str, features: np.ndarray) -> GateReference:
        stats = [s for s, keep in zip(result.images.stats, masks[subset], strict=True) if keep]
        return GateReference.from_images(features, stats, images[masks[subset]])

    # One protocol for every bundle (model_training.ood_fitting), the one that
    # docs/ood_evaluation.md measured: fitted on train, feature threshold set on validation.
    ood = fit_gate(reference("train", train_out.features), labels[masks["train"]],
                   reference("val", val_out.features), classes)
    ood = compact_floats(ood)

    metrics: dict[str, Any] = {"validation": val_eval.metrics}
    test_eval = None
    if masks["test"].any():
        say("evaluating the test split (and the lung-masked shortcut audit)")
        test_eval = evaluate(deployed, images[masks["test"]], labels[masks["test"]],
                             classes, **population_columns(result.table.loc[masks["test"]]),
                             temperature=temperature, decision=decision,
                             bootstrap_rounds=bootstrap_rounds, seed=result.config.seed)
        metrics["test"] = test_eval.metrics
        metrics["test"]["rows_fingerprint"] = rows_fingerprint(
            result.table.loc[masks["test"]],
            [sha for sha, keep in zip(result.images.file_sha1, masks["test"], strict=True)
             if keep])
    metrics["export"] = _export_agreement(result.model, val_out, images[masks["val"]],
                                          temperature, result.config.quantization)
    metrics["training"] = {
        "best_epoch": result.best_epoch,
        "monitor": result.config.monitor,
        "best_value": result.best_value,
        "epochs_run": len(result.epoch_seconds),
        "seconds_per_epoch_mean": float(np.mean(result.epoch_seconds)),
        "seconds_per_epoch_median": float(np.median(result.epoch_seconds)),
        "parameters": int(result.model.count_params()),
    }

    table = result.table
    train_rows = table[masks["train"] | masks["val"]]
    file_sha = np.asarray(result.images.file_sha1)
    entries = [(Path(p).name, file_sha[i]) for i, p in zip(train_rows.index, train_rows["path"],
                                                           strict=True)]
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    data_hash = training_data_hash(entries)
    training_config = result.config.to_dict()
    training_config["augmentation"] = get_preset(result.config.augment).to_dict()
    training_config["dropped_files"] = result.dropped
    card_fields = {
        "model_id": _model_id(result, created),
        "version": f"{created:%Y.%m.%d}",
        "created": created.isoformat(),
        "software_version": desktop_app.__version__,
        "task": result.config.task,
        "classes": list(classes),
        "architecture": result.config.arch,
        "preprocessing": result.spec.to_dict(),
        "temperature": float(temperature),
        "decision": decision,
        "ood": ood,
        "metrics": metrics,
        "training_data": {
            "description": dataset_description or "Chest X-rays in CoronaHack's label scheme.",
            "sources": sorted(table["source"].astype(str).unique().tolist()),
            "counts": _counts(table),
            "sha256": data_hash,
            "sha256_of": "sorted (file name, sha1 of file content) of the train + validation "
                         "images",
            "split": "by patient; TRAIN/TEST as given by Dataset_type; validation = "
                     f"{result.config.val_fraction:.0%} of TRAIN patients, stratified by class "
                     "and source",
        },
        "training_config": training_config,
        "intended_use": INTENDED_USE,
        "limitations": LIMITATIONS,
    }
    say(f"exporting the bundle to {out_dir}")
    verify = images[masks["val"]][:32]
    export_bundle(result.model, out_dir, card_fields, verify_images=verify, cam=cam,
                  tflite=tflite,
                  tolerance=QUANTIZED_TOLERANCE if tflite is not None else TOLERANCE)
    if test_eval is not None:
        say("measuring the gate on the test split through the app's classify path")
        metrics["test"]["gate"] = record_gate_figures(
            out_dir, result.table.loc[masks["test"]],
            softmax(test_eval.logits, temperature), bootstrap_rounds=bootstrap_rounds,
            seed=result.config.seed)
    report_path = Path(report_dir) if report_dir is not None else Path(out_dir) / "report"
    say(f"writing the report to {report_path}")
    report = write_report(report_path, card_fields=card_fields, history=result.history,
                          test=test_eval, classes=classes, temperature=temperature)
    return report
