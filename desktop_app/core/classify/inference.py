"""LiteRT inference: preprocessed batches in, calibrated probabilities, features and CAMs out.

Only ``ai_edge_litert`` runs here, never TensorFlow: importing TensorFlow takes seconds and a
clinic workstation's classify path must start in well under one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from desktop_app.core.errors import ModelBundleError
from desktop_app.core.model.model_bundle import (
    INPUT_NAME,
    OUTPUT_CAM,
    OUTPUT_FEATURES,
    OUTPUT_LOGITS,
    SIGNATURE,
    ModelBundle,
)

__all__ = ["RawOutputs", "TfliteModel", "softmax"]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Numerically stable softmax over the last axis, with temperature scaling."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class RawOutputs:
    """Model outputs for a batch.

    Attributes:
        logits: ``(n, classes)`` before temperature scaling.
        probabilities: ``(n, classes)`` calibrated (temperature-scaled softmax).
        features: ``(n, dim)`` pooled penultimate features.
        cams: ``(n, h, w, classes)`` class activation maps.
    """

    logits: np.ndarray
    probabilities: np.ndarray
    features: np.ndarray
    cams: np.ndarray


class TfliteModel:
    """A bundle's ``model.tflite`` loaded in the LiteRT interpreter.

    Not thread-safe: one instance per worker thread.
    """

    def __init__(self, bundle: ModelBundle, *, num_threads: int | None = None) -> None:
        # Imported here so that merely importing the core stays instant.
        from ai_edge_litert.interpreter import Interpreter

        self.bundle = bundle
        threads = num_threads or max(1, min(4, os.cpu_count() or 1))
        try:
            self._interpreter = Interpreter(
                model_path=str(bundle.tflite_path), num_threads=threads
            )
            self._runner = self._interpreter.get_signature_runner(SIGNATURE)
        except (ValueError, RuntimeError) as error:
            raise ModelBundleError(
                bundle.tflite_path, f"LiteRT cannot load the model: {error}"
            ) from error
        details = self._runner.get_input_details()
        if INPUT_NAME not in details:
            raise ModelBundleError(
                bundle.tflite_path,
                f"model signature has inputs {sorted(details)}, expected {INPUT_NAME!r}",
            )
        outputs = set(self._runner.get_output_details())
        expected = {OUTPUT_LOGITS, OUTPUT_FEATURES, OUTPUT_CAM}
        if not expected <= outputs:
            raise ModelBundleError(
                bundle.tflite_path,
                f"model signature has outputs {sorted(outputs)}, expected {sorted(expected)}",
            )
        shape = tuple(int(v) for v in details[INPUT_NAME]["shape_signature"][1:])
        expected_shape = bundle.card.preprocessing.input_shape
        if shape != expected_shape:
            raise ModelBundleError(
                bundle.tflite_path,
                f"model input shape {shape} does not match the card's preprocessing "
                f"{expected_shape}",
            )
        self.temperature = bundle.card.temperature
        self.classes = list(bundle.card.classes)

    def run(self, batch: np.ndarray) -> RawOutputs:
        """Run a preprocessed batch ``(n, size, size, 1)`` float32 through the model."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.ndim != 4 or batch.shape[1:] != self.bundle.card.preprocessing.input_shape:
            raise ValueError(
                f"batch must have shape (n, *{self.bundle.card.preprocessing.input_shape}). "
                f"Received: {batch.shape}"
            )
        outputs = self._runner(**{INPUT_NAME: batch})
        logits = np.asarray(outputs[OUTPUT_LOGITS], dtype=np.float32)
        if logits.shape != (len(batch), len(self.classes)):
            raise ModelBundleError(
                self.bundle.tflite_path,
                f"model returned logits of shape {logits.shape} for {len(batch)} image(s) and "
                f"{len(self.classes)} classes",
            )
        return RawOutputs(
            logits=logits,
            probabilities=softmax(logits, self.temperature),
            features=np.asarray(outputs[OUTPUT_FEATURES], dtype=np.float32),
            cams=np.asarray(outputs[OUTPUT_CAM], dtype=np.float32),
        )
