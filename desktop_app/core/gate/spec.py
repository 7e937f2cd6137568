"""The card's ``ood`` section: its format, its validation and how it is fitted.

The section is produced by :func:`fit_ood_spec` at training time (``model_training``) and
read by :class:`desktop_app.core.gate.gate.OodGate` in the app. Its statistics are plain lists
so that the app needs only numpy; its format is unchanged since cards of 2026-11 (a card
without the optional ``appearance``, ``texture``, ``global`` or ``orientation`` sections
still loads: those checks are then skipped).

The optional ``refusal_limits`` mapping gives a check a second, wider limit (see
:mod:`desktop_app.core.gate.verdict`): ``"features"``, ``"layout"``, ``"texture"`` and
``"global"`` are upper distance limits at or above that check's ``distance_threshold``;
``"orientation"`` is a lower score limit at or below ``orientation.min_score``. Between the
two limits a film is labelled with a caution; beyond the refusal limit it is refused. A check
without one refuses at its usual limit, as every card before 2026-12-06 does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from desktop_app.core.gate.features import FeatureDistance, fit_feature_statistics
from desktop_app.core.gate.ppca import PpcaModel, fit_layout_model
from desktop_app.core.gate.vectors import (
    GLOBAL_NAMES,
    TEXTURE_LENGTH,
    THUMBNAIL_SIZE,
    ImageStatistics,
    orientation_score,
)

__all__ = [
    "REFUSAL_LIMIT_KEYS", "fit_ood_spec", "usual_limits", "validate_ood_spec", "with_limits",
]

#: The checks that may have a refusal limit (``ood.refusal_limits``).
REFUSAL_LIMIT_KEYS = ("features", "layout", "texture", "global", "orientation")
#: The card section holding each appearance check's usual limit.
_SECTIONS = {"layout": "appearance", "texture": "texture", "global": "global"}

_REQUIRED_KEYS = (
    "method",
    "class_means",
    "precision",
    "distance_threshold",
    "distance_quantiles",
    "max_colourfulness",
    "max_aspect",
    "max_uniform_fraction",
    "min_gray_levels",
)


def validate_ood_spec(spec: Mapping[str, Any]) -> None:
    """Check a card's ``ood`` section.

    Raises:
        ValueError: Naming the missing key or inconsistent shape.
    """
    missing = [key for key in _REQUIRED_KEYS if key not in spec]
    if missing:
        raise ValueError(f"ood section is missing {missing}")
    means = spec["class_means"]
    if not isinstance(means, Mapping) or not means:
        raise ValueError("ood class_means must be a non-empty mapping of class -> vector")
    dims = {len(vector) for vector in means.values()}
    precision = spec["precision"]
    if len(dims) != 1 or len(precision) != next(iter(dims)) or any(
        len(row) != len(precision) for row in precision
    ):
        raise ValueError(
            f"ood statistics have inconsistent shapes: mean dims {sorted(dims)}, precision "
            f"{len(precision)}x{len(precision[0]) if precision else 0}"
        )
    if not float(spec["distance_threshold"]) > 0:
        raise ValueError(f"ood distance_threshold must be > 0: {spec['distance_threshold']!r}")
    # The optional appearance companions must match this version's vectors: a card from a
    # version with other statistics would otherwise compare unrelated numbers.
    expected = {"appearance": THUMBNAIL_SIZE * THUMBNAIL_SIZE,
                "texture": TEXTURE_LENGTH, "global": len(GLOBAL_NAMES)}
    for name, length in expected.items():
        section = spec.get(name)
        if section and len(section.get("mean", ())) != length:
            raise ValueError(
                f"ood {name} statistics have {len(section.get('mean', ()))} dimensions, this "
                f"LungLens version computes {length}; re-fit the card's ood section"
            )
    _validate_refusal_limits(spec)


def usual_limits(spec: Mapping[str, Any]) -> dict[str, float]:
    """Each fitted check's usual limit (orientation: its minimum score), by refusal-limit key."""
    limits = {"features": float(spec["distance_threshold"])}
    for key, section in _SECTIONS.items():
        if spec.get(section):
            limits[key] = float(spec[section]["distance_threshold"])
    if spec.get("orientation"):
        limits["orientation"] = float(spec["orientation"]["min_score"])
    return limits


def with_limits(spec: Mapping[str, Any], usual: Mapping[str, float],
                refusal: Mapping[str, float]) -> dict[str, Any]:
    """A copy of an ``ood`` section with new usual and refusal limits.

    The inverse of :func:`usual_limits` (orientation given as minimum scores, as there).

    Site calibration (:mod:`desktop_app.core.site.site_gate`) moves limits and nothing else: the
    reference statistics the distances are measured from stay the model's.
    """
    out = json.loads(json.dumps(spec))  # a deep copy of plain JSON data
    for key, value in usual.items():
        if key == "features":
            out["distance_threshold"] = float(value)
        elif key == "orientation":
            out["orientation"]["min_score"] = float(value)
        else:
            out[_SECTIONS[key]]["distance_threshold"] = float(value)
    if refusal:
        out["refusal_limits"] = {**out.get("refusal_limits", {}),
                                 **{key: float(value) for key, value in refusal.items()}}
    return out


def _validate_refusal_limits(spec: Mapping[str, Any]) -> None:
    """Check ``refusal_limits``: known checks the card has, numbers on the refusing side."""
    limits = spec.get("refusal_limits")
    if limits is None:
        return
    if not isinstance(limits, Mapping):
        raise ValueError(f"ood refusal_limits must be a mapping of check -> limit. "
                         f"Received: {limits!r}")
    usual = usual_limits(spec)
    for key, value in limits.items():
        if key not in REFUSAL_LIMIT_KEYS:
            raise ValueError(f"ood refusal_limits names unknown check {key!r}; known: "
                             f"{list(REFUSAL_LIMIT_KEYS)}")
        if key not in usual:
            raise ValueError(f"ood refusal_limits has a limit for {key!r} but the card has no "
                             f"such check. Received: {value!r}")
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not np.isfinite(value):
            raise ValueError(f"ood refusal limit for {key!r} must be a finite number. "
                             f"Received: {value!r}")
        if key == "orientation" and value > usual[key]:
            raise ValueError(f"ood refusal limit for 'orientation' is a minimum score and must "
                             f"be at most orientation.min_score {usual[key]!r}. "
                             f"Received: {value!r}")
        if key != "orientation" and value < usual[key]:
            raise ValueError(f"ood refusal limit for {key!r} must be at least its usual limit "
                             f"{usual[key]!r}. Received: {value!r}")


def fit_ood_spec(
    features: np.ndarray, labels: np.ndarray, classes: Sequence[str],
    stats: Sequence[ImageStatistics], *, thumbnails: np.ndarray | None = None,
    texture_vectors: np.ndarray | None = None, global_vectors: np.ndarray | None = None,
    distance_quantile: float = 0.99, appearance_quantile: float = 0.995,
    texture_quantile: float = 0.999, global_quantile: float = 0.999,
    orientation_quantile: float = 0.001, appearance_components: int = 24,
    shrinkage: float = 0.05, max_colourfulness: float = 12.0, max_aspect: float = 2.5,
) -> dict[str, Any]:
    """Fit the ``ood`` card section on in-distribution (training) X-rays.

    Args:
        features: ``(n, dim)`` pooled features of the reference X-rays.
        labels: ``(n,)`` class indices.
        classes: Class names (index order).
        stats: :class:`ImageStatistics` of the same images.
        thumbnails: ``(n, 256)`` :func:`thumbnail_vector` rows of the same images; enables
            the appearance (layout) check.
        texture_vectors: :func:`texture_vector` rows of the same images; enables the
            texture check.
        global_vectors: :func:`global_vector` rows of the same images; enables the
            global-statistics check.
        distance_quantile: Quantile of the reference distances used as threshold.
        appearance_quantile: Same, for the appearance distance.
        texture_quantile: Same, for the texture distance.
        global_quantile: Same, for the global-statistics distance.
        orientation_quantile: Lower quantile of the reference :func:`orientation_score`
            used as its minimum (needs ``global_vectors``).
        appearance_components: Principal components kept for the appearance model.
        shrinkage: Ledoit–Wolf-style shrinkage towards a scaled identity; keeps the
            precision matrix stable with few images per dimension.
        max_colourfulness: Colour limit; grayscale JPEGs with chroma noise stay well below it.
        max_aspect: Aspect limit for radiographs (detectors are 14x17 in or 17x17 in).

    Returns:
        The JSON-ready ``ood`` section.

    Raises:
        ValueError: If there are too few images or a class has none.
    """
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    if features.ndim != 2 or len(features) != len(labels) or len(features) < 10:
        raise ValueError(
            f"need at least 10 feature rows matching the labels; got features {features.shape} "
            f"and labels {labels.shape}"
        )
    spec = _feature_spec(features, labels, classes, shrinkage=shrinkage,
                         distance_quantile=distance_quantile,
                         max_colourfulness=max_colourfulness, max_aspect=max_aspect)
    _set_image_limits(spec, stats)
    spec["reference_images"] = len(features)
    _add_appearance_models(spec, thumbnails, texture_vectors, global_vectors,
                           appearance_components=appearance_components,
                           appearance_quantile=appearance_quantile,
                           texture_quantile=texture_quantile, global_quantile=global_quantile,
                           orientation_quantile=orientation_quantile)
    return spec


def _feature_spec(features: np.ndarray, labels: np.ndarray, classes: Sequence[str], *,
                  shrinkage: float, distance_quantile: float, max_colourfulness: float,
                  max_aspect: float) -> dict[str, Any]:
    """The class-conditional feature model, its distance threshold and the image limits."""
    class_means, precision = fit_feature_statistics(features, labels, classes,
                                                    shrinkage=shrinkage)
    spec: dict[str, Any] = {
        "method": "class-conditional Mahalanobis on pooled features + image checks",
        "class_means": class_means,
        "precision": precision,
        "distance_threshold": 1.0,  # replaced below once distances are known
        "distance_quantiles": {},
        "max_colourfulness": float(max_colourfulness),
        "max_aspect": float(max_aspect),
        "max_uniform_fraction": 0.0,
        "min_gray_levels": 0,
    }
    distances = FeatureDistance(spec).distances(features)
    quantiles = (0.5, 0.9, 0.95, 0.99, 0.995, 0.999)
    spec["distance_quantiles"] = {
        str(q): float(v) for q, v in zip(quantiles, np.quantile(distances, quantiles), strict=True)
    }
    spec["distance_threshold"] = float(np.quantile(distances, distance_quantile))
    return spec


def _set_image_limits(spec: dict[str, Any], stats: Sequence[ImageStatistics]) -> None:
    """The uniform-area and gray-level limits, with margins beyond the training X-rays.

    These checks exist for screenshots and charts, which are far outside, so they must
    never fire on a real radiograph.
    """
    uniform = np.array([s.uniform_fraction for s in stats])
    levels = np.array([s.gray_levels for s in stats])
    spec["max_uniform_fraction"] = float(min(0.95, max(0.30, uniform.max() * 1.25)))
    spec["min_gray_levels"] = int(max(8, min(48, levels.min() // 2)))


def _add_appearance_models(spec: dict[str, Any], thumbnails: np.ndarray | None,
                           texture_vectors: np.ndarray | None,
                           global_vectors: np.ndarray | None, *, appearance_components: int,
                           appearance_quantile: float, texture_quantile: float,
                           global_quantile: float, orientation_quantile: float) -> None:
    """The layout, texture, global-statistics and orientation checks that have their data."""
    if thumbnails is not None:
        spec["appearance"] = fit_layout_model(
            np.asarray(thumbnails, dtype=np.float64), appearance_components, appearance_quantile
        )
    if texture_vectors is not None:
        spec["texture"] = PpcaModel.fit(np.asarray(texture_vectors, dtype=np.float64),
                                         components=24, quantile=texture_quantile)
        spec["texture"]["vector"] = "texture_vector: 16-bin histogram, 8x8 log gradient, " \
                                    "8x8 log detail"
    if global_vectors is not None:
        spec["global"] = PpcaModel.fit(np.asarray(global_vectors, dtype=np.float64),
                                        components=len(GLOBAL_NAMES), quantile=global_quantile)
        spec["global"]["names"] = list(GLOBAL_NAMES)
        spec["orientation"] = {"min_score": float(np.quantile(
            orientation_score(np.asarray(global_vectors)), orientation_quantile))}

