"""Cheap facts and small appearance vectors of an image, computed before the model runs.

A frontal chest film has a stable layout (two dark lung fields either side of a bright
mediastinum) and a radiograph's smooth texture; photos, charts, CT slices, other body parts
and noise do not. These vectors are what :mod:`desktop_app.core.gate.appearance` scores
against the training X-rays:

* :class:`ImageStatistics` (colour, aspect ratio, flat areas, grey levels) of the loaded image;
* a 16x16 **thumbnail** of the preprocessed image (layout);
* a **texture** vector (histogram plus 8x8 maps of gradient and fine-detail energy);
* a few **global** statistics (named in :data:`GLOBAL_NAMES`), including the bright-centre /
  dark-sides profile that :func:`orientation_score` turns into the sideways-film check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "GLOBAL_NAMES",
    "TEXTURE_LENGTH",
    "THUMBNAIL_SIZE",
    "ImageMaps",
    "ImageStatistics",
    "appearance_vectors",
    "global_from_maps",
    "global_vector",
    "image_maps",
    "image_statistics",
    "orientation_score",
    "texture_from_maps",
    "texture_vector",
    "thumbnail_vector",
]

THUMBNAIL_SIZE = 16
_TEXTURE_BLOCKS = 8
_HISTOGRAM_BINS = 16
_ENERGY_FLOOR = 1e-3  # keeps the log of a perfectly flat block finite
#: Length of :func:`texture_vector`.
TEXTURE_LENGTH = _HISTOGRAM_BINS + 2 * _TEXTURE_BLOCKS * _TEXTURE_BLOCKS
#: Names of the :func:`global_vector` entries, in order (recorded in the card for reference).
GLOBAL_NAMES: tuple[str, ...] = (
    "mean", "std", "dark_fraction", "bright_fraction", "log_gradient", "log_detail",
    "gradient_spread", "entropy", "centre_minus_sides", "middle_minus_top_and_bottom",
    "left_right_symmetry", "top_bottom_symmetry", "top_minus_bottom",
)
_CENTRE_COLUMN = GLOBAL_NAMES.index("centre_minus_sides")
_CENTRE_ROW = GLOBAL_NAMES.index("middle_minus_top_and_bottom")


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
class ImageMaps:
    """Per-image intermediates shared by :func:`texture_vector` and :func:`global_vector`."""

    image: np.ndarray
    gradient: np.ndarray  # |d/dy| + |d/dx|
    detail: np.ndarray  # distance to the 3x3 box mean
    histogram: np.ndarray  # 32 bins over 0..1, fractions
    block_gradient: np.ndarray  # 8x8 block means of ``gradient``
    block_detail: np.ndarray  # 8x8 block means of ``detail``
    thumbnail: np.ndarray  # :func:`thumbnail_vector` of ``image``


def image_maps(prepared: np.ndarray) -> ImageMaps:
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
    return ImageMaps(image, gradient, detail, histogram,
                     _block_means(gradient, _TEXTURE_BLOCKS),
                     _block_means(detail, _TEXTURE_BLOCKS), thumbnail_vector(image))


def texture_from_maps(maps: ImageMaps) -> np.ndarray:
    """:func:`texture_vector` from maps already computed."""
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
    return texture_from_maps(image_maps(prepared))


def appearance_vectors(prepared: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`thumbnail_vector`, :func:`texture_vector` and :func:`global_vector` at once.

    The texture and global vectors share their gradient and detail maps; fitting the gate on
    a few thousand training images computes them once instead of twice.
    """
    maps = image_maps(prepared)
    return maps.thumbnail, texture_from_maps(maps), global_from_maps(maps)


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
    return global_from_maps(image_maps(prepared))


def global_from_maps(maps: ImageMaps) -> np.ndarray:
    """:func:`global_vector` from maps already computed."""
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
