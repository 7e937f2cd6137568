"""``train()``: one function from a dataset table to a trained Keras model.

It is an ordinary function with ``progress`` and ``cancelled`` callbacks (Orange3's
``run(data, state)`` pattern) so the wizard can run it in a worker thread, show progress and
stop it within one batch; the CLI runs the same function with a text progress bar.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from desktop_app.core.preprocessing import PreprocessingSpec
from model_training.config import TrainingConfig
from model_training.data_pipeline import PreprocessedSet, PreprocessingCancelled, load_preprocessed
from model_training.datasets import TASK_CLASSES
from model_training.training_callbacks import (
    ProgressFn,
    SkipValidation,
    TrainingProgress,
    make_callbacks,
)
from model_training.workers import multi_worker_fit

__all__ = [
    "TrainingCancelled",
    "TrainingProgress",
    "TrainingResult",
    "class_weights",
    "preprocessing_spec",
    "resolve_strategy",
    "sample_weights",
    "train",
    "weighting_groups",
]


class TrainingCancelled(Exception):  # noqa: N818 - the name the wizard expects
    """Raised by :func:`train` when ``cancelled()`` returned True.

    Attributes:
        epochs_completed: Full epochs finished before the cancel.
        history: Per-epoch metrics up to the cancel.
        batches_run: Training batches run in total (the cancel takes effect after the batch
            during which it was requested).
    """

    def __init__(self, epochs_completed: int, history: dict[str, list[float]],
                 batches_run: int = 0) -> None:
        self.epochs_completed = epochs_completed
        self.history = history
        self.batches_run = batches_run
        super().__init__(f"training was cancelled after {epochs_completed} complete epoch(s)")


@dataclass
class TrainingResult:
    """What :func:`train` returns.

    Attributes:
        model: The trained ``keras.Model`` (best-checkpoint weights restored).
        config: The configuration used.
        classes: Class names in output order.
        spec: The preprocessing spec the model was trained with.
        table: The dataset table with its ``subset`` column (train / val / test).
        images: Preprocessed arrays of ``table`` rows (same order).
        history: Per-epoch metrics (``loss``, ``accuracy``, ``auroc``, ``val_*``, ``lr``).
        best_epoch: 1-based epoch whose weights were kept.
        best_value: Its value of ``config.monitor``.
        epoch_seconds: Wall time of each epoch.
        dropped: ``{path: reason}`` of rows dropped because the loader refused the file.
    """

    model: Any
    config: TrainingConfig
    classes: list[str]
    spec: PreprocessingSpec
    table: pd.DataFrame
    images: PreprocessedSet
    history: dict[str, list[float]]
    best_epoch: int
    best_value: float
    epoch_seconds: list[float]
    dropped: dict[str, str] = field(default_factory=dict)

    def subset_mask(self, subset: str) -> np.ndarray:
        """Boolean row mask of ``subset`` (``train``, ``val`` or ``test``)."""
        return (self.table["subset"] == subset).to_numpy()

    def labels(self) -> np.ndarray:
        """Class index per row."""
        return self.table["label"].cat.codes.to_numpy().astype(np.int64)


def class_weights(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Balanced weights ``n / (k * count_c)`` per class (0 for absent classes)."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    weights = np.zeros(num_classes)
    present = counts > 0
    weights[present] = len(labels) / (present.sum() * counts[present])
    return weights


def sample_weights(
    labels: np.ndarray, sources: np.ndarray, num_classes: int, mode: str, *, cap: float = 5.0,
    groups: np.ndarray | None = None,
) -> np.ndarray | None:
    """Per-image loss weights.

    ``"balanced"`` gives every class the same total weight. ``"class-source"`` and
    ``"class-group"`` also raise the weight of rare groups within a class by
    ``sqrt(n_class / (n_groups * n_group))`` (capped at ``cap``); the group is the source
    (``class-source``) or ``groups`` (``class-group``: source x age group x view, built by
    :func:`weighting_groups`). On this data Normal and non-COVID Pneumonia are mostly
    children (Kermany) and adults from one hospital (NIH), COVID-19 only adults from other
    sources, and inside NIH the views differ by class: without re-weighting the few adult
    non-COVID films of other sources and the NIH PA normals are drowned out, and the network
    learns age, hospital and view instead of lungs. The group factors are rescaled to mean 1
    inside each class, so every class keeps its balanced share; the weights are normalised to
    mean 1.

    Returns:
        The weights, or None for ``"none"``.

    Raises:
        ValueError: For ``"class-group"`` without ``groups``.
    """
    if mode == "none":
        return None
    weights = class_weights(labels, num_classes)[labels]
    if mode in ("class-source", "class-group"):
        if mode == "class-group":
            if groups is None:
                raise ValueError("class_weighting 'class-group' needs the groups of the images")
            keys = np.asarray(groups).astype(str)
        else:
            keys = np.asarray(sources).astype(str)
        factor = np.ones(len(labels))
        for index in range(num_classes):
            in_class = labels == index
            names, counts = np.unique(keys[in_class], return_counts=True)
            for name, count in zip(names, counts, strict=True):
                value = np.sqrt(in_class.sum() / (len(names) * count))
                factor[in_class & (keys == name)] = min(cap, value)
            if in_class.any():
                # Re-weighting inside a class must not undo the balance between classes.
                factor[in_class] /= factor[in_class].mean()
        weights = weights * factor
    return weights / weights.mean()


def weighting_groups(table: pd.DataFrame) -> np.ndarray:
    """``source|age_group|view`` per row: the strata ``class-group`` weighting balances."""
    columns = [table["source"].astype(str)]
    for name in ("age_group", "view"):
        columns.append(table[name].astype(str) if name in table.columns
                       else pd.Series([""] * len(table), index=table.index))
    return (columns[0] + "|" + columns[1] + "|" + columns[2]).to_numpy()


def resolve_strategy(strategy: Any) -> Any:
    """Turn ``None``/``"mirrored"``/``"multi-worker"``/a strategy object into a strategy.

    Raises:
        ValueError: For an unknown name, quoting it.
    """
    import tensorflow as tf

    if strategy is None:
        return tf.distribute.get_strategy()
    if isinstance(strategy, str):
        if strategy == "mirrored":
            return tf.distribute.MirroredStrategy()
        if strategy == "multi-worker":
            return tf.distribute.MultiWorkerMirroredStrategy()
        raise ValueError(
            f"strategy must be 'mirrored', 'multi-worker' or None. Received: {strategy!r}"
        )
    return strategy


def _outside_workers(model: Any, strategy: Any, config: TrainingConfig, num_classes: int
                     ) -> Any:
    """The trained model as a plain one-process model when it was trained by several workers.

    A model built in a multi-worker scope runs ``predict`` and ``save`` as collective
    operations that wait for every worker; only the chief evaluates and exports, so each
    worker gets the agreed weights (:func:`model_training.workers.agreed_weights`) in a
    model of its own. Other strategies keep the model.
    """
    import tensorflow as tf

    from model_training.architectures import build_model
    from model_training.workers import agreed_weights

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return model
    plain = build_model(config.arch, config.input_size, num_classes, width=config.width,
                        dropout=config.dropout)
    plain.set_weights(agreed_weights(model, strategy))
    return plain


def load_initial_weights(model: Any, source: str | Path) -> None:
    """Copy the weights of a saved model into ``model`` (fine-tuning).

    Args:
        model: A freshly built model of the intended architecture.
        source: A ``model.keras`` file or a bundle folder containing one.

    Raises:
        ValueError: If the file is missing or its layers do not match ``model``'s (another
            architecture, width, input size or number of classes), naming both shapes.
    """
    import keras

    path = Path(source)
    if path.is_dir():
        path = path / "model.keras"
    if not path.is_file():
        raise ValueError(f"initial model {str(path)!r} does not exist")
    try:
        saved = keras.models.load_model(path, compile=False)
    except (OSError, ValueError, TypeError) as error:
        raise ValueError(f"initial model {str(path)!r} cannot be loaded: {error}") from error
    wanted = [tuple(w.shape) for w in model.get_weights()]
    found = [tuple(w.shape) for w in saved.get_weights()]
    if wanted != found:
        raise ValueError(
            f"initial model {str(path)!r} does not match the chosen settings: it has "
            f"{len(found)} weight tensors (input {saved.input_shape}, output "
            f"{saved.output_shape}), the new model {len(wanted)} (input {model.input_shape}, "
            f"output {model.output_shape}); use the same architecture, width, input size and "
            "task"
        )
    model.set_weights(saved.get_weights())


def preprocessing_spec(config: TrainingConfig) -> PreprocessingSpec:
    """The preprocessing a configuration asks for.

    ``region="lungs"`` names the program's lung segmenter (verified here), so the card says
    exactly which segmenter framed the training images.
    """
    if config.region == "image":
        return PreprocessingSpec(input_size=config.input_size, intensity=config.intensity)
    from desktop_app.core.classify.lung_fields import load_lung_segmenter

    segmenter = load_lung_segmenter()
    return PreprocessingSpec(input_size=config.input_size, intensity=config.intensity,
                             region="lungs", lung_segmenter=segmenter.card.model_id,
                             lung_margin=config.lung_margin)


def train(
    config: TrainingConfig,
    dataset_table: pd.DataFrame,
    *,
    progress: Callable[[TrainingProgress], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    strategy: Any = None,
    spec: PreprocessingSpec | None = None,
) -> TrainingResult:
    """Train a model on the ``train`` subset, selecting the best epoch on ``val``.

    Args:
        config: The configuration.
        dataset_table: A table from :func:`model_training.datasets.read_dataset`; a
            ``subset`` column is added by :func:`model_training.splits.assign_subsets` when
            absent (patient-level, seeded).
        progress: Receives a :class:`TrainingProgress` per preprocessed image batch, at most
            every 0.5 s per training batch, and at each epoch end.
        cancelled: Polled before every image while preprocessing and after every batch while
            training; returning True stops within one batch.
        strategy: ``tf.distribute`` strategy, or ``"mirrored"``/``"multi-worker"``;
            default ``config.strategy`` (one device when None).
        spec: Preprocessing spec; default :func:`preprocessing_spec` of ``config``.

    Returns:
        The trained model and everything needed to evaluate and export it.

    Raises:
        TrainingCancelled: If ``cancelled()`` returned True.
        ValueError: If a subset lacks a class or the table is empty, naming it.
    """
    # Before any TensorFlow op: a multi-worker strategy configures the collective ops of
    # the process and fails once the eager context exists ("must be configured at program
    # startup").
    strategy = resolve_strategy(strategy if strategy is not None else config.strategy)
    classes = list(TASK_CLASSES[config.task])
    spec = spec or preprocessing_spec(config)
    if spec.input_size != config.input_size:
        raise ValueError(f"spec.input_size {spec.input_size!r} differs from "
                         f"config.input_size {config.input_size!r}")
    table = _task_table(dataset_table, classes, config)
    table, images, dropped = _preprocessed(table, spec, config, progress, cancelled)
    labels = table["label"].cat.codes.to_numpy().astype(np.int64)
    train_mask = (table["subset"] == "train").to_numpy()
    val_mask = (table["subset"] == "val").to_numpy()
    _check_subsets(labels, {"train": train_mask, "val": val_mask}, classes)
    train_ds, val_ds, batches = _datasets(images.arrays, labels, table, train_mask, val_mask,
                                          config, len(classes))
    with strategy.scope():
        model = _compiled_model(config, batches, len(classes))
    reporter, best = make_callbacks(config, batches, progress, cancelled)
    history = _fit(model, strategy, train_ds, val_ds, config, reporter, best)
    if best.best_weights is not None:
        model.set_weights(best.best_weights)
    model = _outside_workers(model, strategy, config, len(classes))
    return TrainingResult(
        model=model, config=config, classes=classes, spec=spec, table=table, images=images,
        history=history, best_epoch=best.best_epoch, best_value=float(best.best),
        epoch_seconds=list(reporter.epoch_seconds), dropped=dropped,
    )


def _task_table(dataset_table: pd.DataFrame, classes: list[str],
                config: TrainingConfig) -> pd.DataFrame:
    """The task's rows, labels as ordered categories, with a patient-level ``subset``."""
    from model_training.splits import assign_subsets

    table = dataset_table[dataset_table["label"].astype(str).isin(classes)].copy()
    table["label"] = pd.Categorical(table["label"].astype(str), categories=classes)
    if "subset" not in table.columns:
        table = assign_subsets(table, val_fraction=config.val_fraction,
                               test_fraction=config.test_fraction, seed=config.seed)
    return table.reset_index(drop=True)


def _preprocessed(
    table: pd.DataFrame,
    spec: PreprocessingSpec,
    config: TrainingConfig,
    progress: ProgressFn | None,
    cancelled: Callable[[], bool] | None,
) -> tuple[pd.DataFrame, PreprocessedSet, dict[str, str]]:
    """Preprocess every image; drop the rows that could not be read (path -> reason)."""

    def report_images(done: int, total: int) -> None:
        if progress is not None and (done == total or done % 32 == 0):
            progress(TrainingProgress("preprocessing", 0, config.epochs, done, total))

    try:
        images = load_preprocessed(
            table["path"].tolist(), spec, cache_dir=config.cache_dir,
            progress=report_images, cancelled=cancelled,
        )
    except PreprocessingCancelled:
        raise TrainingCancelled(0, {}) from None
    dropped = {table.at[i, "path"]: reason for i, reason in images.errors.items()}
    if dropped:
        keep = np.ones(len(table), dtype=bool)
        keep[list(images.errors)] = False
        table = table.loc[keep].reset_index(drop=True)
        images = PreprocessedSet(
            arrays=images.arrays[keep],
            pixel_sha1=[h for h, k in zip(images.pixel_sha1, keep, strict=True) if k],
            file_sha1=[h for h, k in zip(images.file_sha1, keep, strict=True) if k],
            stats=[s for s, k in zip(images.stats, keep, strict=True) if k],
        )
    return table, images, dropped


def _check_subsets(labels: np.ndarray, masks: dict[str, np.ndarray],
                   classes: list[str]) -> None:
    """Raise ValueError naming the first subset that lacks a class."""
    for name, mask in masks.items():
        present = set(labels[mask].tolist())
        missing = [c for i, c in enumerate(classes) if i not in present]
        if missing:
            raise ValueError(f"the {name} subset has no images of class(es) {missing}")


def _datasets(arrays: np.ndarray, labels: np.ndarray, table: pd.DataFrame,
              train_mask: np.ndarray, val_mask: np.ndarray, config: TrainingConfig,
              num_classes: int) -> tuple[Any, Any, int]:
    """Seed Keras; the weighted, augmented training set, the validation set, batches/epoch."""
    import keras

    from model_training.augmentation import get_preset
    from model_training.data_pipeline import make_dataset

    keras.utils.set_random_seed(config.seed)
    weights = sample_weights(labels[train_mask],
                             table.loc[train_mask, "source"].astype(str).to_numpy(),
                             num_classes, config.class_weighting,
                             groups=weighting_groups(table.loc[train_mask]))
    train_ds = make_dataset(
        arrays[train_mask], labels[train_mask], num_classes,
        batch_size=config.batch_size, shuffle=True, augment=get_preset(config.augment),
        sample_weights=weights, seed=config.seed,
    )
    val_ds = make_dataset(arrays[val_mask], labels[val_mask], num_classes,
                          batch_size=config.batch_size)
    return train_ds, val_ds, int(np.ceil(train_mask.sum() / config.batch_size))


def _compiled_model(config: TrainingConfig, batches: int, num_classes: int) -> Any:
    """The model (initial weights loaded) compiled with the configured optimizer and loss."""
    import keras

    from model_training.architectures import build_model

    model = build_model(config.arch, config.input_size, num_classes,
                        width=config.width, dropout=config.dropout)
    if config.initial_model:
        load_initial_weights(model, config.initial_model)
    learning_rate = _learning_rate(config, batches * config.epochs, batches)
    if config.optimizer == "adamw":
        optimizer = keras.optimizers.AdamW(learning_rate=learning_rate,
                                           weight_decay=config.weight_decay)
    else:
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=config.label_smoothing),
        metrics=[
            keras.metrics.CategoricalAccuracy(name="accuracy"),
            keras.metrics.AUC(multi_label=True, num_labels=num_classes,
                              from_logits=True, name="auroc"),
        ],
    )
    return model


def _learning_rate(config: TrainingConfig, total_steps: int, batches: int) -> Any:
    """A constant rate, or a warm-up then cosine decay (``config.schedule == "cosine"``)."""
    import keras

    if config.schedule != "cosine":
        return config.learning_rate
    warmup = min(batches * config.warmup_epochs, total_steps - 1)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate * 0.1,
        decay_steps=max(1, total_steps - warmup),
        warmup_target=config.learning_rate, warmup_steps=warmup, alpha=0.01,
    )


def _fit(model: Any, strategy: Any, train_ds: Any, val_ds: Any, config: TrainingConfig,
         reporter: Any, best: Any) -> dict[str, list[float]]:
    """Run ``model.fit``; the history, or TrainingCancelled with the epochs completed."""
    try:
        with multi_worker_fit(model, strategy, train_ds):
            fit = model.fit(train_ds, validation_data=val_ds, epochs=config.epochs,
                            callbacks=[reporter, best], shuffle=False, verbose=0)
    except SkipValidation:
        fit = None
    raw_history = fit.history if fit is not None else \
        getattr(getattr(model, "history", None), "history", {})
    history = {k: [float(v) for v in values] for k, values in raw_history.items()}
    if reporter.cancelled:
        completed = len(reporter.epoch_seconds)
        if fit is not None:
            completed -= 1  # the interrupted epoch still reached on_epoch_end
        raise TrainingCancelled(max(0, completed), history, reporter.batches_run)
    return history
