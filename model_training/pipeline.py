"""Read → train → save → finalize: the one sequence behind ``train``, ``loso`` and the wizard.

What surrounds it differs and stays with the caller: the commands draw a progress bar and
print the test figures, ``loso`` holds one source out of the table, a multi-worker run lets
only the chief write, and the wizard can be cancelled between steps and removes a half-written
bundle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_training.config import TrainingConfig
from model_training.datasets import read_dataset
from model_training.finalize import finalize
from model_training.run_folder import save_run
from model_training.training import TrainingCancelled, TrainingResult, train

__all__ = ["TrainedModel", "read_train_finalize"]


@dataclass
class TrainedModel:
    """What :func:`read_train_finalize` made.

    Attributes:
        result: The training result.
        report: The finalized report (None: another worker writes the results).
    """

    result: TrainingResult
    report: dict[str, Any] | None


def read_train_finalize(
    data: str | Path,
    config: TrainingConfig,
    *,
    run_dir: Path,
    bundle_dir: Path,
    report_dir: Path | None,
    dataset_description: str,
    select: Callable[[Any], Any] | None = None,
    bootstrap_rounds: int = 1000,
    progress: Callable[[Any], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    log: Callable[[str], None] | None = None,
    writes_results: Callable[[TrainingResult], bool] | None = None,
) -> TrainedModel:
    """Read the dataset, train, save the run folder and finalize the bundle and report.

    Args:
        data: The dataset (any layout :func:`~model_training.datasets.read_dataset` reads).
        config: The training configuration.
        run_dir: Where the run folder is saved (:func:`~model_training.run_folder.save_run`).
        bundle_dir: The bundle folder :func:`~model_training.finalize.finalize` writes.
        report_dir: Where the report goes (None: inside the bundle folder).
        dataset_description: One paragraph for the card.
        select: Narrows the table before training (``loso`` holds a source out).
        bootstrap_rounds: Bootstrap resamples of the report's intervals.
        progress: Receives training progress.
        cancelled: Polled during training and between steps.
        log: Receives one line per step.
        writes_results: False for a worker that must not write (multi-worker runs).

    Raises:
        TrainingCancelled: If ``cancelled`` said so.
    """
    say = log or (lambda _line: None)
    stop = cancelled or (lambda: False)
    table = read_dataset(data, task=config.task)
    if select is not None:
        table = select(table)
    say(f"{len(table)} images of {config.task} read from {data}")
    result = train(config, table, progress=progress, cancelled=cancelled)
    say(f"best epoch {result.best_epoch} ({config.monitor} {result.best_value:.4f})")
    if result.dropped:
        say(f"{len(result.dropped)} unreadable file(s) were skipped")
    if stop():
        raise TrainingCancelled(len(result.epoch_seconds), result.history)
    if writes_results is not None and not writes_results(result):
        return TrainedModel(result, None)
    save_run(result, run_dir)
    say(f"trained model saved to {run_dir}")
    report = finalize(result, bundle_dir, report_dir=report_dir,
                      dataset_description=dataset_description,
                      bootstrap_rounds=bootstrap_rounds, log=say)
    if stop():
        raise TrainingCancelled(len(result.epoch_seconds), result.history)
    return TrainedModel(result, report)
