"""Builds a tiny but complete model bundle for core and UI tests (TensorFlow, ~10 s).

The bundle follows the export contract of :mod:`desktop_app.core.model.model_bundle` exactly
(signature ``serving_default``, input ``image``, outputs ``logits``/``features``/``cam``), and
its card passes the same validation as a trained model's, so tests exercise the real LiteRT
classify path. Its layers carry the names every LiteRT export relies on
(:mod:`model_training.architectures`: ``last_feature_map``, ``pooled``, ``head``), so the
frozen build's training self-test can convert it like a trained model. The CNN is untrained
apart from a few steps on synthetic radiographs: tests check behaviour (consistency, gating,
plumbing), never accuracy.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from desktop_app import __version__
from desktop_app.core.classify.lung_fields import ModelInputs, load_lung_segmenter
from desktop_app.core.classify.synthetic import synthetic_radiograph
from desktop_app.core.gate import fit_ood_spec, image_statistics, thumbnail_vector
from desktop_app.core.hashing import sha256_file
from desktop_app.core.model.model_card import KERAS_FILE, SCHEMA_VERSION, TFLITE_FILE, ModelCard
from desktop_app.core.preprocessing import PreprocessingSpec
from model_training.tflite_export import keras_to_tflite

CLASSES = ["Normal", "Pneumonia", "COVID-19"]


def build_tiny_bundle(out: Path, input_size: int = 32, seed: int = 0,
                      region: str = "image") -> Path:
    """Write a bundle folder at ``out`` and return it.

    ``region="lungs"`` frames the input with the lung segmenter shipped in ``resources/``,
    as a model trained with ``--region lungs`` does.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if region == "lungs":
        segmenter_id = load_lung_segmenter().card.model_id
        spec = PreprocessingSpec(input_size=input_size, region="lungs",
                                 lung_segmenter=segmenter_id, lung_margin=0.12)
    else:
        spec = PreprocessingSpec(input_size=input_size)
    make_input = ModelInputs(spec)
    inputs = keras.Input(spec.input_shape, name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    fmap = keras.layers.Conv2D(16, 3, padding="same", activation="relu",
                               name="last_feature_map")(x)
    pooled = keras.layers.GlobalAveragePooling2D(name="pooled")(fmap)
    logits = keras.layers.Dense(len(CLASSES), name="head")(pooled)
    model = keras.Model(inputs, logits)

    # Synthetic "radiographs" with a class-dependent blob so the model has something to fit.
    pixels = [synthetic_radiograph(seed=i) for i in range(24)]
    labels = np.arange(24) % 3
    batch = np.stack([make_input(p)[0].array for p in pixels])[..., None]
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(batch, labels, epochs=2, batch_size=8, verbose=0)

    feature_model = keras.Model(inputs, [logits, pooled, fmap])
    weights = model.get_layer("head").get_weights()[0]

    def serve(image: tf.Tensor) -> dict[str, tf.Tensor]:
        out_logits, features, feature_map = feature_model(image, training=False)
        cam = tf.einsum("bhwd,dc->bhwc", feature_map, tf.constant(weights))
        return {"logits": out_logits, "features": features, "cam": cam}

    out.mkdir(parents=True, exist_ok=True)
    (out / TFLITE_FILE).write_bytes(keras_to_tflite(
        feature_model, serve, signature="serving_default", input_name="image",
        input_size=input_size))
    model.save(out / KERAS_FILE)

    _, features, _ = feature_model.predict(batch, verbose=0)
    stats = [image_statistics(p.astype(np.float32) / 255.0, 0.0) for p in pixels]
    thumbnails = np.stack([thumbnail_vector(item[..., 0]) for item in batch])
    ood = fit_ood_spec(features, labels, CLASSES, stats, thumbnails=thumbnails,
                       distance_quantile=1.0, appearance_quantile=1.0)
    # 24 generated images are no real reference; widen the limits so that generated
    # radiographs pass while colour photos, charts and noise are still refused.
    ood["distance_threshold"] = float(ood["distance_threshold"] * 3.0)
    ood["appearance"]["distance_threshold"] *= 3.0
    card = ModelCard(
        schema_version=SCHEMA_VERSION,
        model_id=f"tiny-test-model-{seed}",
        version="0.0.0",
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        software_version=__version__,
        task="3class",
        classes=CLASSES,
        architecture="tiny-test",
        preprocessing=spec,
        temperature=1.5,
        decision={"priority": ["COVID-19", "Pneumonia"],
                  "thresholds": {"COVID-19": 0.5, "Pneumonia": 0.5}, "min_confidence": 0.5,
                  "operating_point": {}},
        ood=ood,
        metrics={"note": "untrained test model: no metrics"},
        training_data={"description": "24 generated images"},
        training_config={"epochs": 2},
        files={name: sha256_file(out / name) for name in (TFLITE_FILE, KERAS_FILE)},
        intended_use="tests only",
        limitations=["untrained"],
    )
    card.write(out / "model_card.json")
    return out


def with_card_changes(bundle: Path, out: Path, change: Callable[[dict], None]) -> Path:
    """A copy of ``bundle`` at ``out`` whose card JSON ``change`` edited in place.

    The model files are copied unchanged, so the card's sha256 list still holds.
    """
    shutil.copytree(bundle, out)
    path = out / "model_card.json"
    card = json.loads(path.read_text(encoding="utf-8"))
    change(card)
    path.write_text(json.dumps(card), encoding="utf-8")
    return out
