"""Out-of-distribution gate: refuse to label what is not a frontal chest X-ray.

A classifier always answers with one of its classes, even for a holiday photo. LungLens checks
every input twice before showing a label:

1. **Cheap image checks** (before the model runs): colour content, aspect ratio, large
   perfectly uniform areas and few grey levels (screenshots, charts, documents). Thresholds
   are fitted on the training X-rays and stored in the card.
2. **Appearance distance** (before the model): a probabilistic-PCA Mahalanobis distance of a
   16x16 thumbnail of the preprocessed image to the training X-rays' thumbnails. A frontal
   chest film has a stable layout (two dark lung fields either side of a bright mediastinum);
   photos, CT slices, other body parts and lateral views do not. It does not depend on what
   the classifier happened to learn, so it keeps working when a clinic retrains.
3. **Feature-space distance**: the class-conditional Mahalanobis distance (shared covariance,
   Lee et al., NeurIPS 2018) of the model's pooled penultimate features to the training
   X-rays. The threshold is a high quantile of the distances of the training X-rays, so a
   known fraction of real X-rays is flagged by design (about 1 %), and everything far from
   them — CT slices, other body parts, lateral views, photos — is flagged.

The card's ``ood`` section is produced by :func:`fit_ood_spec` at training time; the statistics
are plain lists so that the app needs only numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "THUMBNAIL_SIZE",
    "ImageStatistics",
    "OodGate",
    "OodVerdict",
    "fit_ood_spec",
    "image_statistics",
    "thumbnail_vector",
    "validate_ood_spec",
]

THUMBNAIL_SIZE = 16
_MIN_APPEARANCE_VARIANCE = 1e-4

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


@dataclass(frozen=True)
class ImageStatistics:
    """Cheap facts about an image that separate radiographs from screenshots and photos.

    Attributes:
        colourfulness: Hasler–Süsstrunk colourfulness of the source (0 for grayscale).
        aspect: Long side over short side of the source.
        uniform_fraction: Fraction of the content whose 8-bit value equals the most common
            value (flat backgrounds of screenshots, charts, documents).
        gray_levels: Distinct 8-bit grey levels in the source (a chart has a handful).
    """

    colourfulness: float
    aspect: float
    uniform_fraction: float
    gray_levels: int


def image_statistics(
    pixels: np.ndarray, colourfulness: float, *, max_samples: int = 250_000
) -> ImageStatistics:
    """Compute :class:`ImageStatistics` for a loaded image.

    Args:
        pixels: The loaded grayscale image, float 0..1 (``LoadedImage.pixels``).
        colourfulness: ``LoadedImage.colourfulness``.
        max_samples: Pixels sampled (on a regular grid) for the histogram; keeps big DICOMs fast.

    Returns:
        The statistics.
    """
    height, width = pixels.shape
    stride = max(1, int(np.sqrt(height * width / max_samples)))
    sample = pixels[::stride, ::stride]
    levels = np.clip(np.rint(sample * 255.0), 0, 255).astype(np.uint8).ravel()
    counts = np.bincount(levels, minlength=256)
    return ImageStatistics(
        colourfulness=float(colourfulness),
        aspect=max(height, width) / min(height, width),
        uniform_fraction=float(counts.max() / levels.size),
        gray_levels=int(np.count_nonzero(counts)),
    )


def thumbnail_vector(prepared: np.ndarray, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """Area-average a preprocessed ``(s, s)`` image down to ``size x size``, flattened.

    Args:
        prepared: The model input (``PreprocessedImage.array``); its side must be a multiple
            of ``size`` or it is cropped to the nearest multiple (a few pixels at most).
        size: Thumbnail side.

    Returns:
        float64 vector of ``size * size`` values in 0..1.
    """
    side = prepared.shape[0] - prepared.shape[0] % size
    block = side // size
    trimmed = np.asarray(prepared[:side, :side], dtype=np.float64)
    return trimmed.reshape(size, block, size, block).mean(axis=(1, 3)).ravel()


@dataclass(frozen=True)
class OodVerdict:
    """Outcome of the gate for one image.

    Attributes:
        out_of_distribution: True when the image must not be labelled.
        reason: Why, in plain words (``None`` when in distribution).
        distance: Mahalanobis distance of its features (``None`` if the model did not run).
    """

    out_of_distribution: bool
    reason: str | None
    distance: float | None = None


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


class OodGate:
    """Applies a card's ``ood`` section to images and features."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        validate_ood_spec(spec)
        self._means = np.asarray(list(spec["class_means"].values()), dtype=np.float64)
        self._precision = np.asarray(spec["precision"], dtype=np.float64)
        self.distance_threshold = float(spec["distance_threshold"])
        self.max_colourfulness = float(spec["max_colourfulness"])
        self.max_aspect = float(spec["max_aspect"])
        self.max_uniform_fraction = float(spec["max_uniform_fraction"])
        self.min_gray_levels = int(spec["min_gray_levels"])
        appearance = spec.get("appearance")
        self._appearance = None
        if appearance:
            self._appearance = (
                np.asarray(appearance["mean"], dtype=np.float64),
                np.asarray(appearance["components"], dtype=np.float64),
                np.asarray(appearance["variances"], dtype=np.float64),
                float(appearance["residual_variance"]),
                float(appearance["distance_threshold"]),
            )

    def appearance_distance(self, thumbnails: np.ndarray) -> np.ndarray:
        """Probabilistic-PCA Mahalanobis distance of thumbnails to the training X-rays.

        Returns:
            One distance per row (zeros when the card has no appearance statistics).
        """
        thumbnails = np.atleast_2d(np.asarray(thumbnails, dtype=np.float64))
        if self._appearance is None:
            return np.zeros(len(thumbnails))
        return _ppca_distance(*self._appearance[:4], thumbnails)

    def check_appearance(self, prepared: np.ndarray) -> OodVerdict:
        """The layout check on the preprocessed image (before the model)."""
        if self._appearance is None:
            return OodVerdict(False, None)
        distance = float(self.appearance_distance(thumbnail_vector(prepared))[0])
        limit = self._appearance[4]
        if not np.isfinite(distance) or distance > limit:
            return OodVerdict(
                True,
                f"the image layout does not look like a frontal chest X-ray (appearance "
                f"distance {distance:.2f}, limit {limit:.2f}); lateral view, other body part, "
                "CT/MR slice or not a radiograph?",
            )
        return OodVerdict(False, None)

    def check_image(self, stats: ImageStatistics) -> OodVerdict:
        """Cheap checks that run before the model."""
        if stats.colourfulness > self.max_colourfulness:
            return OodVerdict(
                True,
                f"colour image (colourfulness {stats.colourfulness:.1f}, X-rays are grayscale: "
                f"at most {self.max_colourfulness:.1f}); looks like a photo or screenshot",
            )
        if stats.aspect > self.max_aspect:
            return OodVerdict(
                True,
                f"aspect ratio {stats.aspect:.2f}:1 is not that of a frontal chest X-ray "
                f"(at most {self.max_aspect:.2f}:1)",
            )
        if stats.gray_levels < self.min_gray_levels:
            return OodVerdict(
                True,
                f"only {stats.gray_levels} grey levels (a radiograph has at least "
                f"{self.min_gray_levels}); looks like a chart, drawing or document",
            )
        if stats.uniform_fraction > self.max_uniform_fraction:
            return OodVerdict(
                True,
                f"{stats.uniform_fraction:.0%} of the image is one flat value (at most "
                f"{self.max_uniform_fraction:.0%} in chest X-rays); looks like a screenshot, "
                "chart or document",
            )
        return OodVerdict(False, None)

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Class-conditional Mahalanobis distance (minimum over classes) for each row."""
        features = np.atleast_2d(np.asarray(features, dtype=np.float64))
        diffs = features[:, None, :] - self._means[None, :, :]  # (n, classes, dim)
        squared = np.einsum("ncd,de,nce->nc", diffs, self._precision, diffs)
        return np.sqrt(np.maximum(squared.min(axis=1), 0.0))

    def check_features(self, features: np.ndarray) -> list[OodVerdict]:
        """Feature-space check for a batch of pooled features."""
        verdicts = []
        for distance in self.distances(features):
            if not np.isfinite(distance) or distance > self.distance_threshold:
                verdicts.append(OodVerdict(
                    True,
                    f"image content is unlike the chest X-rays the model was trained on "
                    f"(feature distance {distance:.1f}, limit {self.distance_threshold:.1f}); "
                    "not a frontal chest X-ray, or an unusual one",
                    float(distance),
                ))
            else:
                verdicts.append(OodVerdict(False, None, float(distance)))
        return verdicts


def fit_ood_spec(
    features: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    stats: Sequence[ImageStatistics],
    *,
    thumbnails: np.ndarray | None = None,
    distance_quantile: float = 0.99,
    appearance_quantile: float = 0.995,
    appearance_components: int = 24,
    shrinkage: float = 0.05,
    max_colourfulness: float = 12.0,
    max_aspect: float = 2.5,
) -> dict[str, Any]:
    """Fit the ``ood`` card section on in-distribution (training) X-rays.

    Args:
        features: ``(n, dim)`` pooled features of the reference X-rays.
        labels: ``(n,)`` class indices.
        classes: Class names (index order).
        stats: :class:`ImageStatistics` of the same images.
        thumbnails: ``(n, 256)`` :func:`thumbnail_vector` rows of the same images; enables
            the appearance check.
        distance_quantile: Quantile of the reference distances used as threshold.
        appearance_quantile: Same, for the appearance distance.
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
    spec: dict[str, Any] = {
        "method": "class-conditional Mahalanobis on pooled features + image checks",
        "class_means": {name: [float(v) for v in mean] for name, mean in means.items()},
        "precision": [[float(v) for v in row] for row in precision],
        "distance_threshold": 1.0,  # replaced below once distances are known
        "distance_quantiles": {},
        "max_colourfulness": float(max_colourfulness),
        "max_aspect": float(max_aspect),
        "max_uniform_fraction": 0.0,
        "min_gray_levels": 0,
    }
    distances = OodGate({**spec, "max_uniform_fraction": 1.0}).distances(features)
    quantiles = (0.5, 0.9, 0.95, 0.99, 0.995, 0.999)
    spec["distance_quantiles"] = {
        str(q): float(v) for q, v in zip(quantiles, np.quantile(distances, quantiles), strict=True)
    }
    spec["distance_threshold"] = float(np.quantile(distances, distance_quantile))
    uniform = np.array([s.uniform_fraction for s in stats])
    levels = np.array([s.gray_levels for s in stats])
    # Margins beyond the most extreme training X-ray: these checks exist for screenshots and
    # charts, which are far outside, so they must never fire on a real radiograph.
    spec["max_uniform_fraction"] = float(min(0.95, max(0.30, uniform.max() * 1.25)))
    spec["min_gray_levels"] = int(max(8, min(48, levels.min() // 2)))
    spec["reference_images"] = len(features)
    if thumbnails is not None:
        spec["appearance"] = _fit_appearance(
            np.asarray(thumbnails, dtype=np.float64), appearance_components, appearance_quantile
        )
    return spec


def _fit_appearance(thumbnails: np.ndarray, components: int, quantile: float) -> dict[str, Any]:
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
    distances = _ppca_distance(
        mean, vt[:k], np.asarray(appearance["variances"]), residual_variance, thumbnails
    )
    appearance["distance_threshold"] = float(np.quantile(distances, quantile))
    return appearance


def _ppca_distance(
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
