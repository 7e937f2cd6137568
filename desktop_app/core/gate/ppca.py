"""Probabilistic-PCA Gaussians of reference vectors: the distance behind the appearance checks.

With few reference images per dimension a full covariance is unstable; PPCA keeps the main
directions and gives the discarded ones one shared (floored) noise variance, so a very uniform
reference set or a retrain on few images does not make every new film look foreign.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from desktop_app.core.gate.vectors import THUMBNAIL_SIZE

__all__ = ["PpcaModel", "fit_layout_model", "ppca_distance"]

_MIN_APPEARANCE_VARIANCE = 1e-4


@dataclass(frozen=True)
class PpcaModel:
    """A standardised probabilistic-PCA Gaussian of reference vectors, with its threshold.

    Each dimension is z-scored first (the texture and global vectors mix histogram fractions,
    log energies and correlations), then scored like the layout model. With as many
    components as dimensions it is a full-covariance Mahalanobis distance.
    """

    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray
    variances: np.ndarray
    residual_variance: float
    threshold: float

    @classmethod
    def from_spec(cls, section: Mapping[str, Any] | None) -> PpcaModel | None:
        """The model of a card section, or ``None`` when the card has no such section."""
        if not section:
            return None
        return cls(
            np.asarray(section["mean"], dtype=np.float64),
            np.asarray(section["scale"], dtype=np.float64),
            np.atleast_2d(np.asarray(section["components"], dtype=np.float64)),
            np.asarray(section["variances"], dtype=np.float64),
            float(section["residual_variance"]),
            float(section["distance_threshold"]),
        )

    @staticmethod
    def fit(vectors: np.ndarray, *, components: int, quantile: float) -> dict[str, Any]:
        """Fit on reference rows; threshold = ``quantile`` of their own distances."""
        if vectors.ndim != 2 or len(vectors) < 10:
            raise ValueError(f"need at least 10 reference vectors; got shape {vectors.shape}")
        mean = vectors.mean(axis=0)
        scale = vectors.std(axis=0)
        # A constant dimension (e.g. an always-empty histogram bin) carries no evidence.
        scale = np.where(scale > 1e-6, scale, 1.0)
        z = (vectors - mean) / scale
        _, singular, vt = np.linalg.svd(z, full_matrices=False)
        eigen = singular**2 / max(1, len(z) - 1)
        k = int(min(components, len(eigen)))
        tail = eigen[k:]
        # z-scored dimensions have unit variance; 1 % of it floors the discarded directions.
        residual = float(max(tail.mean() if tail.size else eigen[-1], 1e-2))
        variances = np.maximum(eigen[:k], residual)
        model = PpcaModel(mean, scale, vt[:k], variances, residual, 1.0)
        distances = model.distance(vectors)
        return {
            "mean": [float(v) for v in mean],
            "scale": [float(v) for v in scale],
            "components": [[float(v) for v in row] for row in vt[:k]],
            "variances": [float(v) for v in variances],
            "residual_variance": residual,
            "distance_threshold": float(np.quantile(distances, quantile)),
        }

    def distance(self, vectors: np.ndarray) -> np.ndarray:
        """Distance of each row to the reference vectors."""
        z = (vectors - self.mean) / self.scale
        return ppca_distance(np.zeros_like(self.mean), self.components, self.variances,
                              self.residual_variance, z)


def fit_layout_model(thumbnails: np.ndarray, components: int, quantile: float) -> dict[str, Any]:
    """Fit the card's ``appearance`` (layout) section on reference thumbnails."""
    mean = thumbnails.mean(axis=0)
    centred = thumbnails - mean
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    eigen = singular**2 / max(1, len(thumbnails) - 1)
    k = int(min(components, len(eigen) - 1))
    # Probabilistic PCA: the discarded directions share one noise variance, floored at a
    # 1 %-of-full-scale thumbnail difference so that a very uniform reference set (or a
    # retrain on few images) does not make every new film look foreign.
    residual_variance = float(max(eigen[k:].mean(), _MIN_APPEARANCE_VARIANCE))
    appearance = {
        "thumbnail_size": THUMBNAIL_SIZE,
        "mean": [float(v) for v in mean],
        "components": [[float(v) for v in row] for row in vt[:k]],
        "variances": [float(max(v, residual_variance)) for v in eigen[:k]],
        "residual_variance": residual_variance,
        "distance_threshold": 1.0,
    }
    distances = ppca_distance(
        mean, vt[:k], np.asarray(appearance["variances"]), residual_variance, thumbnails
    )
    appearance["distance_threshold"] = float(np.quantile(distances, quantile))
    return appearance


def ppca_distance(
    mean: np.ndarray,
    components: np.ndarray,
    variances: np.ndarray,
    residual_variance: float,
    thumbnails: np.ndarray,
) -> np.ndarray:
    """Per-dimension-normalised PPCA Mahalanobis distance of each row to the reference."""
    centred = thumbnails - mean
    projected = centred @ components.T  # (n, k)
    residual = centred - projected @ components
    squared = (projected**2 / variances).sum(axis=1)
    squared += (residual**2).sum(axis=1) / residual_variance
    return np.sqrt(squared / centred.shape[1])
