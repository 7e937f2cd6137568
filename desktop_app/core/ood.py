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
   Two companions (optional card sections, fitted the same way) catch what a 16x16
   average cannot see: **global statistics** (brightness, contrast, dark and bright fractions,
   sharpness, histogram entropy, the bright-centre / dark-sides profile, left-right symmetry)
   scored with a full-covariance Mahalanobis distance, so that one extreme value (the
   sharpness of pixel noise, the entropy of a two-level chart) stands out instead of being
   averaged away among hundreds of dimensions; and a **texture** model (histogram plus 8x8
   maps of gradient and fine-detail energy) for photos of textured surfaces, noise and
   modalities with speckle. A one-number **orientation** check (the bright mediastinum must
   run top to bottom) refuses films turned by 90°, which otherwise look like radiographs in
   every statistic. Measured on a labelled set of non-chest-X-rays in
   ``docs/ood_evaluation.md`` (``benchmarks/ood_eval.py``).
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
    "GLOBAL_NAMES",
    "THUMBNAIL_SIZE",
    "ImageStatistics",
    "OodGate",
    "OodVerdict",
    "appearance_vectors",
    "fit_ood_spec",
    "global_vector",
    "image_statistics",
    "orientation_score",
    "texture_vector",
    "thumbnail_vector",
    "validate_ood_spec",
]

THUMBNAIL_SIZE = 16
_MIN_APPEARANCE_VARIANCE = 1e-4
_TEXTURE_BLOCKS = 8
_HISTOGRAM_BINS = 16
_ENERGY_FLOOR = 1e-3  # keeps the log of a perfectly flat block finite
_TEXTURE_LENGTH = _HISTOGRAM_BINS + 2 * _TEXTURE_BLOCKS * _TEXTURE_BLOCKS
#: Names of the :func:`global_vector` entries, in order (recorded in the card for reference).
GLOBAL_NAMES: tuple[str, ...] = (
    "mean", "std", "dark_fraction", "bright_fraction", "log_gradient", "log_detail",
    "gradient_spread", "entropy", "centre_minus_sides", "middle_minus_top_and_bottom",
    "left_right_symmetry", "top_bottom_symmetry", "top_minus_bottom",
)
_CENTRE_COLUMN = GLOBAL_NAMES.index("centre_minus_sides")
_CENTRE_ROW = GLOBAL_NAMES.index("middle_minus_top_and_bottom")

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
    pixels: np.ndarray, colourfulness: float, *, max_samples: int = 65_536
) -> ImageStatistics:
    """Compute :class:`ImageStatistics` for a loaded image.

    Args:
        pixels: The loaded grayscale image, float 0..1 (``LoadedImage.pixels``).
        colourfulness: ``LoadedImage.colourfulness``.
        max_samples: Pixels sampled (on a regular grid) for the histogram; keeps big files
            fast. 256² samples still show a real X-ray at least 131 grey levels (measured on
            200 training images; the check needs 48); a chart sampled shows fewer levels,
            never more, and the flat fraction is a proportion that a regular grid estimates
            without bias.

    Returns:
        The statistics.
    """
    height, width = pixels.shape
    stride = max(1, int(np.sqrt(height * width / max_samples)))
    sample = pixels[::stride, ::stride]
    # In place in float32: this runs for every file of a folder, next to decoding.
    scaled = np.multiply(sample, 255.0, dtype=np.float32)
    np.clip(scaled, 0.0, 255.0, out=scaled)
    levels = np.rint(scaled, out=scaled).astype(np.uint8).ravel()
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
    return _block_means(np.asarray(prepared), size).ravel()


def _block_means(values: np.ndarray, size: int) -> np.ndarray:
    """Mean of each of ``size x size`` square blocks of the top-left square, as float64.

    Rows are summed first (contiguous, vectorised), then columns, accumulating in float64:
    about five times faster than ``reshape(...).mean(axis=(1, 3))``, which matters because
    it runs several times per image in the decode threads.
    """
    side = min(values.shape) - min(values.shape) % size
    block = side // size
    rows = values[:side, :side].reshape(size, block, side).sum(axis=1, dtype=np.float64)
    return rows.reshape(size, size, block).sum(axis=2) / float(block * block)


@dataclass(frozen=True)
class _Maps:
    """Per-image intermediates shared by :func:`texture_vector` and :func:`global_vector`."""

    image: np.ndarray
    gradient: np.ndarray  # |d/dy| + |d/dx|
    detail: np.ndarray  # distance to the 3x3 box mean
    histogram: np.ndarray  # 32 bins over 0..1, fractions
    block_gradient: np.ndarray  # 8x8 block means of ``gradient``
    block_detail: np.ndarray  # 8x8 block means of ``detail``
    thumbnail: np.ndarray  # :func:`thumbnail_vector` of ``image``


def _maps(prepared: np.ndarray) -> _Maps:
    """Compute the shared intermediates once (the gate runs per image in the decode threads)."""
    image = np.asarray(prepared, dtype=np.float32)
    height, width = image.shape
    gradient = np.zeros_like(image)
    inner = gradient[:-1, :-1]
    np.subtract(image[1:, :-1], image[:-1, :-1], out=inner)
    np.abs(inner, out=inner)
    across = np.subtract(image[:-1, 1:], image[:-1, :-1])
    np.abs(across, out=across)
    inner += across
    padded = np.pad(image, 1, mode="edge")
    rows = padded[0:height] + padded[1:height + 1]  # separable 3x3 box
    rows += padded[2:height + 2]
    box = rows[:, 0:width] + rows[:, 1:width + 1]
    box += rows[:, 2:width + 2]
    box /= 9.0
    detail = np.subtract(image, box, out=box)
    np.abs(detail, out=detail)
    scaled = np.multiply(image, 32.0)  # == np.histogram(bins=32, range=(0, 1)) for 0..1 input
    np.clip(scaled, 0.0, 31.0, out=scaled)
    histogram = np.bincount(scaled.astype(np.uint8).ravel(), minlength=32) / image.size
    return _Maps(image, gradient, detail, histogram,
                 _block_means(gradient, _TEXTURE_BLOCKS), _block_means(detail, _TEXTURE_BLOCKS),
                 thumbnail_vector(image))


def _texture_from(maps: _Maps) -> np.ndarray:
    return np.concatenate([
        maps.histogram.reshape(_HISTOGRAM_BINS, -1).sum(axis=1),
        np.log(maps.block_gradient + _ENERGY_FLOOR).ravel(),
        np.log(maps.block_detail + _ENERGY_FLOOR).ravel(),
    ]).astype(np.float64)


def texture_vector(prepared: np.ndarray) -> np.ndarray:
    """Intensity histogram and 8x8 maps of log gradient and log fine-detail energy.

    A radiograph is smooth with edges at bone and organ borders; noise, gravel, grass and
    speckle are busy everywhere, charts and documents are flat with sharp strokes. The
    histogram (after the preprocessing's percentile windowing) separates two-level drawings
    and evenly spread noise from the broad, skewed histogram of a film.

    Args:
        prepared: The model input (``PreprocessedImage.array``), values 0..1.

    Returns:
        float64 vector of ``16 + 64 + 64`` values.
    """
    return _texture_from(_maps(prepared))


def appearance_vectors(prepared: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`thumbnail_vector`, :func:`texture_vector` and :func:`global_vector` at once.

    The texture and global vectors share their gradient and detail maps; fitting the gate on
    a few thousand training images computes them once instead of twice.
    """
    maps = _maps(prepared)
    return maps.thumbnail, _texture_from(maps), _global_from(maps)


def orientation_score(globals_: np.ndarray) -> np.ndarray:
    """How much a film looks upright: the column profile's mediastinum minus the row profile's.

    Positive for a frontal chest film (bright centre column between dark lungs, no bright
    centre row); negative when the film is turned by 90° or the image has no such layout. It
    is a one-sided, one-number check because the global distance, for all its dimensions,
    lets a sideways film through when everything else about it is a radiograph.

    Args:
        globals_: :func:`global_vector` rows ``(n, len(GLOBAL_NAMES))`` or one row.

    Returns:
        One score per row.
    """
    rows = np.atleast_2d(np.asarray(globals_, dtype=np.float64))
    return rows[:, _CENTRE_COLUMN] - rows[:, _CENTRE_ROW]


def global_vector(prepared: np.ndarray) -> np.ndarray:
    """A few whole-image statistics (named in :data:`GLOBAL_NAMES`).

    Low-dimensional on purpose: in a 256-dimensional distance one extreme value is averaged
    away; here the sharpness of pixel noise, the entropy of a chart or the missing bright
    mediastinum between dark lungs each move the distance on their own.

    Args:
        prepared: The model input (``PreprocessedImage.array``), values 0..1.

    Returns:
        float64 vector of ``len(GLOBAL_NAMES)`` values.
    """
    return _global_from(_maps(prepared))


def _global_from(maps: _Maps) -> np.ndarray:
    image = maps.image
    height, width = image.shape
    size = image.size
    block_gradient = np.log(maps.block_gradient + _ENERGY_FLOOR)
    counts = maps.histogram
    nonzero = counts[counts > 0]
    # float32 pairwise sums and a BLAS dot for the second moment: for these 0..1 values the
    # results agree with float64 to about 1e-6, at a third of the cost.
    flat = image.ravel()
    mean = float(flat.mean())
    variance = max(float(np.dot(flat, flat)) / size - mean * mean, 0.0)
    # Band means from two profiles: each band is a slice of equally weighted columns (rows),
    # so the mean of the profile slice equals the mean of the image slice, in two passes
    # instead of twelve.
    columns = image[int(0.2 * height):int(0.8 * height)].mean(axis=0)
    rows = image[:, int(0.2 * width):int(0.8 * width)].mean(axis=1)

    def column_band(low: float, high: float) -> float:
        return float(columns[int(low * width):int(high * width)].mean())

    def row_band(low: float, high: float) -> float:
        return float(rows[int(low * height):int(high * height)].mean())

    thumb = maps.thumbnail.reshape(THUMBNAIL_SIZE, THUMBNAIL_SIZE)

    def symmetry(mirrored: np.ndarray) -> float:
        spread = thumb.std() * mirrored.std()
        if spread <= 1e-9:
            return 1.0
        return float(((thumb - thumb.mean()) * (mirrored - mirrored.mean())).mean() / spread)

    half = height // 2
    top = float(image[:half].mean())
    bottom = float(image[half:].mean())
    # The bright mediastinum between dark lungs runs top to bottom in a frontal film: the
    # column profile shows it, the row profile must not (a film turned by 90° swaps them).
    return np.array([
        mean,
        float(np.sqrt(variance)),
        np.count_nonzero(image < 0.02) / size,
        np.count_nonzero(image > 0.98) / size,
        float(np.log(maps.gradient.mean() + _ENERGY_FLOOR)),
        float(np.log(maps.detail.mean() + _ENERGY_FLOOR)),
        float(block_gradient.std()),
        float(-(nonzero * np.log(nonzero)).sum()),
        column_band(0.4, 0.6) - 0.5 * (column_band(0.15, 0.35) + column_band(0.65, 0.85)),
        row_band(0.4, 0.6) - 0.5 * (row_band(0.15, 0.35) + row_band(0.65, 0.85)),
        symmetry(thumb[:, ::-1]),
        symmetry(thumb[::-1, :]),
        top - bottom,
    ])


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
    # The optional appearance companions must match this version's vectors: a card from a
    # version with other statistics would otherwise compare unrelated numbers.
    expected = {"appearance": THUMBNAIL_SIZE * THUMBNAIL_SIZE,
                "texture": _TEXTURE_LENGTH, "global": len(GLOBAL_NAMES)}
    for name, length in expected.items():
        section = spec.get(name)
        if section and len(section.get("mean", ())) != length:
            raise ValueError(
                f"ood {name} statistics have {len(section.get('mean', ()))} dimensions, this "
                f"LungLens version computes {length}; re-fit the card's ood section"
            )


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
        # Optional companions of the layout check (cards written before them lack them).
        self._texture = _PpcaModel.from_spec(spec.get("texture"))
        self._global = _PpcaModel.from_spec(spec.get("global"))
        orientation = spec.get("orientation")
        self._min_orientation = float(orientation["min_score"]) if orientation else None

    def texture_distance(self, vectors: np.ndarray) -> np.ndarray:
        """Distance of :func:`texture_vector` rows to the training X-rays (zeros if unfitted)."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
        return self._texture.distance(vectors) if self._texture else np.zeros(len(vectors))

    def global_distance(self, vectors: np.ndarray) -> np.ndarray:
        """Distance of :func:`global_vector` rows to the training X-rays (zeros if unfitted)."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
        return self._global.distance(vectors) if self._global else np.zeros(len(vectors))

    def appearance_distances(self, prepared: np.ndarray) -> dict[str, tuple[float, float]]:
        """Each fitted pre-model check's ``(distance, limit)`` for one preprocessed image.

        Keys: ``"layout"``, ``"orientation"``, ``"global"``, ``"texture"`` (those the card
        has); a check fires when its distance exceeds its limit. For ``"orientation"`` the
        pair is ``(-score, -min_score)`` of :func:`orientation_score`. Used by the evaluation
        to report which check fired; :meth:`check_appearance` applies them.
        """
        out: dict[str, tuple[float, float]] = {}
        maps = _maps(prepared) if (self._global or self._texture
                                   or self._min_orientation is not None) else None
        vector = _global_from(maps) if maps is not None else None
        if self._appearance is not None:
            thumbnail = maps.thumbnail if maps is not None else thumbnail_vector(prepared)
            out["layout"] = (float(self.appearance_distance(thumbnail)[0]), self._appearance[4])
        if self._min_orientation is not None and vector is not None:
            out["orientation"] = (-float(orientation_score(vector)[0]), -self._min_orientation)
        if self._global is not None and vector is not None:
            out["global"] = (float(self._global.distance(vector[None])[0]),
                             self._global.threshold)
        if self._texture is not None:
            out["texture"] = (float(self._texture.distance(_texture_from(maps)[None])[0]),
                              self._texture.threshold)
        return out

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
        """The appearance checks on the preprocessed image (before the model).

        Layout first (its reason is the most telling), then orientation, global statistics
        and texture.
        """
        reasons = {
            "layout": "the image layout does not look like a frontal chest X-ray (appearance "
                      "distance {d:.2f}, limit {t:.2f}); lateral view, other body part, "
                      "CT/MR slice or not a radiograph?",
            "orientation": "the film looks turned sideways or is not a frontal chest X-ray: "
                           "the bright mediastinum between the lungs should run top to bottom "
                           "(orientation score {nd:.2f}, at least {nt:.2f})",
            "global": "brightness, contrast and sharpness are unlike a chest X-ray (global "
                      "distance {d:.2f}, limit {t:.2f}); photo, noise, drawing or another "
                      "kind of image?",
            "texture": "the image texture is unlike a chest X-ray (texture distance {d:.2f}, "
                       "limit {t:.2f}); photo, noise, ultrasound or another kind of image?",
        }
        for name, (distance, limit) in self.appearance_distances(prepared).items():
            if not np.isfinite(distance) or distance > limit:
                return OodVerdict(True, reasons[name].format(d=distance, t=limit,
                                                             nd=-distance, nt=-limit))
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
        # (diffs @ P) · diffs: one BLAS matrix product; a three-operand einsum without a
        # contraction path loops in C over n x classes x dim x dim (0.4 ms per image).
        squared = ((diffs @ self._precision) * diffs).sum(axis=2)
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
    texture_vectors: np.ndarray | None = None,
    global_vectors: np.ndarray | None = None,
    distance_quantile: float = 0.99,
    appearance_quantile: float = 0.995,
    texture_quantile: float = 0.999,
    global_quantile: float = 0.999,
    orientation_quantile: float = 0.001,
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
    if texture_vectors is not None:
        spec["texture"] = _PpcaModel.fit(np.asarray(texture_vectors, dtype=np.float64),
                                         components=24, quantile=texture_quantile)
        spec["texture"]["vector"] = "texture_vector: 16-bin histogram, 8x8 log gradient, " \
                                    "8x8 log detail"
    if global_vectors is not None:
        spec["global"] = _PpcaModel.fit(np.asarray(global_vectors, dtype=np.float64),
                                        components=len(GLOBAL_NAMES), quantile=global_quantile)
        spec["global"]["names"] = list(GLOBAL_NAMES)
        spec["orientation"] = {"min_score": float(np.quantile(
            orientation_score(np.asarray(global_vectors)), orientation_quantile))}
    return spec


@dataclass(frozen=True)
class _PpcaModel:
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
    def from_spec(cls, section: Mapping[str, Any] | None) -> _PpcaModel | None:
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
        model = _PpcaModel(mean, scale, vt[:k], variances, residual, 1.0)
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
        z = (vectors - self.mean) / self.scale
        return _ppca_distance(np.zeros_like(self.mean), self.components, self.variances,
                              self.residual_variance, z)


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
