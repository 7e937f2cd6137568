"""Typed training configuration, saved as JSON next to the model (TF model garden style).

A model is only reproducible when every knob that shaped it is written down; the config is
stored in the run folder and in the model card's ``training_config`` section.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ARCHITECTURES",
    "AUGMENT_PRESETS",
    "CLASS_WEIGHTINGS",
    "QUANTIZATIONS",
    "TASKS",
    "TrainingConfig",
]

TASKS: tuple[str, ...] = ("3class", "covid-vs-normal")
ARCHITECTURES: tuple[str, ...] = ("compact", "seed-2020")
AUGMENT_PRESETS: tuple[str, ...] = ("default", "robust", "seed-2020", "none")
MONITORS: tuple[str, ...] = ("val_auroc", "val_loss", "val_accuracy")
QUANTIZATIONS: tuple[str, ...] = ("int8", "none")
CLASS_WEIGHTINGS: tuple[str, ...] = ("balanced", "class-source", "class-group", "none")


@dataclass
class TrainingConfig:
    """Everything that determines a training run.

    Attributes:
        task: ``"3class"`` (Normal / Pneumonia / COVID-19) or ``"covid-vs-normal"`` (the
            seed's binary task; pneumonia rows are dropped).
        arch: ``"compact"`` (default, CAM-capable, < 1 M parameters) or ``"seed-2020"``.
        input_size: Side of the square model input (recorded in the card's preprocessing).
        intensity: The preprocessing's intensity policy (``"percentile"`` windowing or
            ``"equalize"``; see :mod:`desktop_app.core.preprocessing`), recorded in the card.
        region: ``"image"`` (the whole film) or ``"lungs"`` (the lung box of the program's
            lung segmenter, :mod:`desktop_app.core.classify.lung_fields`), recorded in the card.
        lung_margin: Widening of the lung box on each side, as a share of its size.
        width: Channel multiplier of the ``compact`` architecture.
        epochs: Maximum number of epochs.
        batch_size: Images per batch.
        augment: Augmentation preset (``robust``, the default, which also erases file-format
            cues; ``default``; ``seed-2020``; ``none``). See docs/model_recipe.md for why.
        seed: Seed for splits, weights, shuffling and augmentation.
        optimizer: ``"adamw"`` or ``"adam"`` (the seed used Adam).
        learning_rate: Peak learning rate.
        weight_decay: AdamW decoupled weight decay.
        schedule: ``"cosine"`` (linear warm-up then cosine decay) or ``"constant"``.
        warmup_epochs: Epochs of linear warm-up (``cosine`` only).
        label_smoothing: Label smoothing of the cross-entropy; small values help calibration.
        dropout: Dropout before the linear head (``compact``).
        class_weighting: ``"balanced"`` (inverse class frequency sample weights),
            ``"class-source"`` (balanced classes, and within each class the sources weighted
            towards equal shares, square-root damped and capped at 5x; see
            :func:`model_training.training.sample_weights`), ``"class-group"`` (the same
            within each class over source x age group x view, which also balances the NIH
            views that differ by class; the default, see docs/model_recipe.md) or ``"none"``.
        monitor: Validation metric for the best checkpoint and early stopping.
        patience: Epochs without improvement before early stopping (0 disables it).
        stop_at_val_loss: Seed-style stop when ``val_loss`` falls below this value (None: off).
        val_fraction: Fraction of TRAIN patients carved out for validation.
        test_fraction: Fraction of patients held out for testing when the data has no
            ``Dataset_type`` split.
        cache_dir: Folder for the preprocessed-image cache (None: the user cache folder).
        strategy: ``None`` (one device), ``"mirrored"`` or ``"multi-worker"``.
        initial_model: Fine-tune: start from the weights of this ``model.keras`` (or a bundle
            folder holding one) instead of random ones. Architecture, width, input size and
            classes must match it.
        quantization: ``"none"`` (default): the LiteRT model is float32 and equals the Keras
            model within 1e-4, which the export verifies. ``"int8"``: int8 weights and
            activations (post-training, ranges from training images), float input and
            outputs; inference about a fifth cheaper and the file a third of the size, and
            calibration, the operating point, the OOD gate and every card metric are then
            computed on that int8 model (what the app runs), with its distance to Keras
            recorded in the card instead of the 1e-4 guarantee.
        target_sensitivity: Validation sensitivity the app's operating point aims at for
            COVID-19 and Pneumonia (each threshold is the highest that reaches it). 0.90, the
            adult COVID-19 sensitivity a clinic asked for: at 0.95 the thresholds fell to
            about 0.1-0.2 and bought 6 points of COVID-19 sensitivity with 4 points of adult
            specificity and 3 points of child accuracy (validation, 2026-12-01).
        max_false_covid: Specificity anchor (2026-12-06, docs/operating_point.md): the
            COVID-19 threshold is raised until at most this share of adult non-COVID
            validation films reach it. Thresholds set on in-collection validation alone
            labelled 86 % of held-out sources' adult non-COVID films COVID-19; 0.10 brought
            that to 24 % at 72 % COVID-19 found (leave-one-source-out). 0.15 since 2026-12-07:
            chosen by the criterion that counts every finding, 24 % at 79 % found.
            ``None``: no anchor.
        max_false_pneumonia: The same for Pneumonia on adult Normal films (applied to the
            adult thresholds only: a film of unknown age may be a child's).
        child_max_false_covid: COVID-19 anchor on children's non-COVID films (their own
            thresholds, used where the age is known).
        age_group_thresholds: Give the card ``by_age_group`` thresholds for adults and
            children (used where DICOM PatientAge or a data file's age says the group).
        adult_pneumonia: How the adults' Pneumonia threshold is chosen: ``anchor``
            (``max_false_pneumonia`` of adult normals; the rule of 2026-12-06, which found
            37.5 % of hidden adult pneumonias when the age was known), ``balanced`` (as many
            adult pneumonias found as adult normals spared; since 2026-12-07) or ``overall``
            (the all-ages one).
        child_pneumonia: The children's Pneumonia threshold: ``overall`` or ``accuracy``
            (the most children's validation films right).
    """

    task: str = "3class"
    arch: str = "compact"
    input_size: int = 224
    intensity: str = "percentile"
    region: str = "image"
    lung_margin: float = 0.12
    width: float = 1.0
    epochs: int = 30
    batch_size: int = 32
    augment: str = "robust"
    seed: int = 2026
    optimizer: str = "adamw"
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_epochs: int = 1
    label_smoothing: float = 0.05
    dropout: float = 0.2
    class_weighting: str = "class-group"
    monitor: str = "val_auroc"
    patience: int = 8
    stop_at_val_loss: float | None = None
    val_fraction: float = 0.15
    test_fraction: float = 0.2
    cache_dir: str | None = None
    strategy: str | None = None
    initial_model: str | None = None
    quantization: str = "none"
    target_sensitivity: float = 0.90
    max_false_covid: float | None = 0.15
    max_false_pneumonia: float | None = 0.15
    child_max_false_covid: float | None = 0.01
    age_group_thresholds: bool = True
    adult_pneumonia: str = "balanced"
    child_pneumonia: str = "overall"

    def __post_init__(self) -> None:
        checks: list[tuple[str, Any, tuple[Any, ...]]] = [
            ("task", self.task, TASKS),
            ("arch", self.arch, ARCHITECTURES),
            ("augment", self.augment, AUGMENT_PRESETS),
            ("intensity", self.intensity, ("percentile", "minmax", "equalize", "none")),
            ("region", self.region, ("image", "lungs")),
            ("monitor", self.monitor, MONITORS),
            ("optimizer", self.optimizer, ("adamw", "adam")),
            ("schedule", self.schedule, ("cosine", "constant")),
            ("class_weighting", self.class_weighting, CLASS_WEIGHTINGS),
            ("strategy", self.strategy, (None, "mirrored", "multi-worker")),
            ("quantization", self.quantization, QUANTIZATIONS),
            ("adult_pneumonia", self.adult_pneumonia, ("anchor", "balanced", "overall")),
            ("child_pneumonia", self.child_pneumonia, ("overall", "accuracy")),
        ]
        for name, value, allowed in checks:
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}. Received: {name}={value!r}")
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"epochs must be a positive integer. Received: {self.epochs!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(
                f"batch_size must be a positive integer. Received: {self.batch_size!r}"
            )
        if not isinstance(self.input_size, int) or not 16 <= self.input_size <= 1024:
            raise ValueError(
                f"input_size must be an integer from 16 to 1024. Received: {self.input_size!r}"
            )
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction must be in (0, 0.5). Received: {self.val_fraction!r}")
        if not 0.0 <= self.label_smoothing < 0.5:
            raise ValueError(
                f"label_smoothing must be in [0, 0.5). Received: {self.label_smoothing!r}"
            )
        if not 0.5 <= self.target_sensitivity < 1.0:
            raise ValueError(f"target_sensitivity must be in [0.5, 1). Received: "
                             f"{self.target_sensitivity!r}")
        for name in ("max_false_covid", "max_false_pneumonia", "child_max_false_covid"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1) or None. Received: {value!r}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0. Received: {self.learning_rate!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (stored in the model card's ``training_config``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingConfig:
        """Build a config from :meth:`to_dict` output.

        Raises:
            ValueError: If a key is unknown or a value invalid; the message names it.
        """
        known = {item.name for item in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training config field(s) {unknown}; known: {sorted(known)}")
        return cls(**dict(data))

    def save(self, path: Path | str) -> None:
        """Write the config as indented JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path | str) -> TrainingConfig:
        """Read a config written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
