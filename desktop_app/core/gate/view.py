"""The view check: a small model of its own that answers "is this a frontal chest film?".

The classifier is trained on frontal (PA/AP) films only, and the appearance and feature checks
learn what a frontal film looks like from the classifier's training images: a real lateral
film, the most common wrong input in a clinic (every chest series has one), passed them too
often, and so did CT slices. The view model was trained on purpose with real lateral films,
real CT, MR and ultrasound images, paper figures, viewer screenshots, CT scout views,
light-box photos, films turned by 90°, crops and other images
(``model_training/view_model.py``, ``docs/view_check.md``).

It ships in ``resources/view_model/`` with its own card (``view_card.json``), separately from
the classifier: a model retrained in the wizard keeps the same view check. Loading verifies
the sha256 of its ``.tflite`` like :func:`desktop_app.core.model.model_bundle.load_bundle` does for
the classifier, so a damaged installation is refused with a message.

Its input is small (48 px, min-max intensity: percentiles cost more than the rest of the
input together) and is made by the one shared
:func:`desktop_app.core.preprocessing.preprocess` with the card's own spec, after a cheap
strided subsample of the loaded image (:func:`view_input`), so that it adds about 0.3 ms of
core time per image to the classify path (``benchmarks/view_check.py``).

A card may hold ``confident_frontal_probability`` (at least the caution threshold): at or
above it the view check vouches for the film, and a distance check's refusal becomes a
caution by the gate's agreement rule (:func:`desktop_app.core.gate.gate.agreement`). Since
2026-12-07 the caution threshold is as high (the view check either vouches for a film or is
not sure of it) wherever the unseen frontal films allow it.

A card may hold ``caution_frontal_probability`` (at least ``min_frontal_probability``, at most
1): a film whose frontal probability lies between the two is labelled with a caution ("the
view check is not sure this is a whole frontal film") instead of refused; below
``min_frontal_probability`` it is refused as before. Without it there is no caution tier.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.errors import ModelBundleError
from desktop_app.core.gate.verdict import OodVerdict
from desktop_app.core.litert.file_hashes import read_card_json
from desktop_app.core.litert.litert_runner import open_signature
from desktop_app.core.litert.model_folder import load_model_folder
from desktop_app.core.locations import resources_dir
from desktop_app.core.preprocessing import (
    SUBSAMPLE_FACTOR,
    PreprocessingSpec,
    preprocess_subsampled,
)

__all__ = [
    "FRONTAL",
    "SUBSAMPLE_FACTOR",
    "VIEW_CARD_FILE",
    "VIEW_CARD_FORMAT",
    "VIEW_CLASSES",
    "VIEW_INPUT_NAME",
    "VIEW_OUTPUT_NAME",
    "VIEW_SIGNATURE",
    "VIEW_TFLITE_FILE",
    "ViewCard",
    "ViewCheck",
    "ViewModel",
    "bundled_view_model_dir",
    "load_view_model",
    "view_input",
]

VIEW_CARD_FILE = "view_card.json"
VIEW_TFLITE_FILE = "view_model.tflite"
VIEW_CARD_FORMAT = "lunglens-view-card/1"
VIEW_SIGNATURE = "serving_default"
VIEW_INPUT_NAME = "image"
VIEW_OUTPUT_NAME = "probabilities"
FRONTAL = "frontal"
#: The view model's classes, in output order.
VIEW_CLASSES: tuple[str, ...] = (FRONTAL, "lateral", "rotated", "other")

_REASONS = {
    "lateral": "lateral view: LungLens reads frontal PA/AP films only (view check: lateral "
               "{p:.0%}, frontal {f:.0%})",
    "rotated": "rotated film: the film looks turned by 90°; LungLens reads upright frontal "
               "PA/AP films only (view check: rotated {p:.0%}, frontal {f:.0%})",
    "other": "not a chest film, or only part of one: LungLens reads whole frontal PA/AP "
             "chest films only (view check: other {p:.0%}, frontal {f:.0%})",
}
_CAUTION = ("the view check is not sure this is a whole frontal film (frontal {f:.0%}, "
            "{name} {p:.0%})")


def bundled_view_model_dir() -> Path:
    """The view model shipped with the program."""
    return resources_dir() / "view_model"


def view_input(pixels: np.ndarray, spec: PreprocessingSpec) -> np.ndarray:
    """The view model's ``(s, s)`` float32 input for a loaded grayscale image.

    Training (``model_training.view_model``) and the app both call this, so the model sees in
    the app what it saw in training.

    Args:
        pixels: The loaded image (``LoadedImage.pixels``), 2-D.
        spec: The view card's preprocessing spec.

    Returns:
        The preprocessed input, values 0..1.
    """
    return preprocess_subsampled(pixels, spec).array


@dataclass(frozen=True)
class ViewCard:
    """The view model's card (``view_card.json``).

    Attributes:
        model_id: Identifies the trained view model.
        classes: Output classes, in order (must be :data:`VIEW_CLASSES`).
        preprocessing: How the input is made (see :func:`view_input`).
        min_frontal_probability: An image whose frontal probability is below this is refused.
        caution_frontal_probability: Below this (and at least ``min_frontal_probability``)
            an image is labelled with a caution; ``None``: no caution tier.
        confident_frontal_probability: At or above this the view check vouches for the
            film: the classifier's distance checks then caution instead of refusing
            (:meth:`desktop_app.core.gate.gate.Gate.combine`); ``None``: they refuse.
        files: ``{file name: sha256}`` of the model files.
        raw: The whole card (training data, metrics, ... for display and audit).
    """

    model_id: str
    classes: tuple[str, ...]
    preprocessing: PreprocessingSpec
    min_frontal_probability: float
    files: dict[str, str]
    raw: Mapping[str, Any]
    caution_frontal_probability: float | None = None
    confident_frontal_probability: float | None = None

    @classmethod
    def read(cls, path: Path) -> ViewCard:
        """Read and validate a card file.

        Raises:
            ModelBundleError: Naming the file and what is missing or invalid.
        """
        data = read_card_json(path, card_format=VIEW_CARD_FORMAT, what="view model card")
        try:
            classes = tuple(str(name) for name in data["classes"])
            spec = PreprocessingSpec.from_dict(data["preprocessing"])
            threshold = float(data["min_frontal_probability"])
            files = {str(k): str(v) for k, v in dict(data["files"]).items()}
            model_id = str(data["model_id"])
        except (KeyError, TypeError, ValueError) as error:
            raise ModelBundleError(path, f"view model card is invalid: {error!r}") from error
        if classes != VIEW_CLASSES:
            raise ModelBundleError(
                path, f"view model classes are {list(classes)}, expected {list(VIEW_CLASSES)}")
        if not 0.0 < threshold < 1.0:
            raise ModelBundleError(
                path, f"min_frontal_probability must be within 0..1. Received: {threshold!r}")
        if VIEW_TFLITE_FILE not in files:
            raise ModelBundleError(path, f"view model card does not list {VIEW_TFLITE_FILE!r}")
        caution = _optional_probability(path, data, "caution_frontal_probability",
                                        threshold, "min_frontal_probability")
        confident = _optional_probability(
            path, data, "confident_frontal_probability",
            caution if caution is not None else threshold, "the caution threshold")
        return cls(model_id, classes, spec, threshold, files, data, caution, confident)


def _optional_probability(path: Path, data: Mapping[str, Any], key: str, floor: float,
                          floor_name: str) -> float | None:
    """An optional threshold of the card: ``None``, or a number from ``floor`` to 1.

    Raises:
        ModelBundleError: Naming the key, the allowed range and the value found.
    """
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not floor <= float(value) <= 1.0:
        raise ModelBundleError(path, f"{key} must be a number within {floor_name} "
                                     f"({floor!r}) .. 1. Received: {value!r}")
    return float(value)


@dataclass(frozen=True)
class ViewModel:
    """A verified view-model folder.

    Attributes:
        path: The folder.
        card: Its card.
    """

    path: Path
    card: ViewCard

    @property
    def tflite_path(self) -> Path:
        """The LiteRT model."""
        return self.path / VIEW_TFLITE_FILE


def load_view_model(path: Path | str | None = None, *, verify_hashes: bool = True) -> ViewModel:
    """Read and verify a view-model folder (default: the one shipped with the program).

    Raises:
        ModelBundleError: If the folder, the card or the model file is missing, invalid or
            altered (the sha256 differs from the card's).
    """
    folder, card = load_model_folder(
        path if path is not None else bundled_view_model_dir(), card_file=VIEW_CARD_FILE,
        read_card=ViewCard.read, what="view model", card_name="view card",
        verify_hashes=verify_hashes)
    return ViewModel(folder, card)


class ViewCheck:
    """Runs the view model in LiteRT. Not thread-safe: one per worker thread."""

    def __init__(self, model: ViewModel, *, num_threads: int = 1) -> None:
        self.model = model
        self.spec = model.card.preprocessing
        self.min_frontal_probability = model.card.min_frontal_probability
        self.caution_frontal_probability = model.card.caution_frontal_probability
        self.confident_frontal_probability = model.card.confident_frontal_probability
        self._litert = open_signature(
            model.tflite_path, signature=VIEW_SIGNATURE, input_name=VIEW_INPUT_NAME,
            output_name=VIEW_OUTPUT_NAME, input_shape=self.spec.input_shape, what="view model",
            num_threads=num_threads)

    def input_for(self, pixels: np.ndarray) -> np.ndarray:
        """The model input for a loaded image (see :func:`view_input`)."""
        return view_input(pixels, self.spec)

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """``(n, len(VIEW_CLASSES))`` probabilities for ``(n, s, s)`` inputs."""
        return self._litert.run(inputs).astype(np.float64)

    def verdicts(self, probabilities: np.ndarray) -> list[OodVerdict]:
        """One verdict per row of :meth:`probabilities`: refused, cautioned or passed.

        Frontal probability below ``min_frontal_probability`` refuses (naming the likeliest
        other view); below ``caution_frontal_probability`` it cautions.
        """
        out = []
        frontal_index = VIEW_CLASSES.index(FRONTAL)
        caution_limit = self.caution_frontal_probability
        for row in np.atleast_2d(probabilities):
            frontal = float(row[frontal_index])
            values = {"frontal_probability": frontal}
            others = [(float(p), name) for name, p in zip(VIEW_CLASSES, row, strict=True)
                      if name != FRONTAL]
            probability, name = max(others)
            if not (np.isfinite(frontal) and frontal >= self.min_frontal_probability):
                out.append(OodVerdict(True, _REASONS[name].format(p=probability, f=frontal),
                                      values=values))
            elif caution_limit is not None and frontal < caution_limit:
                out.append(OodVerdict(False, None, caution=_CAUTION.format(
                    f=frontal, name=name, p=probability), values=values))
            else:
                out.append(OodVerdict(False, None, values=values))
        return out

    def check(self, inputs: np.ndarray) -> list[OodVerdict]:
        """Verdicts for a batch of :func:`view_input` arrays."""
        return self.verdicts(self.probabilities(inputs))
