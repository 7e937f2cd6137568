"""The training loop's Keras callbacks: progress reports, cancelling, the best epoch.

:class:`TrainingProgress` is what the wizard and the command line receive; the callbacks are
built by :func:`make_callbacks` inside :func:`model_training.training.train` (Keras is
imported lazily, so the classes are made there too).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model_training.config import TrainingConfig

__all__ = ["ProgressFn", "SkipValidation", "TrainingProgress", "make_callbacks"]

_PROGRESS_INTERVAL_S = 0.5


class SkipValidation(Exception):  # noqa: N818 - control flow, not an error
    """Raised after a cancel so Keras does not run the epoch's validation pass first."""


@dataclass(frozen=True)
class TrainingProgress:
    """One progress report.

    Attributes:
        phase: ``"preprocessing"`` or ``"training"``.
        epoch: 1-based current epoch (0 while preprocessing).
        epochs: Planned epochs.
        batch: 1-based batch within the epoch (images done while preprocessing).
        batches: Batches per epoch (images in total while preprocessing).
        metrics: Latest metrics (``loss``, ``accuracy``, ``auroc``, ``val_*`` at epoch end).
        eta_seconds: Estimated seconds left for the phase (None until known).
    """

    phase: str
    epoch: int
    epochs: int
    batch: int
    batches: int
    metrics: dict[str, float] = field(default_factory=dict)
    eta_seconds: float | None = None


#: A receiver of progress reports.
ProgressFn = Callable[[TrainingProgress], None]


def make_callbacks(
    config: TrainingConfig,
    batches: int,
    progress: Callable[[TrainingProgress], None] | None,
    cancelled: Callable[[], bool] | None,
) -> tuple[Any, Any]:
    """Build the progress/cancel callback and the best-checkpoint callback."""
    return (_progress_callback(config, batches, progress, cancelled),
            _best_weights_callback(config))


def _eta(train_start: float, done: int, total: int) -> float | None:
    """Seconds left when ``done`` of ``total`` batches took the time since ``train_start``."""
    if done == 0:
        return None
    return (time.perf_counter() - train_start) / done * (total - done)


def _progress_callback(config: TrainingConfig, batches: int, progress: ProgressFn | None,
                       cancelled: Callable[[], bool] | None) -> Any:
    """The callback that reports progress and stops within one batch when cancelled."""
    import keras

    class ProgressAndCancel(keras.callbacks.Callback):
        """Reports progress (throttled) and stops within one batch when cancelled."""

        def __init__(self) -> None:
            super().__init__()
            self.cancelled = False
            self.epoch = 0
            self.epoch_start = 0.0
            self.epoch_seconds: list[float] = []
            self.last_report = 0.0
            self.train_start = 0.0
            self.batches_run = 0

        def _report(self, batch: int, logs: dict[str, Any] | None, eta_batch: int) -> None:
            metrics = {k: float(v) for k, v in (logs or {}).items()}
            done = len(self.epoch_seconds) * batches + eta_batch
            progress(TrainingProgress("training", self.epoch, config.epochs, batch, batches,
                                      metrics, _eta(self.train_start, done,
                                                    config.epochs * batches)))

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self.train_start = time.perf_counter()

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.epoch = epoch + 1
            self.epoch_start = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            self.batches_run += 1
            if cancelled is not None and cancelled():
                self.cancelled = True
                self.model.stop_training = True
                return
            now = time.perf_counter()
            if progress is not None and now - self.last_report >= _PROGRESS_INTERVAL_S:
                self.last_report = now
                self._report(batch + 1, logs, batch + 1)

        def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
            if self.cancelled:
                # Keras still evaluates after stop_training: seconds the user waits for nothing.
                raise SkipValidation

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.epoch_seconds.append(time.perf_counter() - self.epoch_start)
            if logs is not None:
                logs["lr"] = float(keras.ops.convert_to_numpy(
                    self.model.optimizer.learning_rate))
                logs["epoch_seconds"] = self.epoch_seconds[-1]
            if progress is not None:
                self._report(batches, logs, 0)
            if _reached_target_loss(config, logs):
                self.model.stop_training = True

    return ProgressAndCancel()


def _reached_target_loss(config: TrainingConfig, logs: dict[str, Any] | None) -> bool:
    """The seed's rule: stop as soon as the validation loss is low enough."""
    return bool(config.stop_at_val_loss is not None and logs
                and logs.get("val_loss", np.inf) < config.stop_at_val_loss)


def _best_weights_callback(config: TrainingConfig) -> Any:
    """The callback that keeps the best weights by ``config.monitor``; early stopping."""
    import keras

    class BestWeights(keras.callbacks.Callback):
        """Keeps the best weights by ``config.monitor`` in memory; early stopping."""

        def __init__(self) -> None:
            super().__init__()
            self.mode_max = config.monitor != "val_loss"
            self.best = -np.inf if self.mode_max else np.inf
            self.best_epoch = 0
            self.best_weights: list[Any] | None = None
            self.wait = 0

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            value = float((logs or {}).get(config.monitor, np.nan))
            better = value > self.best if self.mode_max else value < self.best
            if np.isfinite(value) and (better or self.best_weights is None):
                self.best, self.best_epoch, self.wait = value, epoch + 1, 0
                self.best_weights = self.model.get_weights()
            else:
                self.wait += 1
                if config.patience and self.wait >= config.patience:
                    self.model.stop_training = True

    return BestWeights()
