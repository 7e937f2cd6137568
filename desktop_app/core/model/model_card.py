"""The model card: everything needed to run, trust and reproduce one trained model.

``model_card.json`` sits next to ``model.tflite`` and ``model.keras`` in a model bundle folder.
The app obeys it (preprocessing, temperature, decision thresholds, out-of-distribution
statistics) and shows it (metrics per class and per source, training data, limitations).
A card with a missing or mistyped field is refused: guessing a default for a medical model's
operating point would be silent guessing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from desktop_app.core.errors import ModelBundleError
from desktop_app.core.model.calibration_line import SITE_CALIBRATION
from desktop_app.core.preprocessing import PreprocessingSpec

__all__ = [
    "CARD_FILE",
    "KERAS_FILE",
    "SCHEMA_VERSION",
    "TFLITE_FILE",
    "ModelCard",
]

SCHEMA_VERSION = 1
CARD_FILE = "model_card.json"
TFLITE_FILE = "model.tflite"
KERAS_FILE = "model.keras"

# field name -> accepted JSON type(s); order is the order written to disk.
_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "schema_version": int,
    "model_id": str,
    "version": str,
    "created": str,
    "software_version": str,
    "task": str,
    "classes": list,
    "architecture": str,
    "preprocessing": dict,
    "temperature": (int, float),
    "decision": dict,
    "ood": dict,
    "metrics": dict,
    "training_data": dict,
    "training_config": dict,
    "files": dict,
    "intended_use": str,
    "limitations": list,
}


@dataclass(frozen=True)
class ModelCard:
    """Typed view of ``model_card.json``.

    Attributes:
        schema_version: Card format version (:data:`SCHEMA_VERSION`).
        model_id: Unique, human-readable id, e.g. ``lunglens-compact-20261125-3f2a9c``.
        version: Model version string.
        created: ISO 8601 creation time (UTC).
        software_version: LungLens version that trained and exported the model.
        task: ``"3class"`` or ``"covid-vs-normal"``.
        classes: Class names in the order of the model's outputs.
        architecture: Architecture name (``compact``, ``seed-2020``, ...).
        preprocessing: How an image is prepared (see :class:`PreprocessingSpec`).
        temperature: Temperature-scaling factor applied to the logits (calibration).
        decision: Operating point, see :mod:`desktop_app.core.decision`.
        ood: Out-of-distribution statistics and thresholds, see :mod:`desktop_app.core.gate`.
        metrics: Measured metrics (overall, per class, per source, shortcut audit).
        training_data: Description of the training data, its sources, counts and hash.
        training_config: The configuration the model was trained with.
        files: ``{file name: sha256}`` for each model file in the bundle.
        intended_use: What the model is for (and not for).
        limitations: Known limitations, one sentence each.
        site_calibration: For a bundle calibrated to a site (``python -m desktop_app
            calibrate``), for which site, when, from how many films and what changed
            (:mod:`desktop_app.core.site.site_calibration`); ``None`` for a model as trained.
    """

    schema_version: int
    model_id: str
    version: str
    created: str
    software_version: str
    task: str
    classes: list[str]
    architecture: str
    preprocessing: PreprocessingSpec
    temperature: float
    decision: dict[str, Any]
    ood: dict[str, Any]
    metrics: dict[str, Any]
    training_data: dict[str, Any]
    training_config: dict[str, Any]
    files: dict[str, str]
    intended_use: str
    limitations: list[str] = field(default_factory=list)
    site_calibration: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: Path | str = CARD_FILE) -> ModelCard:
        """Validate and build a card.

        Args:
            data: Parsed JSON.
            source: Where it came from, for error messages.

        Raises:
            ModelBundleError: If a field is missing, has the wrong type or an invalid value.
        """
        _check_field_types(data, source)
        if data["schema_version"] != SCHEMA_VERSION:
            raise ModelBundleError(
                source,
                f"model card schema_version {data['schema_version']!r} is not supported "
                f"(this LungLens reads version {SCHEMA_VERSION})",
            )
        classes = data["classes"]
        if len(classes) < 2 or not all(isinstance(c, str) and c for c in classes):
            raise ModelBundleError(source, f"model card 'classes' is invalid: {classes!r}")
        if len(set(classes)) != len(classes):
            raise ModelBundleError(source, f"model card 'classes' has duplicates: {classes!r}")
        temperature = float(data["temperature"])
        if not 0.05 <= temperature <= 20.0:
            raise ModelBundleError(
                source, f"model card 'temperature' {temperature!r} is outside 0.05..20"
            )
        try:
            spec = PreprocessingSpec.from_dict(data["preprocessing"])
        except (TypeError, ValueError) as error:
            raise ModelBundleError(source, f"model card 'preprocessing' is invalid: {error}") \
                from error
        _check_files(data["files"], source)
        values = {name: data[name] for name in _FIELD_TYPES}
        calibration = data.get(SITE_CALIBRATION)
        if calibration is not None:
            if not isinstance(calibration, dict) or not all(
                    key in calibration for key in ("site", "date", "films")):
                raise ModelBundleError(
                    source, "model card 'site_calibration' must be an object with 'site', "
                    f"'date' and 'films': {str(calibration)[:200]!r}")
            values[SITE_CALIBRATION] = calibration
        values["preprocessing"] = spec
        values["temperature"] = temperature
        values["classes"] = list(classes)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, in the canonical field order."""
        result: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == SITE_CALIBRATION and value is None:
                continue  # a model as trained has no such section
            result[item.name] = value.to_dict() if isinstance(value, PreprocessingSpec) else value
        return result

    @classmethod
    def read(cls, path: Path | str) -> ModelCard:
        """Read and validate a ``model_card.json`` file.

        Raises:
            ModelBundleError: If the file is missing, is not JSON, or fails validation.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as error:
            raise ModelBundleError(path, "model card file is missing") from error
        except OSError as error:
            raise ModelBundleError(path, f"model card cannot be read: {error}") from error
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ModelBundleError(path, f"model card is not valid JSON: {error}") from error
        if not isinstance(data, dict):
            raise ModelBundleError(
                path, f"model card must be a JSON object, got {type(data).__name__}"
            )
        return cls.from_dict(data, source=path)

    def write(self, path: Path | str) -> None:
        """Write the card as indented UTF-8 JSON."""
        Path(path).write_text(
            json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

    def metric(self, *keys: str) -> Any:
        """Look up a nested metric, e.g. ``card.metric("per_class", "COVID-19", "sensitivity")``.

        Returns:
            The value, or ``None`` when the card does not report it.
        """
        node: Any = self.metrics
        for key in keys:
            if not isinstance(node, Mapping) or key not in node:
                return None
            node = node[key]
        return node


def _check_field_types(data: Mapping[str, Any], source: Path | str) -> None:
    """Raise ModelBundleError naming a missing field or one of the wrong type."""
    missing = [name for name in _FIELD_TYPES if name not in data]
    if missing:
        raise ModelBundleError(source, f"model card is missing field(s) {missing}")
    for name, expected in _FIELD_TYPES.items():
        value = data[name]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ModelBundleError(
                source,
                f"model card field {name!r} has the wrong type: {value!r} "
                f"({type(value).__name__})",
            )


def _check_files(files: Mapping[str, Any], source: Path | str) -> None:
    """Raise ModelBundleError unless ``files`` maps file names to sha256 hex digests."""
    if not files or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) == 64 for k, v in files.items()
    ):
        raise ModelBundleError(
            source, f"model card 'files' must map file names to sha256 hex digests: {files!r}"
        )
