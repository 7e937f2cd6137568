"""Train and export the view model: "is this a frontal PA/AP chest film?".

The model ships in ``resources/view_model/`` (read by :mod:`desktop_app.core.gate.view`). Its
four classes are ``frontal``, ``lateral``, ``rotated`` (turned by 90°) and ``other`` (another
body part, a heavily cropped part of a chest film, or not a radiograph at all).

Only 22 real lateral films of 17 patients exist in the shared data, so the material is built:

* **frontal**: TRAIN-split films of every source of the chest X-ray dataset (capped per
  source so that Kermany and NIH do not drown the small web sources), mildly augmented, plus
  the program's own synthetic radiograph (which the self-test classifies);
* **lateral**: the real laterals of the training patients, each in many augmented copies
  (crops, mirrors, contrast and gamma changes, small rotations, borders, lower resolution),
  plus the synthetic lateral sketches of the OOD evaluation's development half;
* **rotated**: other TRAIN frontal films and the training laterals turned by 90° or 270°;
* **other**: the development half of the OOD evaluation set
  (``model_training/non_chest/``: photos, charts, documents, screenshots, noise,
  CT/MR, other radiographs) and heavily cropped or zoomed regions of frontal films.

A part of the lateral patients is held out (never trained on) and reported in the card; the
OOD set's held-out half and the dataset's TEST split are never used here, so
``benchmarks/view_check.py`` measures on material the model has not seen. TensorFlow is
imported lazily: importing this module costs nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app import __version__
from desktop_app.core.gate.view import (
    FRONTAL,
    SUBSAMPLE_FACTOR,
    VIEW_CARD_FILE,
    VIEW_CARD_FORMAT,
    VIEW_CLASSES,
    VIEW_INPUT_NAME,
    VIEW_OUTPUT_NAME,
    VIEW_SIGNATURE,
    VIEW_TFLITE_FILE,
)
from desktop_app.core.hashing import sha256_file
from model_training.non_chest_images import NonChestImage
from model_training.tflite_export import keras_to_tflite, run_signature
from model_training.view_material import (
    LABEL_INDEX,
    CancelCallback,
    ProgressCallback,
    ViewMaterial,
    ViewTrainingCancelled,
    ViewTrainingConfig,
    build_material,
)

__all__ = [
    "ViewMaterial",
    "ViewTrainingCancelled",
    "ViewTrainingConfig",
    "build_material",
    "fit_view_model",
    "train_view_model",
    "view_metrics",
]


# ------------------------------------------------------------------------------ model


def _make_model(input_size: int) -> Any:
    """A small all-convolutional network: four strided 3x3 stages, pooling, a linear head.

    About 135 k parameters and 4.4 M multiply-adds at 64 px: about 0.15 ms per image in
    LiteRT on one thread, small enough to ship next to the classifier.
    """
    import keras

    inputs = keras.Input((input_size, input_size, 1), name=VIEW_INPUT_NAME)
    x = inputs
    for filters, stride in ((16, 2), (32, 2), (64, 2), (64, 1), (128, 2)):  # 64->32->16->8->4
        x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.3)(x)
    outputs = keras.layers.Dense(len(VIEW_CLASSES), activation="softmax",
                                 name=VIEW_OUTPUT_NAME)(x)
    return keras.Model(inputs, outputs, name="lunglens_view")


def _to_tflite(model: Any, input_size: int) -> bytes:
    """LiteRT flatbuffer with one signature: ``image`` in, ``probabilities`` out."""

    def serve(image: Any) -> dict[str, Any]:
        return {VIEW_OUTPUT_NAME: model(image, training=False)}

    return keras_to_tflite(model, serve, signature=VIEW_SIGNATURE, input_name=VIEW_INPUT_NAME,
                           input_size=input_size)


def _run_tflite(data: bytes, inputs: np.ndarray) -> np.ndarray:
    """Probabilities from the exported flatbuffer: the metrics are those of what ships."""
    return run_signature(data, inputs, signature=VIEW_SIGNATURE, input_name=VIEW_INPUT_NAME,
                         output_names=(VIEW_OUTPUT_NAME,))[VIEW_OUTPUT_NAME].astype(np.float64)


def _rate(flags: np.ndarray) -> dict[str, float | int]:
    return {"n": len(flags), "flagged": float(flags.mean()) if len(flags) else float("nan")}


def fit_view_model(
    material: ViewMaterial,
    config: ViewTrainingConfig,
    *,
    exclude_families: Sequence[str] = (),
    progress: ProgressCallback | None = None,
    cancelled: CancelCallback | None = None,
) -> bytes:
    """Train on the material's training rows and return the LiteRT flatbuffer.

    Args:
        material: From :func:`build_material` (built once, fitted as often as needed).
        config: The run's settings.
        exclude_families: Families left out (leave-one-category-out runs).
        progress: Called with ("epochs", done, total).
        cancelled: Polled after each epoch.

    Raises:
        ViewTrainingCancelled: When ``cancelled`` says so.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    train = material.training_mask(exclude_families)
    x_train = material.inputs[train][..., None]
    y_train = material.labels[train]
    counts = np.bincount(y_train, minlength=len(VIEW_CLASSES))
    weights = {i: float(len(y_train) / (len(VIEW_CLASSES) * max(1, c)))
               for i, c in enumerate(counts)}
    model = _make_model(config.input_size)
    steps = int(np.ceil(len(x_train) / config.batch_size)) * config.epochs
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    class _Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            if progress is not None:
                progress("epochs", epoch + 1, config.epochs)
            if cancelled is not None and cancelled():
                self.model.stop_training = True

    model.fit(x_train, y_train, epochs=config.epochs, batch_size=config.batch_size,
              shuffle=True, class_weight=weights, verbose=0, callbacks=[_Progress()])
    if cancelled is not None and cancelled():
        raise ViewTrainingCancelled
    return _to_tflite(model, config.input_size)


def view_metrics(material: ViewMaterial, probabilities: np.ndarray,
                 config: ViewTrainingConfig,
                 exclude_families: Sequence[str] = ()) -> dict[str, Any]:
    """The thresholds chosen on the validation films and the card's figures.

    The caution threshold is the vouching threshold (``confident_frontal``: the view check
    either vouches for a film or is not sure of it) unless that flags more than
    ``max_validation_flagged`` of the validation frontal films; refusal is below
    ``refuse_below``. Held-out laterals and
    held-out non-chest cases (whole patients or cases never trained on) are reported.
    """
    frontal = probabilities[:, LABEL_INDEX[FRONTAL]]
    validation = (material.split == "validation") & (material.labels == LABEL_INDEX[FRONTAL])
    # Below the vouching threshold the view check is not sure: it cautions (and with a
    # distance check's doubt the gate refuses), unless that would flag more than
    # max_validation_flagged of the unseen frontal films.
    caution = config.confident_frontal
    if validation.any():
        limit = float(np.quantile(frontal[validation], config.max_validation_flagged))
        caution = float(min(config.confident_frontal, max(limit, 0.05)))
    threshold = float(min(caution, config.refuse_below))
    flagged = frontal < threshold
    cautioned = (frontal >= threshold) & (frontal < caution)
    held = material.split == "held_out"
    ward = material.split == "validation_ward"
    train = material.training_mask(exclude_families)

    def per_origin(mask: np.ndarray) -> dict[str, dict[str, float | int]]:
        return {origin: {**_rate(flagged[mask & (material.origin == origin)]),
                         "cautioned": float(cautioned[mask & (material.origin == origin)]
                                            .mean()),
                         "max_frontal_probability": float(
                             frontal[mask & (material.origin == origin)].max())}
                for origin in sorted(set(material.origin[mask]))}

    lateral = held & (material.family == "lateral")
    non_chest = held & (material.family != "lateral")
    return {
        "min_frontal_probability": threshold,
        "caution_frontal_probability": caution,
        "held_out_laterals": {**_rate(flagged[lateral]),
                              "patients": len(material.held_out_patients)},
        "held_out_non_chest_per_category": per_origin(non_chest),
        "validation_frontal_per_source": per_origin(validation),
        "validation_frontal_all": _rate(flagged[validation]),
        "validation_ward_films_per_source": per_origin(ward),
        "validation_ward_films_all": {**_rate(flagged[ward]),
                                      "cautioned": float(cautioned[ward].mean())
                                      if ward.any() else float("nan")},
        "train_accuracy": float((probabilities[train].argmax(axis=1)
                                 == material.labels[train]).mean()),
        "note": "validation = frontal TRAIN-split films of patients not trained on (chooses "
                "the caution threshold); validation ward films = one bedside version of each "
                "(model_training.ward_films), reported only; held-out laterals = whole "
                "patients never trained on; held-out non-chest = real CT, MR and ultrasound "
                "cases never trained on (model_training.non_chest_images). The dataset's "
                "TEST split and the whole gate are measured by benchmarks/ood_eval.py.",
    }


def train_view_model(
    data_dir: Path | str,
    laterals_dir: Path | str,
    out_dir: Path | str,
    config: ViewTrainingConfig | None = None,
    *,
    ood_cases: Sequence[tuple[Path, str]] = (),
    non_chest: Sequence[NonChestImage] = (),
    material: ViewMaterial | None = None,
    progress: ProgressCallback | None = None,
    cancelled: CancelCallback | None = None,
) -> dict[str, Any]:
    """Build the material, train, choose the threshold, export the LiteRT model and card.

    Args:
        data_dir: The chest X-ray dataset.
        laterals_dir: The lateral films.
        out_dir: Output folder (``view_model.tflite`` and ``view_card.json``).
        config: Settings (defaults: :class:`ViewTrainingConfig`).
        ood_cases: Development-half OOD images, see :func:`build_material`.
        non_chest: Real CT, MR and ultrasound images, see :func:`build_material`.
        material: Material already built with ``config`` (leave-one-category-out runs share
            one); built here when ``None``.
        progress: Called with (stage, done, total).
        cancelled: Polled between images and epochs.

    Returns:
        The card that was written.
    """
    config = config or ViewTrainingConfig()
    if material is None:
        material = build_material(Path(data_dir), Path(laterals_dir), config,
                                  ood_cases=ood_cases, non_chest=non_chest,
                                  progress=progress, cancelled=cancelled)
    data = fit_view_model(material, config, exclude_families=config.exclude_families,
                          progress=progress, cancelled=cancelled)
    probabilities = _run_tflite(data, material.inputs)
    metrics = view_metrics(material, probabilities, config, config.exclude_families)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / VIEW_TFLITE_FILE).write_bytes(data)
    digest = sha256_file(out / VIEW_TFLITE_FILE)
    card = _view_card(config, material, metrics, digest)
    (out / VIEW_CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card


#: What the view model learns from (the card's ``training_data.description``).
_TRAINING_DESCRIPTION = ("frontal TRAIN-split films of every source of the chest X-ray "
                         "dataset (mildly augmented, and bedside versions with lines, "
                         "tubes, electrodes, markers, neck or upper abdomen, rotation up "
                         "to 15°, collimation and portable-film contrast), real lateral "
                         "films of the training "
                         "patients (heavily augmented), frontal films and laterals turned "
                         "by 90°/270°, heavily cropped regions of frontal films, the "
                         "development half of the OOD evaluation set "
                         "(model_training/non_chest/), the program's "
                         "synthetic radiograph; real CT (chest, abdomen, head; axial and "
                         "reformats), MR and lung-ultrasound images of the trainable "
                         "cases of ../shared/datasets/views/non_chest (licence use "
                         "'training or evaluation' only), re-windowed and augmented, CT "
                         "and MR slices with a scout inset, multi-panel figures, PACS-"
                         "viewer screenshots around a film, CT scout views and light-box "
                         "photos made from frontal films, laterals with side markers "
                         "(model_training/view_synthesis.py)")


def _view_card(config: ViewTrainingConfig, material: ViewMaterial, metrics: dict[str, Any],
               digest: str) -> dict[str, Any]:
    """The view card: identity, thresholds, input, files, training data, metrics, limits."""
    threshold = metrics["min_frontal_probability"]
    caution = metrics["caution_frontal_probability"]
    created = dt.datetime.now(dt.UTC)
    return {
        "format": VIEW_CARD_FORMAT,
        "model_id": f"lunglens-view-{created:%Y%m%d}-{digest[:6]}",
        "created": created.isoformat(timespec="seconds"),
        "software_version": __version__,
        "purpose": "Refuse what is not a whole frontal (PA/AP) chest film before the "
                   "classifier's answer is shown. Independent of the installed classifier.",
        "classes": list(VIEW_CLASSES),
        "min_frontal_probability": threshold,
        "caution_frontal_probability": caution,
        "confident_frontal_probability": max(caution, config.confident_frontal),
        "preprocessing": config.preprocessing.to_dict(),
        "input": {
            "name": VIEW_INPUT_NAME, "shape": [None, config.input_size, config.input_size, 1],
            "dtype": "float32", "output": VIEW_OUTPUT_NAME,
            "how": "desktop_app.core.gate.view.view_input: strided subsample of the loaded "
                   f"image to about {SUBSAMPLE_FACTOR}x the input side, then "
                   "preprocessing.preprocess with this card's spec",
        },
        "files": {VIEW_TFLITE_FILE: digest},
        "training_data": {
            "description": _TRAINING_DESCRIPTION,
            "held_out_lateral_patients": material.held_out_patients,
            "held_out_lateral_files": sorted(material.held_out_files),
            "held_out_non_chest_cases": material.held_out_cases,
            "excluded_families": list(config.exclude_families),
            "inputs_per_split_class_origin": material.counts,
        },
        "training_config": dataclasses.asdict(config),
        "metrics": metrics,
        "limitations": _limitations(material),
    }


def _limitations(material: ViewMaterial) -> list[str]:
    """What the material cannot show, in the card's words."""
    return [
        "Real lateral films of only 17 patients, all from one collection (ieee8023), "
        f"{len(material.held_out_patients)} of them held out; laterals from other "
        "hospitals may look different.",
        "No real abdominal, skull or limb radiographs: those negatives are drawn "
        "sketches and public sample images. Real CT, MR and ultrasound come from few "
        "collections (TCIA COVID-19-NY-SBU, Lung-PET-CT-Dx, VQA-RAD, POCUS); CT slices "
        "of other scanners and reconstructions may look different.",
        "A frontal film mirrored or upside down counts as frontal.",
    ]
