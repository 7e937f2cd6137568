"""The one definition of how an X-ray becomes model input.

Training (``model_training``) and the application both call :func:`preprocess`, with the
:class:`PreprocessingSpec` stored in the model card, so the app always prepares an image the
way the model it runs was trained on.

Design choices (see docs/preprocessing.md):

* **Keep the aspect ratio and pad** to a square (``resize="pad"``, the default). Cropping can
  cut off the costophrenic angles or lung apices, where effusions and apical disease show, and
  stretching distorts the cardiothoracic ratio. ``"crop"`` and ``"stretch"`` are available for
  experiments and are recorded in the card when used.
* **Resize first, then normalise intensities** on the resized content only (never on the pad):
  percentiles of a 224 px image are as stable as those of a 3000 px one and 100x cheaper.
* **Percentile windowing** maps the 0.5th..99.5th percentile to 0..1. It removes the scanner's
  and post-processor's global brightness and contrast (an 8-bit JPEG, a 16-bit PNG and a
  12-bit DICOM of the same exposure give the same input) and blunts one of the shortcuts
  between the pediatric and the adult sources.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from PIL import Image

__all__ = [
    "SUBSAMPLE_FACTOR",
    "PreprocessedImage",
    "PreprocessingSpec",
    "percentiles",
    "preprocess",
    "preprocess_batch",
    "preprocess_subsampled",
    "to_uint8",
]

ResizePolicy = Literal["pad", "crop", "stretch"]
IntensityPolicy = Literal["percentile", "minmax", "equalize", "none"]
RegionPolicy = Literal["image", "lungs"]
_RESIZE_POLICIES: tuple[str, ...] = ("pad", "crop", "stretch")
_INTENSITY_POLICIES: tuple[str, ...] = ("percentile", "minmax", "equalize", "none")
_REGION_POLICIES: tuple[str, ...] = ("image", "lungs")
#: :func:`preprocess_subsampled` keeps about this many pixels per input pixel along the long
#: side (at least one): Pillow's antialiased resize then works on a few thousand pixels, and a
#: 3000 px DICOM costs as little as a 300 px JPEG.
SUBSAMPLE_FACTOR = 1.5
#: Histogram bins of ``"equalize"``: finer than 8-bit input, coarse enough to stay cheap.
EQUALIZE_BINS = 1024
_RESAMPLING = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
}


@dataclass(frozen=True)
class PreprocessingSpec:
    """How an image is turned into model input; saved verbatim in the model card.

    Attributes:
        input_size: Side of the square model input in pixels.
        resize: ``"pad"`` (keep aspect, pad to square), ``"crop"`` (keep aspect, centre crop)
            or ``"stretch"`` (ignore aspect).
        interpolation: Pillow resampling filter name; Pillow antialiases when shrinking.
        intensity: ``"percentile"`` windowing, ``"minmax"``, ``"equalize"`` (histogram
            equalisation: invariant to any monotone grey-level curve) or ``"none"``.
        low_percentile: Lower percentile mapped to 0 (``"percentile"`` only).
        high_percentile: Upper percentile mapped to 1 (``"percentile"`` only).
        pad_value: Value of the padding, in the normalised 0..1 range (0 = black, like the
            collimated border of most radiographs).
        channels: Channels of the model input; 1 (grayscale).
        region: ``"image"`` (the whole film) or ``"lungs"`` (the lung box found by the lung
            segmenter named in ``lung_segmenter``, see ``desktop_app.core.classify.lung_fields``;
            the
            whole film when it finds no lungs).
        lung_segmenter: Model id of the lung segmenter (``region="lungs"`` only).
        lung_margin: Widening of the lung box on each side, as a share of its size.
    """

    input_size: int = 224
    resize: ResizePolicy = "pad"
    interpolation: str = "bilinear"
    intensity: IntensityPolicy = "percentile"
    low_percentile: float = 0.5
    high_percentile: float = 99.5
    pad_value: float = 0.0
    channels: int = 1
    region: RegionPolicy = "image"
    lung_segmenter: str = ""
    lung_margin: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.input_size, int) or not 16 <= self.input_size <= 1024:
            raise ValueError(
                f"input_size must be an integer from 16 to 1024. Received: {self.input_size!r}"
            )
        if self.resize not in _RESIZE_POLICIES:
            raise ValueError(f"resize must be one of {_RESIZE_POLICIES}. Received: {self.resize!r}")
        if self.interpolation not in _RESAMPLING:
            raise ValueError(
                f"interpolation must be one of {tuple(_RESAMPLING)}. "
                f"Received: {self.interpolation!r}"
            )
        if self.intensity not in _INTENSITY_POLICIES:
            raise ValueError(
                f"intensity must be one of {_INTENSITY_POLICIES}. Received: {self.intensity!r}"
            )
        if not 0.0 <= self.low_percentile < self.high_percentile <= 100.0:
            raise ValueError(
                "percentiles must satisfy 0 <= low < high <= 100. Received: "
                f"low_percentile={self.low_percentile!r}, high_percentile={self.high_percentile!r}"
            )
        if not 0.0 <= self.pad_value <= 1.0:
            raise ValueError(f"pad_value must be within 0..1. Received: {self.pad_value!r}")
        if self.channels != 1:
            raise ValueError(f"only 1-channel (grayscale) input is supported. Received: "
                             f"channels={self.channels!r}")
        if self.region not in _REGION_POLICIES:
            raise ValueError(f"region must be one of {_REGION_POLICIES}. Received: {self.region!r}")
        if (self.region == "lungs") != bool(self.lung_segmenter):
            raise ValueError("lung_segmenter names the segmenter exactly when region is 'lungs'. "
                             f"Received: region={self.region!r}, "
                             f"lung_segmenter={self.lung_segmenter!r}")
        if not 0.0 <= self.lung_margin <= 0.5:
            raise ValueError(f"lung_margin must be within 0..0.5. Received: {self.lung_margin!r}")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape of one model input, ``(height, width, channels)``."""
        return (self.input_size, self.input_size, self.channels)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form stored in ``model_card.json``.

        The lung fields are written only when used, so a whole-film spec reads (and hashes,
        e.g. as a cache key) exactly as before they existed.
        """
        data = dataclasses.asdict(self)
        if self.region == "image":
            for name in ("region", "lung_segmenter", "lung_margin"):
                del data[name]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PreprocessingSpec:
        """Build a spec from a model card's ``preprocessing`` section.

        Raises:
            ValueError: If a key is unknown or a value is invalid; the message names it.
        """
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown preprocessing field(s) {unknown}; this LungLens version knows "
                f"{sorted(known)}"
            )
        return cls(**dict(data))


@dataclass(frozen=True)
class PreprocessedImage:
    """Model input for one image plus where the image content sits inside it.

    Attributes:
        array: float32 array ``(input_size, input_size)`` in 0..1, exactly what the model sees
            (add a trailing channel axis for the model).
        content_box: ``(left, top, right, bottom)`` of the image content inside ``array``
            (the rest is padding); used to map heat maps back onto the original.
        source_box: ``(left, top, right, bottom)`` of the part of the original image that is
            shown (the whole image unless ``resize="crop"``).
    """

    array: np.ndarray
    content_box: tuple[int, int, int, int]
    source_box: tuple[int, int, int, int]


def _geometry(
    height: int, width: int, spec: PreprocessingSpec
) -> tuple[tuple[int, int, int, int], tuple[int, int], tuple[int, int, int, int]]:
    """Return (source crop box, resized size (w, h), content box in the output)."""
    size = spec.input_size
    if spec.resize == "stretch":
        return (0, 0, width, height), (size, size), (0, 0, size, size)
    if spec.resize == "pad":
        scale = size / max(height, width)
        new_w = max(1, min(size, round(width * scale)))
        new_h = max(1, min(size, round(height * scale)))
        left = (size - new_w) // 2
        top = (size - new_h) // 2
        return (0, 0, width, height), (new_w, new_h), (left, top, left + new_w, top + new_h)
    # crop: centre square of the shorter side
    side = min(height, width)
    left = (width - side) // 2
    top = (height - side) // 2
    return (left, top, left + side, top + side), (size, size), (0, 0, size, size)


def _equalize(values: np.ndarray) -> np.ndarray:
    """Map each pixel to the share of pixels at or below it (the empirical CDF), in 0..1.

    A histogram of :data:`EQUALIZE_BINS` bins over the value range, interpolated linearly
    inside each bin, keeps the result continuous and the cost one pass over the pixels.
    """
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-6:
        return np.full_like(values, 0.5 if high > 0 else 0.0)
    counts, edges = np.histogram(values, bins=EQUALIZE_BINS, range=(low, high))
    cdf = np.concatenate(([0.0], np.cumsum(counts, dtype=np.float64)))
    cdf /= cdf[-1]
    return np.interp(values, edges, cdf).astype(np.float32)


def percentiles(values: np.ndarray, quantiles: tuple[float, ...]) -> tuple[float, ...]:
    """``np.percentile(values, quantiles)`` (linear method), bit for bit, at half the cost.

    ``np.percentile`` partitions the data once per order statistic it needs and then some;
    one ``np.partition`` at the few indices needed and numpy's own interpolation rule give
    the same floats (tested against ``np.percentile`` on thousands of arrays). It runs for
    every image the app classifies.
    """
    flat = np.asarray(values).ravel()
    count = flat.size
    position = np.asarray(quantiles, dtype=np.float64) / 100.0 * (count - 1)
    below = np.floor(position).astype(np.intp)
    above = np.minimum(below + 1, count - 1)
    ordered = np.partition(flat, np.unique(np.concatenate([below, above])))
    low, high, weight = ordered[below], ordered[above], position - below
    step = high - low
    # numpy's lerp: from the nearer end, so that weight 1 gives exactly ``high``.
    mixed = np.where(weight >= 0.5, high - step * (1.0 - weight), low + step * weight)
    return tuple(float(v) for v in mixed)


def _normalise(values: np.ndarray, spec: PreprocessingSpec) -> np.ndarray:
    if spec.intensity == "none":
        return np.clip(values, 0.0, 1.0)
    if spec.intensity == "equalize":
        return _equalize(values)
    if spec.intensity == "minmax":
        low, high = float(values.min()), float(values.max())
    else:
        low, high = percentiles(values, (spec.low_percentile, spec.high_percentile))
    if high - low < 1e-6:
        # A flat image carries no information; keep it flat rather than amplify noise.
        return np.full_like(values, 0.5 if high > 0 else 0.0)
    return np.clip((values - low) / (high - low), 0.0, 1.0)


def preprocess(
    pixels: np.ndarray,
    spec: PreprocessingSpec,
    *,
    region: tuple[int, int, int, int] | None = None,
) -> PreprocessedImage:
    """Turn a loaded grayscale image into the model input described by ``spec``.

    Args:
        pixels: 2-D array (height, width), any real dtype; integer data is read as is, float
            data is expected in 0..1 (what :func:`desktop_app.core.imaging.load_image`
            returns). Non-finite values must already be removed.
        spec: The model's preprocessing spec (from its model card).
        region: ``(left, top, right, bottom)`` of the part of the image to use (the lung box
            for ``spec.region == "lungs"``, from
            :func:`desktop_app.core.classify.lung_fields.prepare_model_input`); None: the whole
            image.

    Returns:
        The model input and the geometry needed to align heat maps with the original.

    Raises:
        ValueError: If ``pixels`` is not a non-empty 2-D array.
    """
    array = np.asarray(pixels)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"expected a non-empty 2-D grayscale array. Received shape {array.shape}")
    array = array.astype(np.float32, copy=False)
    offset_x = offset_y = 0
    if region is not None:
        left, top, right, bottom = (int(v) for v in region)
        if not (0 <= left < right <= array.shape[1] and 0 <= top < bottom <= array.shape[0]):
            raise ValueError(f"region {region!r} is not inside the image of shape {array.shape}")
        array, offset_x, offset_y = array[top:bottom, left:right], left, top
    height, width = array.shape
    source_box, (new_w, new_h), content_box = _geometry(height, width, spec)
    image = Image.fromarray(np.ascontiguousarray(array))  # mode "F": resampling stays in float
    if source_box != (0, 0, width, height):
        image = image.crop(source_box)
    if image.size != (new_w, new_h):
        image = image.resize((new_w, new_h), resample=_RESAMPLING[spec.interpolation])
    content = _normalise(np.asarray(image, dtype=np.float32), spec)
    size = spec.input_size
    out = np.full((size, size), spec.pad_value, dtype=np.float32)
    left, top, right, bottom = content_box
    out[top:bottom, left:right] = content
    if offset_x or offset_y:
        source_box = (source_box[0] + offset_x, source_box[1] + offset_y,
                      source_box[2] + offset_x, source_box[3] + offset_y)
    return PreprocessedImage(array=out, content_box=content_box, source_box=source_box)


def preprocess_subsampled(pixels: np.ndarray, spec: PreprocessingSpec) -> PreprocessedImage:
    """:func:`preprocess` after a cheap strided subsample, for the small auxiliary models.

    The view check (48 px) and the lung segmenter (64 px) need a far smaller input than the
    loaded image; striding it to about :data:`SUBSAMPLE_FACTOR` times their input side first
    keeps their cost independent of the file's size. Their training and the app both call
    this, so each model sees in the app what it saw in training.
    """
    array = np.asarray(pixels)
    stride = max(1, max(array.shape[:2]) // int(SUBSAMPLE_FACTOR * spec.input_size))
    return preprocess(array[::stride, ::stride], spec)


def preprocess_batch(images: list[np.ndarray], spec: PreprocessingSpec) -> np.ndarray:
    """Preprocess several images into one ``(n, size, size, channels)`` float32 batch."""
    batch = np.empty((len(images), *spec.input_shape), dtype=np.float32)
    for index, pixels in enumerate(images):
        batch[index, :, :, 0] = preprocess(pixels, spec).array
    return batch


def to_uint8(array: np.ndarray) -> np.ndarray:
    """Convert a 0..1 float image to 8-bit for display (rounding, clipping)."""
    return np.clip(np.rint(np.asarray(array, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)

