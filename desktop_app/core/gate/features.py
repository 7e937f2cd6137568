"""Feature-space distance: the classifier's own view of how unusual an image is.

The class-conditional Mahalanobis distance (shared covariance, Lee et al., NeurIPS 2018) of
the model's pooled penultimate features to the training X-rays. The threshold is a high
quantile of the distances of the training X-rays, so a known fraction of real X-rays is
flagged by design (about 1 %), and everything far from them is flagged. Unlike the appearance
checks and the view check it belongs to the installed classifier: a retrained model brings
its own statistics in its card.

With ``ood.refusal_limits.features`` in the card, a distance between the threshold and that
limit labels the film with a caution instead of refusing it (an unusual but real frontal film
from a hospital the model never saw lands there; see :mod:`desktop_app.core.gate.verdict`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from desktop_app.core.gate.verdict import OodVerdict, Tier, tier

__all__ = ["FeatureDistance", "fit_feature_statistics"]


class FeatureDistance:
    """Applies the feature part of a card's (validated) ``ood`` section."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self._means = np.asarray(list(spec["class_means"].values()), dtype=np.float64)
        self._precision = np.asarray(spec["precision"], dtype=np.float64)
        self.distance_threshold = float(spec["distance_threshold"])
        limits = spec.get("refusal_limits") or {}
        #: Distance beyond which a film is refused (``None``: refused at the threshold).
        self.refusal_limit: float | None = (float(limits["features"]) if "features" in limits
                                            else None)

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Class-conditional Mahalanobis distance (minimum over classes) for each row."""
        features = np.atleast_2d(np.asarray(features, dtype=np.float64))
        diffs = features[:, None, :] - self._means[None, :, :]  # (n, classes, dim)
        # (diffs @ P) · diffs: one BLAS matrix product; a three-operand einsum without a
        # contraction path loops in C over n x classes x dim x dim (0.4 ms per image).
        squared = ((diffs @ self._precision) * diffs).sum(axis=2)
        return np.sqrt(np.maximum(squared.min(axis=1), 0.0))

    def check_features(self, features: np.ndarray) -> list[OodVerdict]:
        """Feature-space check for a batch of pooled features (refuse, caution or pass)."""
        verdicts = []
        for distance in self.distances(features):
            distance = float(distance)
            values = {"features": distance}
            outcome = tier(distance, self.distance_threshold, self.refusal_limit)
            caution = (f"features unlike the training films (distance {distance:.1f}; "
                       f"usual up to {self.distance_threshold:.1f})")
            if outcome is Tier.REFUSE:
                verdicts.append(OodVerdict(
                    True,
                    f"image content is unlike the chest X-rays the model was trained on "
                    f"(feature distance {distance:.1f}, limit {self.distance_threshold:.1f}); "
                    "not a frontal chest X-ray, or an unusual one",
                    distance, values=values, if_frontal=caution, refused_by=("features",),
                ))
            elif outcome is Tier.CAUTION:
                verdicts.append(OodVerdict(False, None, distance, caution=caution,
                                           values=values))
            else:
                verdicts.append(OodVerdict(False, None, distance, values=values))
        return verdicts


def fit_feature_statistics(
    features: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    *,
    shrinkage: float,
) -> tuple[dict[str, list[float]], list[list[float]]]:
    """Class means and the shrunk shared precision matrix of reference features.

    Args:
        features: ``(n, dim)`` pooled features of the reference X-rays.
        labels: ``(n,)`` class indices.
        classes: Class names (index order).
        shrinkage: Ledoit–Wolf-style shrinkage towards a scaled identity; keeps the
            precision matrix stable with few images per dimension.

    Returns:
        ``(class_means, precision)`` as JSON-ready lists.

    Raises:
        ValueError: If a class has no reference image.
    """
    means = {}
    centred = []
    for index, name in enumerate(classes):
        rows = features[labels == index]
        if len(rows) == 0:
            raise ValueError(f"no reference images of class {name!r} to fit the OOD statistics")
        means[name] = rows.mean(axis=0)
        centred.append(rows - means[name])
    residual = np.concatenate(centred)
    covariance = residual.T @ residual / max(1, len(residual) - len(classes))
    scale = np.trace(covariance) / covariance.shape[0]
    covariance = (1 - shrinkage) * covariance + shrinkage * scale * np.eye(covariance.shape[0])
    precision = np.linalg.inv(covariance)
    return ({name: [float(v) for v in mean] for name, mean in means.items()},
            [[float(v) for v in row] for row in precision])
