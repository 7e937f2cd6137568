"""Where the lungs are: a small segmenter whose lung box frames the classifier's input.

Why: on a collection it never saw, a whole-film classifier separates COVID-19 from other films
little better than chance (leave-one-source-out, docs/model_recipe.md): much of what it learned
in distribution is the look of each collection - borders, burnt-in labels, framing, how much
of the neck and abdomen the film shows. A classifier that is given only the lung fields, framed
the same way on every film, has fewer of those cues to lean on.

The segmenter (a 128 px U-Net, ``model_training/lung_segmenter.py``) ships in
``resources/lung_segmenter/`` with its own card (``segmenter_card.json``), verified by sha256 at
load like the classifier and the view model. A classifier whose preprocessing says
``region="lungs"`` names the segmenter's ``model_id`` in its card; the app refuses to run it
with another segmenter, because its input would not be the one it was trained and measured on.

The lung box comes from the mask's mass, not from its outline: the box spans the 0.5th to
99.5th percentile of lung pixels along each axis, widened by the spec's margin. A stray blob or
a ragged edge moves it little. When the segmenter finds almost no lung (not a chest film, or a
very unusual one) there is no box: the whole film is used and the caller is told, so the gate
can say so.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.errors import ModelBundleError
from desktop_app.core.litert.file_hashes import read_card_json
from desktop_app.core.litert.litert_runner import open_signature
from desktop_app.core.litert.model_folder import load_model_folder
from desktop_app.core.locations import resources_dir
from desktop_app.core.preprocessing import (
    PreprocessedImage,
    PreprocessingSpec,
    preprocess,
    preprocess_subsampled,
)

__all__ = [
    "LUNG_CARD_FILE",
    "LUNG_CARD_FORMAT",
    "LUNG_INPUT_NAME",
    "LUNG_OUTPUT_NAME",
    "LUNG_SIGNATURE",
    "LUNG_TFLITE_FILE",
    "MIN_LUNG_FRACTION",
    "LungSegmenter",
    "LungSegmenterCard",
    "LungSegmenterModel",
    "ModelInputs",
    "bundled_lung_segmenter_dir",
    "load_lung_segmenter",
    "lung_box",
    "prepare_model_input",
    "segmenter_input",
]

LUNG_CARD_FILE = "segmenter_card.json"
LUNG_TFLITE_FILE = "lung_segmenter.tflite"
LUNG_CARD_FORMAT = "lunglens-lung-segmenter/1"
LUNG_SIGNATURE = "serving_default"
LUNG_INPUT_NAME = "image"
LUNG_OUTPUT_NAME = "lungs"
#: Below this share of the film's content marked as lung, no box is drawn.
MIN_LUNG_FRACTION = 0.04
#: Mass percentiles that bound the box along each axis (robust to stray pixels).
BOX_PERCENTILES = (0.5, 99.5)


def bundled_lung_segmenter_dir() -> Path:
    """The lung segmenter shipped with the program."""
    return resources_dir() / "lung_segmenter"


def segmenter_input(pixels: np.ndarray, spec: PreprocessingSpec) -> PreprocessedImage:
    """The segmenter's input for a loaded grayscale image (training and app both call this)."""
    return preprocess_subsampled(pixels, spec)


def lung_box(
    mask: np.ndarray,
    content_box: tuple[int, int, int, int],
    image_size: tuple[int, int],
    margin: float,
) -> tuple[int, int, int, int] | None:
    """The lung box in the loaded image's pixel coordinates, or None when no lungs were found.

    Args:
        mask: ``(s, s)`` boolean lung mask on the segmenter's input.
        content_box: Where the image sits in the segmenter's input (the rest is padding).
        image_size: ``(width, height)`` of the loaded image.
        margin: Widening of the box on each side, as a share of its width / height.

    Returns:
        ``(left, top, right, bottom)`` within the image, or None.
    """
    left, top, right, bottom = content_box
    inside = np.asarray(mask, dtype=bool)[top:bottom, left:right]
    if inside.size == 0 or inside.mean() < MIN_LUNG_FRACTION:
        return None
    rows, cols = np.nonzero(inside)
    y0, y1 = np.percentile(rows, BOX_PERCENTILES)
    x0, x1 = np.percentile(cols, BOX_PERCENTILES)
    height, width = inside.shape
    pad_x, pad_y = margin * (x1 - x0 + 1), margin * (y1 - y0 + 1)
    # Content pixel i covers [i, i + 1): scale edges, not centres, to the image.
    scale_x, scale_y = image_size[0] / width, image_size[1] / height
    box = (
        int(np.floor(max(0.0, x0 - pad_x) * scale_x)),
        int(np.floor(max(0.0, y0 - pad_y) * scale_y)),
        int(np.ceil(min(float(width), x1 + 1 + pad_x) * scale_x)),
        int(np.ceil(min(float(height), y1 + 1 + pad_y) * scale_y)),
    )
    box = (box[0], box[1], min(box[2], image_size[0]), min(box[3], image_size[1]))
    if box[2] - box[0] < 2 or box[3] - box[1] < 2:
        return None
    return box


@dataclass(frozen=True)
class LungSegmenterCard:
    """The segmenter's card (``segmenter_card.json``).

    Attributes:
        model_id: Identifies the trained segmenter; a classifier's spec names it.
        preprocessing: How the segmenter's input is made (see :func:`segmenter_input`).
        threshold: Lung probability above which a pixel is lung.
        files: ``{file name: sha256}`` of the model files.
        raw: The whole card (training data, Dice, ... for display and audit).
    """

    model_id: str
    preprocessing: PreprocessingSpec
    threshold: float
    files: dict[str, str]
    raw: Mapping[str, Any]

    @classmethod
    def read(cls, path: Path) -> LungSegmenterCard:
        """Read and validate a card file.

        Raises:
            ModelBundleError: Naming the file and what is missing or invalid.
        """
        data = read_card_json(path, card_format=LUNG_CARD_FORMAT, what="lung segmenter card")
        try:
            spec = PreprocessingSpec.from_dict(data["preprocessing"])
            threshold = float(data["threshold"])
            files = {str(k): str(v) for k, v in dict(data["files"]).items()}
            model_id = str(data["model_id"])
        except (KeyError, TypeError, ValueError) as error:
            raise ModelBundleError(path, f"lung segmenter card is invalid: {error!r}") from error
        if not 0.0 < threshold < 1.0:
            raise ModelBundleError(
                path, f"threshold must be within 0..1. Received: {threshold!r}")
        if LUNG_TFLITE_FILE not in files:
            raise ModelBundleError(path, f"lung segmenter card does not list "
                                         f"{LUNG_TFLITE_FILE!r}")
        return cls(model_id, spec, threshold, files, data)


@dataclass(frozen=True)
class LungSegmenterModel:
    """A verified lung-segmenter folder.

    Attributes:
        path: The folder.
        card: Its card.
    """

    path: Path
    card: LungSegmenterCard

    @property
    def tflite_path(self) -> Path:
        """The LiteRT model."""
        return self.path / LUNG_TFLITE_FILE


def load_lung_segmenter(path: Path | str | None = None, *,
                        verify_hashes: bool = True) -> LungSegmenterModel:
    """Read and verify a segmenter folder (default: the one shipped with the program).

    Raises:
        ModelBundleError: If the folder, the card or the model file is missing, invalid or
            altered (the sha256 differs from the card's).
    """
    folder, card = load_model_folder(
        path if path is not None else bundled_lung_segmenter_dir(), card_file=LUNG_CARD_FILE,
        read_card=LungSegmenterCard.read, what="lung segmenter",
        card_name="lung segmenter card", verify_hashes=verify_hashes)
    return LungSegmenterModel(folder, card)


class LungSegmenter:
    """Runs the segmenter in LiteRT. Not thread-safe: one per thread."""

    def __init__(self, model: LungSegmenterModel, *, num_threads: int = 1) -> None:
        self.model = model
        self.spec = model.card.preprocessing
        self.threshold = model.card.threshold
        self._litert = open_signature(
            model.tflite_path, signature=LUNG_SIGNATURE, input_name=LUNG_INPUT_NAME,
            output_name=LUNG_OUTPUT_NAME, input_shape=self.spec.input_shape,
            what="lung segmenter", num_threads=num_threads)

    @property
    def model_id(self) -> str:
        """The segmenter's id (what a classifier's spec names)."""
        return self.model.card.model_id

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """``(n, s, s)`` lung probabilities for ``(n, s, s)`` inputs."""
        out = self._litert.run(inputs)
        return out.reshape(out.shape[:3])

    def find_box(self, pixels: np.ndarray, margin: float) -> tuple[int, int, int, int] | None:
        """The lung box of one loaded image (see :func:`lung_box`), or None."""
        prepared = segmenter_input(pixels, self.spec)
        mask = self.probabilities(prepared.array[None])[0] > self.threshold
        array = np.asarray(pixels)
        return lung_box(mask, prepared.content_box, (array.shape[1], array.shape[0]), margin)


def prepare_model_input(
    pixels: np.ndarray,
    spec: PreprocessingSpec,
    segmenter: LungSegmenter | None = None,
) -> tuple[PreprocessedImage, bool]:
    """The classifier's input for a loaded image: the one path of training and app.

    Args:
        pixels: The loaded image, 2-D.
        spec: The classifier card's preprocessing.
        segmenter: Required when ``spec.region == "lungs"``; its id must be the one the spec
            names.

    Returns:
        The model input, and whether lungs were found (always True for ``region="image"``;
        False means the whole film was used instead of a lung box).

    Raises:
        ValueError: If the spec needs a segmenter and none, or another one, was given.
    """
    if spec.region == "image":
        return preprocess(pixels, spec), True
    if segmenter is None:
        raise ValueError(f"this model's preprocessing frames the lungs with lung segmenter "
                         f"{spec.lung_segmenter!r}; no segmenter was given")
    if segmenter.model_id != spec.lung_segmenter:
        raise ValueError(f"this model was trained with lung segmenter {spec.lung_segmenter!r}; "
                         f"the segmenter given is {segmenter.model_id!r}")
    box = segmenter.find_box(pixels, spec.lung_margin)
    return preprocess(pixels, spec, region=box), box is not None


class ModelInputs:
    """Makes a classifier's input from loaded pixels, as its card says; thread-safe.

    The one object the classify path, training, evaluation and the benchmarks use, so that
    all of them frame the film the same way. Each thread gets its own segmenter runner.
    """

    def __init__(self, spec: PreprocessingSpec,
                 segmenter: LungSegmenterModel | None = None) -> None:
        """Check that the segmenter the spec names is the one available.

        Args:
            spec: The classifier card's preprocessing.
            segmenter: The lung segmenter (default: the one shipped with the program, loaded
                and verified only when ``spec.region == "lungs"``).

        Raises:
            ModelBundleError: If the spec frames the lungs and the segmenter is missing,
                damaged or another one than the spec names.
        """
        self.spec = spec
        self.segmenter_model: LungSegmenterModel | None = None
        self._threads = threading.local()
        if spec.region != "lungs":
            return
        model = segmenter if segmenter is not None else load_lung_segmenter()
        if model.card.model_id != spec.lung_segmenter:
            raise ModelBundleError(
                model.path,
                f"the model frames the lungs with lung segmenter {spec.lung_segmenter!r}, but "
                f"this LungLens has {model.card.model_id!r}; use a model trained with the "
                "segmenter this version ships")
        self.segmenter_model = model

    def segmenter(self) -> LungSegmenter | None:
        """This thread's segmenter, or None when the spec uses the whole film."""
        if self.segmenter_model is None:
            return None
        runner = getattr(self._threads, "runner", None)
        if runner is None:
            runner = self._threads.runner = LungSegmenter(self.segmenter_model)
        return runner

    def __call__(self, pixels: np.ndarray) -> tuple[PreprocessedImage, bool]:
        """The model input and whether lungs were found (see :func:`prepare_model_input`)."""
        return prepare_model_input(pixels, self.spec, self.segmenter())
