"""Write and verify a model bundle: ``model.tflite``, ``model.keras``, ``model_card.json``.

The LiteRT model has the signature :mod:`desktop_app.core.model.model_bundle` documents:
``serving_default(image) -> {logits, features, cam}``. It is built with
``keras.export.ExportArchive`` around a functional sub-model and converted from the saved
model; the plainer routes (``from_concrete_functions``, ``tf.saved_model.save`` of a
``tf.Module``) produced NaN outputs with this TensorFlow version. Every export is verified:
the written bundle is loaded through the app's own :func:`load_bundle` and
:class:`TfliteModel`, and its probabilities must match Keras within :data:`TOLERANCE`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.hashing import sha256_file
from desktop_app.core.model.model_bundle import (
    INPUT_NAME,
    OUTPUT_CAM,
    OUTPUT_FEATURES,
    OUTPUT_LOGITS,
    SIGNATURE,
)
from desktop_app.core.model.model_card import CARD_FILE, KERAS_FILE, SCHEMA_VERSION, TFLITE_FILE
from model_training.tflite_export import keras_to_tflite, run_signature

__all__ = [
    "QUANTIZED_TOLERANCE",
    "TOLERANCE",
    "ExportError",
    "convert_to_tflite",
    "export_bundle",
    "run_tflite",
    "training_data_hash",
]

TOLERANCE = 1e-4
#: Largest probability difference accepted between an int8 LiteRT model and its Keras model on
#: the verification images. A sanity bound that catches a broken conversion (the bundled model
#: measured 0.08 at most over its 380 validation images); the int8 model's quality is measured
#: directly, because the card's metrics are computed on it.
QUANTIZED_TOLERANCE = 0.15


class ExportError(RuntimeError):
    """The exported LiteRT model disagrees with Keras, or the bundle does not load."""


def convert_to_tflite(
    model: Any,
    input_size: int,
    *,
    cam: bool = True,
    representative: np.ndarray | None = None,
) -> bytes:
    """Convert a Keras model (with ``head``, ``pooled``, ``last_feature_map``) to LiteRT bytes.

    Args:
        model: The trained Keras model; its output is the logits.
        input_size: Side of the square input.
        cam: Compute CAMs as ``last_feature_map · head weights``; when False (architectures
            without global pooling before the head, e.g. ``seed-2020``) ``cam`` is all zeros
            of shape ``(batch, h, w, classes)``.
        representative: Preprocessed training images ``(n, s, s)`` or ``(n, s, s, 1)``: when
            given, the model is quantized to int8 (weights and activations; the ranges come
            from these images; input and outputs stay float32, so callers do not change).
            A few hundred images cover the ranges; test or validation images must not be
            used, or the card's held-out metrics would have seen them.

    Returns:
        The ``.tflite`` flatbuffer.
    """
    import keras
    import tensorflow as tf

    fmap_layer = model.get_layer("last_feature_map")
    feature_model = keras.Model(
        model.inputs,
        [model.outputs[0], model.get_layer("pooled").output, fmap_layer.output],
    )
    weights, _ = model.get_layer("head").get_weights()
    depth = int(fmap_layer.output.shape[-1])
    cam_weights = np.asarray(weights, dtype=np.float32) if cam else \
        np.zeros((depth, weights.shape[-1]), dtype=np.float32)
    if cam_weights.shape[0] != depth:
        raise ValueError(
            f"head input width {cam_weights.shape[0]} does not match the feature map depth "
            f"{depth}; pass cam=False for this architecture"
        )

    def serve(image: Any) -> dict[str, Any]:
        logits, features, fmap = feature_model(image, training=False)
        cam_map = tf.einsum("bhwd,dc->bhwc", fmap, tf.constant(cam_weights))
        return {OUTPUT_LOGITS: logits, OUTPUT_FEATURES: features, OUTPUT_CAM: cam_map}

    return keras_to_tflite(feature_model, serve, signature=SIGNATURE, input_name=INPUT_NAME,
                           input_size=input_size, representative=representative)


def run_tflite(data: bytes, images: np.ndarray, *, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Run a LiteRT flatbuffer (before it is in a bundle) on preprocessed images.

    Finalizing an int8 model calibrates and evaluates the model the app will run, before its
    card exists; this is the same interpreter and signature :class:`TfliteModel` uses.

    Args:
        data: The ``.tflite`` flatbuffer from :func:`convert_to_tflite`.
        images: ``(n, s, s)`` or ``(n, s, s, 1)`` float32 preprocessed images.
        batch_size: Images per call.

    Returns:
        ``{"logits": (n, classes), "features": (n, dim)}`` as float32.
    """
    out = run_signature(data, images, signature=SIGNATURE, input_name=INPUT_NAME,
                        output_names=(OUTPUT_LOGITS, OUTPUT_FEATURES), batch_size=batch_size,
                        num_threads=os.cpu_count() or 1)
    return {name: values.astype(np.float32, copy=False) for name, values in out.items()}


def _save_without_optimizer(model: Any, path: Path) -> None:
    """Save the architecture and weights only.

    The optimizer's moment estimates would triple the file (AdamW keeps two per weight) and
    are useless for fine-tuning on new data, which starts a fresh optimizer anyway.
    """
    import keras

    # clone_model() keeps the compiled optimizer in this Keras version; from_config() does not.
    fresh = keras.Model.from_config(model.get_config())
    fresh.set_weights(model.get_weights())
    fresh.save(path)


def training_data_hash(entries: list[tuple[str, str]]) -> str:
    """sha256 over the sorted ``(file name, content sha1)`` pairs of the training data."""
    digest = hashlib.sha256()
    for name, content in sorted(entries):
        digest.update(f"{name}\t{content}\n".encode())
    return digest.hexdigest()


def export_bundle(
    model: Any,
    out_dir: Path | str,
    card_fields: Mapping[str, Any],
    *,
    verify_images: np.ndarray,
    cam: bool = True,
    tflite: bytes | None = None,
    tolerance: float = TOLERANCE,
) -> Path:
    """Write ``model.keras``, ``model.tflite`` and ``model_card.json`` and verify them.

    Args:
        model: The trained Keras model.
        out_dir: Bundle folder (created; existing model files are replaced).
        card_fields: Every card field except ``schema_version`` and ``files``.
        verify_images: ``(n, s, s)`` preprocessed images run through both Keras and LiteRT.
        cam: See :func:`convert_to_tflite`.
        tflite: An already converted flatbuffer (e.g. the int8 one the card's metrics were
            computed on); None converts ``model`` to float32 here.
        tolerance: Largest accepted LiteRT-vs-Keras probability difference
            (:data:`QUANTIZED_TOLERANCE` for int8).

    Returns:
        The bundle folder.

    Raises:
        ExportError: If LiteRT and Keras probabilities differ by more than ``tolerance``,
            or the bundle fails :func:`load_bundle`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = card_fields["preprocessing"]
    size = int(spec["input_size"] if isinstance(spec, Mapping) else spec.input_size)
    staging = Path(tempfile.mkdtemp(prefix="lunglens_bundle_", dir=out.parent))
    try:
        _save_without_optimizer(model, staging / KERAS_FILE)
        (staging / TFLITE_FILE).write_bytes(
            tflite if tflite is not None else convert_to_tflite(model, size, cam=cam))
        card = _write_card(staging, card_fields)
        _verify_staged(staging, model, card.temperature, verify_images, tolerance)
        for name in (TFLITE_FILE, KERAS_FILE, CARD_FILE):
            shutil.move(str(staging / name), str(out / name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _write_card(staging: Path, card_fields: Mapping[str, Any]) -> Any:
    """Write the card of the staged model files (their sha256 in ``files``); the card."""
    from desktop_app.core.model.model_card import ModelCard

    data = dict(card_fields)
    data["schema_version"] = SCHEMA_VERSION
    if not isinstance(data["preprocessing"], Mapping):
        data["preprocessing"] = data["preprocessing"].to_dict()
    data["files"] = {name: sha256_file(staging / name) for name in (TFLITE_FILE, KERAS_FILE)}
    card = ModelCard.from_dict(data)
    card.write(staging / CARD_FILE)
    return card


def _verify_staged(staging: Path, model: Any, temperature: float, verify_images: np.ndarray,
                   tolerance: float) -> None:
    """Load the staged bundle as the app does; its probabilities must match Keras'."""
    from desktop_app.core.classify.inference import TfliteModel
    from desktop_app.core.errors import ModelBundleError
    from desktop_app.core.model.model_bundle import load_bundle
    from model_training.metrics import softmax

    try:
        bundle = load_bundle(staging)
        runner = TfliteModel(bundle)
    except ModelBundleError as error:
        raise ExportError(f"the exported bundle does not load: {error}") from error
    batch = np.asarray(verify_images, dtype=np.float32)
    if batch.ndim == 3:
        batch = batch[..., None]
    lite = runner.run(batch)
    reference = softmax(np.asarray(model(batch, training=False)), temperature)
    difference = float(np.max(np.abs(lite.probabilities - reference)))
    if not difference <= tolerance:
        raise ExportError(
            f"LiteRT probabilities differ from Keras by {difference:.3g} "
            f"(> {tolerance:g}) on {len(batch)} image(s)"
        )
