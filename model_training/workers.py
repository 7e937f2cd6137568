"""Which training process writes: the chief of a multi-worker run, or the only process.

``--strategy multi-worker`` runs the same command on every machine, each with its own
``TF_CONFIG`` (TensorFlow's cluster description). Every worker trains the same model in step
(gradients are summed across workers each batch), so they finish with the same weights; only
the chief writes the run folder, the bundle and the report, or two machines sharing a folder
would write over each other. Every worker prints its weights' sha256 so an operator can see
that they agree.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = ["agreed_weights", "is_chief", "multi_worker_fit", "weights_sha256", "worker_name"]


def _task(tf_config: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(cluster, task)`` of ``TF_CONFIG`` (empty when there is none)."""
    raw = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    if not raw.strip():
        return {}, {}
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not JSON ({error}). Received: {raw!r}") from None
    if not isinstance(config, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object. Received: {raw!r}")
    return dict(config.get("cluster") or {}), dict(config.get("task") or {})


def is_chief(tf_config: str | None = None) -> bool:
    """True for the process that writes the results: the chief, else worker 0, else alone.

    TensorFlow's rule: a cluster with a ``chief`` task has it as chief; without one, worker
    index 0 is the chief. Without ``TF_CONFIG`` (one machine) the process is the chief.

    Args:
        tf_config: A ``TF_CONFIG`` value; None reads the environment variable.

    Raises:
        ValueError: If ``TF_CONFIG`` is not a JSON object, quoting it.
    """
    cluster, task = _task(tf_config)
    if not task:
        return True
    kind, index = str(task.get("type", "")), int(task.get("index", 0))
    if "chief" in cluster:
        return kind == "chief"
    return kind == "worker" and index == 0


def worker_name(tf_config: str | None = None) -> str:
    """``"worker 1"``, ``"chief 0"``; ``"single process"`` without ``TF_CONFIG``."""
    _, task = _task(tf_config)
    if not task:
        return "single process"
    return f"{task.get('type', '?')} {task.get('index', 0)}"


def weights_sha256(model: Any, salt: bytes = b"") -> str:
    """sha256 (hex) of ``salt`` then every weight array's bytes, in the model's order."""
    digest = hashlib.sha256(salt)
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()


@contextmanager
def multi_worker_fit(model: Any, strategy: Any, dataset: Any) -> Iterator[None]:
    """Around ``model.fit`` under ``MultiWorkerMirroredStrategy``: Keras 3's two gaps closed.

    Keras 3 (3.15 here; reported against TF 2.16-2.18 as tensorflow/tensorflow#72388, and
    ray-project/ray#47464) cannot ``fit`` with this strategy:

    1. ``fit`` first reduces the first distributed batch across workers to learn its shapes,
       with a ``strategy.reduce`` this strategy cannot apply to an ``(images, labels,
       weights)`` tuple: "Attempt to convert a value (PerReplica:{...}) with an unsupported
       type ... to a Tensor". Shapes are all it needs, so the model is built from one local
       batch and that probe skipped (an attribute of this model instance only).
    2. Every step averages its logs (loss, metrics: scalars) across workers along axis 0:
       "Invalid reduction dimension 0 for input with 0 dimensions". They are averaged as
       scalars instead, so every worker sees the same logs and takes the same decisions
       (best epoch, early stop), for the duration of this ``fit`` only.

    Other strategies: nothing changes.
    """
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        yield
        return
    from keras.src.backend.tensorflow import trainer as tf_trainer

    batch = next(iter(dataset.take(1)))
    with strategy.scope():
        model._symbolic_build(data_batch=batch)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    keras_reduce = tf_trainer.reduce_per_replica

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        if reduction not in ("auto", "mean"):
            return keras_reduce(values, strategy, reduction)
        return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)

    tf_trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        tf_trainer.reduce_per_replica = keras_reduce


def agreed_weights(model: Any, strategy: Any) -> list[np.ndarray]:
    """The model's weights, the same on every worker: moving statistics averaged across them.

    Gradients are summed across workers, so trainable weights agree exactly; Keras 3's batch
    normalisation updates its moving mean and variance from each worker's own batches (a
    two-worker run measured differences up to 0.58). Averaging them over the workers gives
    every worker the same model, with statistics of all the data. Every worker must call
    this (a collective operation), in the same order.
    """
    import tensorflow as tf

    agreed = []
    for variable in model.weights:
        value = np.asarray(variable.numpy())
        if not variable.trainable:
            value = strategy.reduce("MEAN", tf.constant(value), axis=None).numpy()
        agreed.append(value)
    return agreed
