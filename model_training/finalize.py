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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model_training.training import TrainingResult

__all__ = ["INTENDED_USE", "LIMITATIONS", "STAGES", "Finishing", "finalize"]

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
    "Operating point for unseen sites (docs/operating_point.md, 2026-12-07): the COVID-19 "
    "threshold is raised until at most 15 % of adult non-COVID validation films reach it, and "
    "adults (age known) get the Pneumonia threshold that finds as many adult pneumonias as "
    "it spares adult normals. Adult normals and pneumonias are separated only moderately "
    "(NIH AUROC about 0.86): expect about 3 in 10 of each to get the other label; read an "
    "adult 'Normal' or 'Pneumonia' marked uncertain with care.",
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
    from model_training.workers import weights_sha256

    digest = weights_sha256(result.model, result.config.quantization.encode())
    return f"lunglens-{result.config.arch}-{created:%Y%m%d}-{digest[:6]}"


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


@dataclass
class Finishing:
    """What the stages of :func:`finalize` share: the inputs and what each stage adds.

    A stage reads earlier stages' attributes and adds to :attr:`card` (the model card's
    fields) or to the attributes below; the order of :data:`STAGES` is the order they run.

    Attributes:
        result: The training run being finished.
        out_dir: The bundle folder.
        report_dir: Where the report and its figures go.
        dataset_description: The card's ``training_data.description``.
        bootstrap_rounds: Bootstrap resamples for the TEST intervals.
        say: Receives one line per step.
        card: The card's fields, filled stage by stage; ``card["metrics"]`` is
            :attr:`metrics`.
        deployed: The model the app will run (Keras, or the int8 flatbuffer's bytes).
        tflite: The int8 flatbuffer, or None to let the export convert the Keras model.
        val_out: Validation outputs of :attr:`deployed` (logits, features).
        test_eval: The TEST evaluation, or None without TEST images.
        report: What :func:`model_training.report.write_report` wrote.
    """

    result: TrainingResult
    out_dir: Path
    report_dir: Path
    dataset_description: str
    bootstrap_rounds: int
    say: Callable[[str], None]
    card: dict[str, Any] = field(default_factory=dict)
    deployed: Any = None
    tflite: bytes | None = None
    val_out: Any = None
    test_eval: Any = None
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, Any]:
        """The card's ``metrics`` section (created on first use)."""
        return self.card.setdefault("metrics", {})

    def mask(self, subset: str) -> np.ndarray:
        """Rows of ``subset`` (``train``, ``val`` or ``test``) in the run's table."""
        return np.asarray(self.result.subset_mask(subset))

    def images(self, subset: str) -> np.ndarray:
        """Preprocessed images of ``subset``."""
        return self.result.images.arrays[self.mask(subset)]

    def labels(self, subset: str) -> np.ndarray:
        """Class indices of ``subset``."""
        return self.result.labels()[self.mask(subset)]


def identify(state: Finishing) -> None:
    """Card: what the model is, before any figure about it.

    Adds ``model_id``, ``version``, ``created``, ``software_version``, ``task``,
    ``classes``, ``architecture`` and ``preprocessing``.
    """
    import desktop_app

    result = state.result
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    state.card.update({
        "model_id": _model_id(result, created),
        "version": f"{created:%Y.%m.%d}",
        "created": created.isoformat(),
        "software_version": desktop_app.__version__,
        "task": result.config.task,
        "classes": list(result.classes),
        "architecture": result.config.arch,
        "preprocessing": result.spec.to_dict(),
    })


def deploy(state: Finishing) -> None:
    """Card: nothing itself, but every figure after it is of the model the app will run.

    With int8 quantization that is the LiteRT flatbuffer (ranges from up to 300 training
    images), not the Keras model; otherwise the Keras model (the float32 flatbuffer is
    checked against it to 1e-4 at export).
    """
    from model_training.architectures import has_cam
    from model_training.export import convert_to_tflite

    result = state.result
    state.deployed = result.model
    if result.config.quantization != "int8":
        return
    state.say("quantizing to int8 (ranges from up to 300 training images)")
    rng = np.random.default_rng(result.config.seed)
    train_indices = np.flatnonzero(state.mask("train"))
    chosen = np.sort(rng.choice(train_indices, min(300, len(train_indices)), replace=False))
    state.tflite = convert_to_tflite(result.model, result.spec.input_size,
                                     cam=has_cam(result.config.arch),
                                     representative=result.images.arrays[chosen])
    state.deployed = state.tflite


def calibrate(state: Finishing) -> None:
    """Card: ``temperature``, ``decision`` and ``metrics.validation``.

    The temperature is fitted on validation; the decision is the operating point of the
    training config's rule (at age-group thresholds when it has them); the validation
    figures are measured at that decision.
    """
    from model_training.calibration import decision_for_config, fit_temperature
    from model_training.evaluation import evaluate, population_columns, predict
    from model_training.metrics import softmax

    result = state.result
    state.say("predicting the validation split")
    images, labels = state.images("val"), state.labels("val")
    state.val_out = predict(state.deployed, images)
    temperature = fit_temperature(state.val_out.logits, labels)
    columns = population_columns(result.table.loc[state.mask("val")])
    decision = decision_for_config(softmax(state.val_out.logits, temperature), labels,
                                   result.classes, columns.get("age_groups"),
                                   result.config.to_dict())
    state.say(f"temperature {temperature:.3f}; thresholds {decision['thresholds']}")
    state.card.update({"temperature": float(temperature), "decision": decision})
    val_eval = evaluate(state.deployed, images, labels, result.classes, **columns,
                        temperature=temperature, decision=decision, shortcut_audit=False,
                        bootstrap_rounds=200, seed=result.config.seed, outputs=state.val_out)
    state.metrics["validation"] = val_eval.metrics


def fit_ood(state: Finishing) -> None:
    """Card: ``ood``, the out-of-distribution gate's references and thresholds.

    One protocol for every bundle (:mod:`model_training.ood_fitting`), the one that
    docs/ood_evaluation.md measured: fitted on train, feature threshold set on validation.
    """
    from model_training.evaluation import predict
    from model_training.ood_fitting import GateReference, fit_gate

    result = state.result
    state.say("fitting the out-of-distribution gate (train; feature threshold on validation)")
    train_out = predict(state.deployed, state.images("train"))

    def reference(subset: str, features: np.ndarray) -> GateReference:
        mask = state.mask(subset)
        stats = [s for s, keep in zip(result.images.stats, mask, strict=True) if keep]
        return GateReference.from_images(features, stats, state.images(subset))

    ood = fit_gate(reference("train", train_out.features), state.labels("train"),
                   reference("val", state.val_out.features), result.classes)
    state.card["ood"] = compact_floats(ood)


def evaluate_test(state: Finishing) -> None:
    """Card: ``metrics.test``, every figure on TEST at the decision.

    With bootstrap intervals, the lung-masked shortcut audit, each finding's threshold curves
    per population (:mod:`model_training.threshold_curve_card`) and the fingerprint of the
    TEST rows; nothing when the table has no TEST rows.
    """
    from model_training.data_fingerprint import rows_fingerprint
    from model_training.evaluation import evaluate, population_columns
    from model_training.threshold_curve_card import record_threshold_curves

    result = state.result
    mask = state.mask("test")
    if not mask.any():
        return
    state.say("evaluating the test split (and the lung-masked shortcut audit)")
    rows = result.table.loc[mask]
    state.test_eval = evaluate(state.deployed, state.images("test"), state.labels("test"),
                               result.classes, **population_columns(rows),
                               temperature=state.card["temperature"],
                               decision=state.card["decision"],
                               bootstrap_rounds=state.bootstrap_rounds,
                               seed=result.config.seed)
    test = state.metrics["test"] = state.test_eval.metrics
    test["rows_fingerprint"] = rows_fingerprint(
        rows, [sha for sha, keep in zip(result.images.file_sha1, mask, strict=True) if keep])
    record_threshold_curves(test, state.test_eval, rows, result.classes,
                            state.card["temperature"], state.card["decision"],
                            bootstrap_rounds=state.bootstrap_rounds, seed=result.config.seed)


def measure_export(state: Finishing) -> None:
    """Card: ``metrics.export``, how far the LiteRT model is from Keras (quantization)."""
    state.metrics["export"] = _export_agreement(
        state.result.model, state.val_out, state.images("val"), state.card["temperature"],
        state.result.config.quantization)


def record_training(state: Finishing) -> None:
    """Card: ``metrics.training``, the best epoch, its monitored value, epoch times, size."""
    result = state.result
    state.metrics["training"] = {
        "best_epoch": result.best_epoch,
        "monitor": result.config.monitor,
        "best_value": result.best_value,
        "epochs_run": len(result.epoch_seconds),
        "seconds_per_epoch_mean": float(np.mean(result.epoch_seconds)),
        "seconds_per_epoch_median": float(np.median(result.epoch_seconds)),
        "parameters": int(result.model.count_params()),
    }


def describe_training(state: Finishing) -> None:
    """Card: ``training_data``, ``training_config``, ``intended_use``, ``limitations``.

    The data's sources, counts, the hash of the train + validation files and the split
    rule; the config with its augmentation spelled out.
    """
    from model_training.augmentation import get_preset
    from model_training.export import training_data_hash

    result, table = state.result, state.result.table
    train_rows = table[state.mask("train") | state.mask("val")]
    file_sha = np.asarray(result.images.file_sha1)
    entries = [(Path(p).name, file_sha[i])
               for i, p in zip(train_rows.index, train_rows["path"], strict=True)]
    training_config = result.config.to_dict()
    training_config["augmentation"] = get_preset(result.config.augment).to_dict()
    training_config["dropped_files"] = result.dropped
    state.card["training_data"] = {
        "description": state.dataset_description
        or "Chest X-rays in CoronaHack's label scheme.",
        "sources": sorted(table["source"].astype(str).unique().tolist()),
        "counts": _counts(table),
        "sha256": training_data_hash(entries),
        "sha256_of": "sorted (file name, sha1 of file content) of the train + validation "
                     "images",
        "split": "by patient; TRAIN/TEST as given by Dataset_type; validation = "
                 f"{result.config.val_fraction:.0%} of TRAIN patients, stratified by class "
                 "and source",
    }
    state.card.update({"training_config": training_config, "intended_use": INTENDED_USE,
                       "limitations": LIMITATIONS})


def export(state: Finishing) -> None:
    """Card: ``files``; writes the bundle (both models and the card so far).

    ``model.tflite`` is verified in LiteRT against Keras on up to 32 validation images.
    """
    from model_training.architectures import has_cam
    from model_training.export import QUANTIZED_TOLERANCE, TOLERANCE, export_bundle

    state.say(f"exporting the bundle to {state.out_dir}")
    export_bundle(state.result.model, state.out_dir, state.card,
                  verify_images=state.images("val")[:32],
                  cam=has_cam(state.result.config.arch), tflite=state.tflite,
                  tolerance=QUANTIZED_TOLERANCE if state.tflite is not None else TOLERANCE)


def measure_gate(state: Finishing) -> None:
    """Card: ``metrics.test.gate``, TEST films the gate refuses or cautions.

    Measured through the app's classify path on the exported bundle, so it comes after
    :func:`export` and rewrites the written card.
    """
    from model_training.bundle_evaluation import record_gate_figures
    from model_training.metrics import softmax

    if state.test_eval is None:
        return
    state.say("measuring the gate on the test split through the app's classify path")
    result = state.result
    state.metrics["test"]["gate"] = record_gate_figures(
        state.out_dir, result.table.loc[state.mask("test")],
        softmax(state.test_eval.logits, state.card["temperature"]),
        bootstrap_rounds=state.bootstrap_rounds, seed=result.config.seed)


def measure_check_set(state: Finishing) -> None:
    """Card: ``ood.check_set``, the shipped non-chest check set as this model measures it.

    Site calibration (``python -m desktop_app calibrate``) brakes the gate with these values
    instead of measuring 219 images each time (:mod:`desktop_app.core.site.check_set_record`).
    Rewrites the written card, so it comes after :func:`export`.
    """
    from desktop_app.core.site.check_set_record import record_check_set

    state.say("measuring the non-chest check set through the app's classify path")
    state.card["ood"]["check_set"] = record_check_set(state.out_dir)


def write(state: Finishing) -> None:
    """Card: nothing; writes ``report.json`` (the card's figures and history) and figures."""
    from model_training.report import write_report

    state.say(f"writing the report to {state.report_dir}")
    state.report = write_report(state.report_dir, card_fields=state.card,
                                history=state.result.history, test=state.test_eval,
                                classes=state.result.classes,
                                temperature=state.card["temperature"])


#: The stages of :func:`finalize`, in order. A new step (an operating-point rule, a site
#: calibration) is one function taking :class:`Finishing` and one entry here.
STAGES: tuple[Callable[[Finishing], None], ...] = (
    identify, deploy, calibrate, fit_ood, evaluate_test, measure_export, record_training,
    describe_training, export, measure_gate, measure_check_set, write,
)


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

    Runs :data:`STAGES` in order on one :class:`Finishing`.

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
    state = Finishing(
        result=result, out_dir=Path(out_dir),
        report_dir=Path(report_dir) if report_dir is not None else Path(out_dir) / "report",
        dataset_description=dataset_description, bootstrap_rounds=bootstrap_rounds,
        say=log or (lambda _line: None))
    for stage in STAGES:
        stage(state)
    return state.report
