"""Page 3 — Settings: architecture, task, epochs... and a measured training-time estimate."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import partial
from types import SimpleNamespace
from typing import Any

from PySide6 import QtCore, QtWidgets

from desktop_app.core.errors import LungLensError
from desktop_app.ui.training_tasks import (
    SpeedMeasurement,
    estimate_training_seconds,
    expected_subset_sizes,
    measure_training_speed,
)
from desktop_app.ui.training_worker import BackgroundTask
from desktop_app.ui.wizard_pages.common import WizardContext, set_status, status_label

__all__ = ["SettingsPage", "format_duration"]

#: The settings a fine-tuned model must share with the model it starts from.
_FINE_TUNE_KEYS = ("arch", "task", "input_size", "width", "intensity", "region", "lung_margin")
#: What cards written before a setting existed trained with.
_FINE_TUNE_FALLBACK = {"intensity": "percentile", "region": "image", "lung_margin": 0.12}
_ARCHITECTURES = (
    ("compact", "Compact CNN (recommended: fast, heat maps)"),
    ("seed-2020", "2020 seed network (for comparison; no heat maps)"),
)
_TASKS = (("3class", "Normal / Pneumonia / COVID-19"), ("covid-vs-normal", "COVID-19 vs Normal"))
_AUGMENT = (
    ("robust", "Robust (also varies sharpness, noise, resolution and JPEG quality, so the "
               "model cannot tell hospitals apart by their files)"),
    ("default", "Default (small shifts, rotations, contrast)"),
    ("seed-2020", "As in the 2020 seed"),
    ("none", "None"),
)


_FALLBACK_DEFAULTS = {"task": "3class", "arch": "compact", "input_size": 224, "width": 1.0,
                      "epochs": 30, "batch_size": 32, "augment": "robust", "seed": 2026}


def format_duration(seconds: float) -> str:
    """``"about 12 min"``-style text."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def _combo(items: tuple[tuple[str, str], ...], name: str) -> QtWidgets.QComboBox:
    combo = QtWidgets.QComboBox()
    for value, text in items:
        combo.addItem(text, value)
    combo.setAccessibleName(name)
    return combo


def _spin(low: int, high: int, value: int, name: str, step: int = 1) -> QtWidgets.QSpinBox:
    spin = QtWidgets.QSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setValue(value)
    spin.setAccessibleName(name)
    return spin


class SettingsPage(QtWidgets.QWizardPage):
    """Training settings; builds the :class:`~model_training.config.TrainingConfig`.

    The estimate is measured, not guessed: a worker builds the chosen architecture and times
    a few training steps on random data of the chosen batch and input size (re-measured when
    those change), then scales by the number of batches the split will give.

    Signals:
        estimate_measured(float): Seconds per training batch measured on this computer.
    """

    estimate_measured = QtCore.Signal(float)

    def __init__(self, context: WizardContext,
                 defaults: Mapping[str, Any] | None = None, *,
                 measure_speed: bool = True) -> None:
        """Create the page.

        Args:
            context: The wizard's shared state.
            defaults: ``TrainingConfig`` fields to start from (a site's preset; tests use
                tiny values). Fields without a widget (learning rate...) pass through.
            measure_speed: Measure automatically when the page is shown.
        """
        super().__init__()
        self._context = context
        self._measure_speed = measure_speed
        stock = self._load_defaults(defaults)
        self._measure: BackgroundTask | None = None
        self._speed: SpeedMeasurement | None = None
        self._measured_key: tuple[Any, ...] | None = None
        self.setTitle("Training settings")
        self.setSubTitle("The defaults suit most clinics; training runs on this computer.")
        self.setButtonText(QtWidgets.QWizard.WizardButton.NextButton, "&Start Training")

        self._make_basic_settings()
        self._make_advanced(stock)
        for combo, value in ((self.arch_combo, self._defaults.arch),
                             (self.task_combo, self._defaults.task),
                             (self.augment_combo, self._defaults.augment)):
            combo.setCurrentIndex(max(0, combo.findData(value)))

        estimate_row = self._make_estimate_row()
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(self._basic_form())
        layout.addWidget(self.advanced)
        layout.addLayout(estimate_row)
        layout.addWidget(self.error)
        layout.addStretch(1)

        self._remeasure = QtCore.QTimer(self)
        self._remeasure.setSingleShot(True)
        self._remeasure.setInterval(700)
        self._connect()

    def _load_defaults(self, defaults: Mapping[str, Any] | None) -> Any:
        """Set ``self._defaults`` from ``defaults``; the stock settings (for "advanced")."""
        try:
            from model_training.config import TrainingConfig
        except ImportError:
            # Classify-only build: the Data page already says training is unavailable and
            # nobody gets here; the page must still be constructible.
            stock = self._defaults = SimpleNamespace(**_FALLBACK_DEFAULTS)
        else:
            self._defaults = TrainingConfig(**dict(defaults or {}))
            stock = TrainingConfig()
        return stock

    def _make_basic_settings(self) -> None:
        """Architecture, task, epochs, batch size, augmentation, fine-tuning and seed."""
        self.arch_combo = _combo(_ARCHITECTURES, "Architecture")
        self.task_combo = _combo(_TASKS, "Task")
        self.epochs_spin = _spin(1, 500, self._defaults.epochs, "Epochs")
        self.epochs_spin.setToolTip("Maximum passes over the training images; training stops "
                                    "earlier when validation stops improving.")
        self.batch_spin = _spin(1, 512, self._defaults.batch_size, "Batch size")
        self.augment_combo = _combo(_AUGMENT, "Augmentation")
        self.fine_tune_check = QtWidgets.QCheckBox("Start from the &current model")
        self.fine_tune_check.setAccessibleName("Start from the current model (fine-tune)")
        self.fine_tune_check.setEnabled(False)
        # (model.keras path, the card's training settings) of the active model, when usable.
        self._fine_tune_source: tuple[str, dict[str, Any]] | None = None
        self.seed_spin = _spin(0, 2**31 - 1, self._defaults.seed, "Random seed")
        self.seed_spin.setToolTip("Same data, settings and seed give the same split and model.")

    def _basic_form(self) -> QtWidgets.QFormLayout:
        form = QtWidgets.QFormLayout()
        form.addRow("&Architecture:", self.arch_combo)
        form.addRow("&Task:", self.task_combo)
        form.addRow("&Epochs:", self.epochs_spin)
        form.addRow("&Batch size:", self.batch_spin)
        form.addRow("A&ugmentation:", self.augment_combo)
        form.addRow("", self.fine_tune_check)
        form.addRow("&Seed:", self.seed_spin)
        return form

    def _make_advanced(self, stock: Any) -> None:
        """The advanced group (input size, width), open when the defaults change them."""
        self.advanced = QtWidgets.QGroupBox("A&dvanced")
        self.advanced.setCheckable(True)
        self.advanced.setChecked((self._defaults.input_size, self._defaults.width)
                                 != (stock.input_size, stock.width))
        self.advanced.setAccessibleName("Advanced settings")
        self.input_spin = _spin(16, 1024, self._defaults.input_size, "Input size in pixels", 16)
        self.width_spin = QtWidgets.QDoubleSpinBox()
        self.width_spin.setRange(0.125, 4.0)
        self.width_spin.setSingleStep(0.125)
        self.width_spin.setValue(self._defaults.width)
        self.width_spin.setAccessibleName("Channel width multiplier")
        self.width_spin.setToolTip("Compact architecture only: fewer channels train faster.")
        advanced_form = QtWidgets.QFormLayout(self.advanced)
        advanced_form.addRow("&Input size (px):", self.input_spin)
        advanced_form.addRow("&Width multiplier:", self.width_spin)

    def _make_estimate_row(self) -> QtWidgets.QHBoxLayout:
        """The training-time estimate with its measure button; the settings error."""
        self.estimate = status_label("Estimated training time")
        self.measure_button = QtWidgets.QPushButton("&Measure Again")
        self.measure_button.setAccessibleName("Measure the training speed again")
        estimate_row = QtWidgets.QHBoxLayout()
        estimate_row.addWidget(self.estimate, 1)
        estimate_row.addWidget(self.measure_button, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        self.error = status_label("Settings error")
        return estimate_row

    def _connect(self) -> None:
        for widget in (self.arch_combo, self.task_combo, self.augment_combo):
            widget.currentIndexChanged.connect(self._on_setting_changed)
        for widget in (self.epochs_spin, self.batch_spin, self.input_spin, self.seed_spin):
            widget.valueChanged.connect(self._on_setting_changed)
        self.width_spin.valueChanged.connect(self._on_setting_changed)
        self.advanced.toggled.connect(self._on_setting_changed)
        self.fine_tune_check.toggled.connect(self._on_fine_tune_check_toggled)
        self._remeasure.timeout.connect(self._on_remeasure_timeout)
        self.measure_button.clicked.connect(self._on_measure_button_clicked)

    # -- configuration --------------------------------------------------------------------------

    def config(self) -> Any:
        """The :class:`TrainingConfig` of the current settings.

        Raises:
            ValueError: From ``TrainingConfig`` validation, naming the bad value.
        """
        advanced = self.advanced.isChecked()
        fine_tune = {}
        if self.fine_tune_check.isChecked() and self._fine_tune_source is not None:
            keras_path, settings = self._fine_tune_source
            fine_tune = {**settings, "initial_model": keras_path}
        values = {
            "task": self.task_combo.currentData(),
            "arch": self.arch_combo.currentData(),
            "input_size": self.input_spin.value() if advanced else self._defaults.input_size,
            "width": self.width_spin.value() if advanced else self._defaults.width,
            "epochs": self.epochs_spin.value(),
            "batch_size": self.batch_spin.value(),
            "augment": self.augment_combo.currentData(),
            "seed": self.seed_spin.value(),
        }
        # Fine-tuning keeps the starting model's architecture, task, input size, width and
        # preprocessing (intensity, lung framing): its weights were trained on that input.
        return dataclasses.replace(self._defaults, **{**values, **fine_tune})

    def _find_fine_tune_source(self) -> None:
        """Offer fine-tuning when the active model has a ``model.keras`` and its settings."""
        self._fine_tune_source = None
        reason = "The active model cannot be fine-tuned"
        try:
            bundle = self._context.store.active().bundle
        except LungLensError as error:
            reason += f": {error}"
        else:
            recorded = bundle.card.training_config
            settings = {key: recorded.get(key, _FINE_TUNE_FALLBACK.get(key))
                        for key in _FINE_TUNE_KEYS}
            if not bundle.keras_path.is_file():
                reason += f": {bundle.model_id!r} ships without model.keras"
            elif None in settings.values():
                missing = sorted(key for key, value in settings.items() if value is None)
                reason += f": its card does not record {missing}"
            else:
                self._fine_tune_source = (str(bundle.keras_path), settings)
                reason = (f"Continue training {bundle.model_id!r} on these images; its "
                          f"architecture ({settings['arch']}), task ({settings['task']}), "
                          f"input size ({settings['input_size']} px) and width are kept.")
        self.fine_tune_check.setEnabled(self._fine_tune_source is not None)
        if self._fine_tune_source is None:
            self.fine_tune_check.setChecked(False)
        self.fine_tune_check.setToolTip(reason)
        self.fine_tune_check.setAccessibleDescription(reason)

    def _on_fine_tune_check_toggled(self, checked: bool) -> None:
        if checked and self._fine_tune_source is not None:
            settings = self._fine_tune_source[1]
            self.arch_combo.setCurrentIndex(max(0, self.arch_combo.findData(settings["arch"])))
            self.task_combo.setCurrentIndex(max(0, self.task_combo.findData(settings["task"])))
            self.input_spin.setValue(int(settings["input_size"]))
            self.width_spin.setValue(float(settings["width"]))
        for widget in (self.arch_combo, self.task_combo, self.advanced):
            widget.setEnabled(not checked)
        self._on_setting_changed()

    def initializePage(self) -> None:
        """Suggest the task the data supports and measure the speed."""
        self._find_fine_tune_source()
        summary = self._context.summary
        if summary is not None:
            suggested = summary.suggested_task()
            self.task_combo.setCurrentIndex(self.task_combo.findData(suggested))
            # Three classes need pneumonia images; the model would never see one otherwise.
            item = self.task_combo.model().item(self.task_combo.findData("3class"))
            item.setEnabled(suggested == "3class")
        if self._measure_speed:
            self.start_measurement()
        else:
            set_status(self.estimate, "Press “Measure Again” for an estimate of the training "
                                      "time.")

    def cleanupPage(self) -> None:
        """Going back: stop measuring."""
        if self._measure is not None:
            self._measure.cancel()

    def validatePage(self) -> bool:
        """Build the configuration; refuse invalid settings with a message."""
        try:
            config = self.config()
        except ValueError as error:
            set_status(self.error, f"These settings cannot be used: {error}", "error")
            return False
        set_status(self.error, "")
        if self._measure is not None:
            self._measure.cancel()  # free the CPU for the real run
        self._context.config = config
        return True

    # -- estimate -------------------------------------------------------------------------------

    @property
    def seconds_per_batch(self) -> float | None:
        """The last measurement, or None."""
        return self._speed.seconds_per_batch if self._speed is not None else None

    def _measure_key(self, config: Any) -> tuple[Any, ...]:
        return (config.arch, config.input_size, config.batch_size, config.width, config.task)

    def start_measurement(self) -> None:
        """Time a few batches of the chosen model in a worker (TensorFlow loads there)."""
        try:
            config = self.config()
        except ValueError as error:
            set_status(self.estimate, f"No estimate: {error}", "warning")
            return
        self._remeasure.stop()
        if self._measure is not None:
            self._measure.cancel()
        from model_training.datasets import TASK_CLASSES

        classes = len(TASK_CLASSES[config.task])
        set_status(self.estimate, "Measuring the training speed on this computer… (the first "
                                  "time loads TensorFlow, which takes a few seconds)")
        task = BackgroundTask(
            lambda state: measure_training_speed(config, classes, cancelled=state.is_cancelled))
        self._measure = task
        self._measured_key = self._measure_key(config)
        task.signals.succeeded.connect(partial(self._on_measure_succeeded, task))
        task.signals.failed.connect(partial(self._on_measure_failed, task))
        self._context.start(task)

    def _show_estimate(self) -> None:
        summary = self._context.summary
        if self._speed is None or summary is None:
            return
        try:
            config = self.config()
        except ValueError:
            return
        train, val = expected_subset_sizes(summary, config.task, config)
        seconds = estimate_training_seconds(self._speed, train, val, config.batch_size,
                                            config.epochs)
        set_status(self.estimate, (
            f"Estimated training time: {format_duration(seconds)} for {config.epochs} epoch(s) "
            f"of about {train} training images, measured on this computer: "
            f"{self._speed.seconds_per_batch:.2f} s per batch of {config.batch_size}, "
            f"{self._speed.startup_seconds:.0f} s to build the model. Early stopping may end "
            "sooner; reading the images the first time and the final evaluation add to it."),
            "info")

    def _on_measure_succeeded(self, task: BackgroundTask, speed: SpeedMeasurement) -> None:
        if task is not self._measure:
            return
        self._speed = speed
        self._show_estimate()
        self.estimate_measured.emit(speed.seconds_per_batch)

    def _on_measure_failed(self, task: BackgroundTask, error: BaseException) -> None:
        if task is self._measure:
            set_status(self.estimate, f"The training speed could not be measured: {error}",
                       "warning")

    # -- slots ----------------------------------------------------------------------------------

    def _on_setting_changed(self, *_args: object) -> None:
        try:
            key = self._measure_key(self.config())
        except ValueError:
            return
        if key != self._measured_key:
            self._remeasure.start()
        else:
            self._show_estimate()

    def _on_remeasure_timeout(self) -> None:
        if self.isVisible() and self._measure_speed:
            self.start_measurement()

    def _on_measure_button_clicked(self) -> None:
        self.start_measurement()
