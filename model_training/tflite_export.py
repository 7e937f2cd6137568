"""Keras -> LiteRT conversion shared by every model LungLens ships.

The classifier, the view model and the lung segmenter are all exported the same way:
``keras.export.ExportArchive`` around the model, written as a SavedModel, converted with
``TFLiteConverter.from_saved_model``. The plainer routes (``from_concrete_functions``,
``tf.saved_model.save`` of a ``tf.Module``) produced NaN outputs with this TensorFlow version,
so there is one place that knows the route that works. TensorFlow is imported lazily.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["keras_to_tflite", "run_signature"]


def keras_to_tflite(
    tracked: Any,
    serve: Callable[[Any], dict[str, Any]],
    *,
    signature: str,
    input_name: str,
    input_size: int,
    representative: np.ndarray | None = None,
) -> bytes:
    """Convert ``serve`` (a function of one ``(n, s, s, 1)`` image batch) to a flatbuffer.

    Args:
        tracked: The Keras model whose variables ``serve`` uses.
        serve: Returns the signature's named outputs for an image batch.
        signature: Signature name in the flatbuffer.
        input_name: Name of the image input.
        input_size: Side of the square, one-channel input.
        representative: Preprocessed training images: when given, weights and activations
            are quantized to int8 with ranges from these images (input and outputs stay
            float32).

    Returns:
        The ``.tflite`` flatbuffer.
    """
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(tracked)
    archive.add_endpoint(
        signature, serve,
        input_signature=[tf.TensorSpec([None, input_size, input_size, 1], tf.float32,
                                       name=input_name)],
    )
    with tempfile.TemporaryDirectory(prefix="lunglens_export_") as folder:
        archive.write_out(folder, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        if representative is not None:
            samples = np.asarray(representative, dtype=np.float32)
            if samples.ndim == 3:
                samples = samples[..., None]
            if len(samples) == 0:
                raise ValueError("int8 quantization needs at least one representative image")
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: (
                {input_name: samples[index:index + 1]} for index in range(len(samples))
            )
        with warnings.catch_warnings():
            # The calibrator runs TensorFlow's own (deprecated) tf.lite.Interpreter inside
            # convert(); the warning is about TensorFlow's internals, not our use.
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            return converter.convert()


def run_signature(
    data: bytes, inputs: np.ndarray, *, signature: str, input_name: str,
    output_names: tuple[str, ...], batch_size: int = 256, num_threads: int = 2,
) -> dict[str, np.ndarray]:
    """Outputs of a flatbuffer for ``(n, s, s)`` or ``(n, s, s, 1)`` inputs.

    Runs the same LiteRT interpreter the app runs, before the model is written to its folder,
    so that metrics computed on the result are those of what ships.

    Returns:
        ``{name: array}`` for each of ``output_names``, concatenated over the batches.
    """
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=data, num_threads=num_threads) \
        .get_signature_runner(signature)
    images = np.asarray(inputs, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    out: dict[str, list[np.ndarray]] = {name: [] for name in output_names}
    for start in range(0, len(images), batch_size):
        result = runner(**{input_name: np.ascontiguousarray(images[start:start + batch_size])})
        for name in output_names:
            out[name].append(np.asarray(result[name]))
    return {name: np.concatenate(parts) for name, parts in out.items()}
