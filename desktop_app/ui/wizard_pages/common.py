"""What the wizard's pages share: page ids, the run's context, and small widget helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from desktop_app.core.model.model_store import ModelEntry, ModelStore
from desktop_app.ui.training_tasks import DatasetSummary, TrainingOutcome
from desktop_app.ui.training_worker import BackgroundTask

__all__ = ["Pages", "WizardContext", "set_status", "status_label"]

_LEVEL_COLOURS = {"info": "", "ok": "#1b7a2f", "warning": "#9a6700", "error": "#b00020"}


class Pages(IntEnum):
    """Page ids, in the order the clinic walks through them."""

    DATA = 0
    CHECK = 1
    SETTINGS = 2
    TRAINING = 3
    RESULTS = 4
    INSTALL = 5


@dataclass
class WizardContext:
    """The state one wizard run builds up, shared by its pages.

    Attributes:
        store: Where the model is installed.
        pool: The wizard's own thread pool (so closing can wait for its tasks only).
        min_images_per_class: Passed to the dataset check (None: model_training's default).
        bootstrap_rounds: Bootstrap resamples for the AUROC confidence intervals.
        run_root: Parent of the run folders (None: ``<user data>/runs``).
        summary: The readable dataset chosen on the Data page.
        report: The dataset check's report.
        config: The training configuration from the Settings page.
        outcome: The finished run (bundle, report, comparison).
        installed: The installed model.
        tasks: Background tasks still running (kept alive here).
    """

    store: ModelStore
    pool: QtCore.QThreadPool
    min_images_per_class: int | None = None
    bootstrap_rounds: int = 200
    run_root: Path | None = None
    summary: DatasetSummary | None = None
    report: Any = None
    config: Any = None
    outcome: TrainingOutcome | None = None
    installed: ModelEntry | None = None
    tasks: set[BackgroundTask] = field(default_factory=set)

    def start(self, task: BackgroundTask) -> BackgroundTask:
        """Run a task in the wizard's pool, keeping it alive until it finishes."""
        self.tasks.add(task)
        task.signals.finished.connect(lambda: self.tasks.discard(task))
        self.pool.start(task)
        return task

    def cancel_all(self) -> None:
        """Ask every running task to stop."""
        for task in list(self.tasks):
            task.cancel()


def status_label(accessible_name: str) -> QtWidgets.QLabel:
    """A word-wrapped, selectable label for status and explanations."""
    label = QtWidgets.QLabel()
    label.setWordWrap(True)
    label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse
                                  | QtCore.Qt.TextInteractionFlag.TextSelectableByKeyboard)
    label.setAccessibleName(accessible_name)
    return label


def set_status(label: QtWidgets.QLabel, text: str, level: str = "info") -> None:
    """Show ``text`` in ``label`` coloured by ``level`` (info, ok, warning, error)."""
    colour = _LEVEL_COLOURS.get(level, "")
    label.setStyleSheet(f"color: {colour};" if colour else "")
    label.setText(text)
    label.setAccessibleDescription(text)
