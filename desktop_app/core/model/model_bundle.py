"""A model bundle: a folder with ``model.tflite``, ``model.keras`` and ``model_card.json``.

Loading a bundle verifies it: every file listed in the card exists and has the recorded
sha256, so a truncated copy, a half-finished install or a swapped file is refused with a
message instead of producing wrong probabilities.

The exported LiteRT model has one signature, ``serving_default``, with input ``image``
(``(batch, size, size, 1)`` float32 in 0..1, the output of
:func:`desktop_app.core.preprocessing.preprocess`) and outputs:

* ``logits``   ``(batch, classes)`` — before temperature scaling;
* ``features`` ``(batch, dim)`` — the pooled penultimate features (out-of-distribution gate);
* ``cam``      ``(batch, h, w, classes)`` — class activation maps from the last feature map and
  the linear head, so the app needs no TensorFlow to draw a heat map.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.decision import validate_decision_spec
from desktop_app.core.errors import ModelBundleError
from desktop_app.core.gate.spec import validate_ood_spec
from desktop_app.core.litert.model_folder import load_model_folder
from desktop_app.core.model.model_card import CARD_FILE, KERAS_FILE, TFLITE_FILE, ModelCard

__all__ = [
    "INPUT_NAME",
    "OUTPUT_CAM",
    "OUTPUT_FEATURES",
    "OUTPUT_LOGITS",
    "SIGNATURE",
    "ModelBundle",
    "load_bundle",
]

SIGNATURE = "serving_default"
INPUT_NAME = "image"
OUTPUT_LOGITS = "logits"
OUTPUT_FEATURES = "features"
OUTPUT_CAM = "cam"


@dataclass(frozen=True)
class ModelBundle:
    """A verified model bundle.

    Attributes:
        path: The bundle folder.
        card: Its validated model card.
    """

    path: Path
    card: ModelCard

    @property
    def tflite_path(self) -> Path:
        """The LiteRT model used for inference."""
        return self.path / TFLITE_FILE

    @property
    def keras_path(self) -> Path:
        """The Keras model used for fine-tuning (may be absent in a classify-only bundle)."""
        return self.path / KERAS_FILE

    @property
    def model_id(self) -> str:
        """The card's model id."""
        return self.card.model_id


def load_bundle(path: Path | str, *, verify_hashes: bool = True) -> ModelBundle:
    """Read and verify a model bundle folder.

    Args:
        path: The bundle folder.
        verify_hashes: Check each file's sha256 against the card. Only turn this off for a
            bundle that was verified moments ago (e.g. right after installing it).

    Returns:
        The verified bundle.

    Raises:
        ModelBundleError: If the folder, the card, or a file is missing, invalid or altered.
    """
    folder, card = load_model_folder(path, card_file=CARD_FILE, read_card=ModelCard.read,
                                     what="model", card_name="model card",
                                     check=_check_card, verify_hashes=verify_hashes)
    return ModelBundle(path=folder, card=card)


def _check_card(folder: Path, card: ModelCard) -> None:
    """The card lists the LiteRT model; its decision and ood sections are valid."""
    if TFLITE_FILE not in card.files:
        raise ModelBundleError(folder, f"model card does not list {TFLITE_FILE!r} in 'files'")
    try:
        validate_decision_spec(card.decision, card.classes)
        validate_ood_spec(card.ood)
    except ValueError as error:
        raise ModelBundleError(folder / CARD_FILE, f"model card is invalid: {error}") from error
