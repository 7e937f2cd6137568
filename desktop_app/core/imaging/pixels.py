"""Conversions from decoded sample values to LungLens's 0..1 gray, and integer-domain reduction.

Shared by the Pillow and DICOM readers so that both give the same pixels for the same picture.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from desktop_app.core.errors import ImageLoadError

__all__ = [
    "box_reduce",
    "colourfulness_of",
    "composited",
    "finite_to_unit",
    "min_max",
    "power_of_two_factor",
    "reduction_factor",
    "rgb_to_gray",
    "scaled",
]

# ITU-R BT.601 luma, the weights Pillow's convert("L") uses: a colour-saved X-ray (R = G = B)
# keeps its exact gray values.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Colourfulness is a statistic; ~1 M samples on a regular grid estimate it to well under 0.1
# on the 0..255 scale while keeping a 24 Mpx photo cheap.
_COLOUR_SAMPLES = 1 << 20


def scaled(values: np.ndarray, max_value: float) -> np.ndarray:
    """Integer samples divided by their full scale, as a new float32 array."""
    out = values.astype(np.float32)
    out /= max_value
    return out


def composited(gray: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Composite 0..1 gray over **black** using 8-bit ``alpha``.

    Black, not white, because a radiograph's background (air, collimation) is black, the
    transparent part of an exported X-ray is normally its outside, and preprocessing pads with
    black too. On white, that area would become the brightest "tissue" in the image and drive
    percentile windowing. An alpha channel that is entirely 0 is treated as absent: such files
    (e.g. 32-bit BMPs with an unused fourth byte) are opaque in every viewer.
    """
    if alpha is None:
        return gray
    low, high = int(alpha.min()), int(alpha.max())
    if low == 255 or high == 0:
        return gray
    gray *= alpha.astype(np.float32) / 255.0
    return gray


def rgb_to_gray(rgb: np.ndarray, alpha: np.ndarray | None, max_value: float) -> np.ndarray:
    """BT.601 luma of ``(h, w, 3)`` samples in 0..1, composited on black where ``alpha`` says."""
    gray = rgb @ _LUMA
    gray = gray.astype(np.float32, copy=False)
    gray /= max_value
    return composited(gray, alpha)


def colourfulness_of(rgb: np.ndarray, alpha: np.ndarray | None, max_value: float) -> float:
    """Hasler and Süsstrunk (2003) colourfulness ``M = sigma_rgyb + 0.3 mu_rgyb``, 0..255 scale.

    Computed on the colour actually shown (after compositing on black), on a regular grid of at
    most ~1 M pixels.
    """
    height, width = rgb.shape[:2]
    step = max(1, math.ceil(math.sqrt(height * width / _COLOUR_SAMPLES)))
    sample = rgb[::step, ::step].astype(np.float32)
    if max_value != 255:
        sample *= 255.0 / max_value
    if alpha is not None and int(alpha.max()) > 0 and int(alpha.min()) < 255:
        sample *= alpha[::step, ::step, None].astype(np.float32) / 255.0
    red, green, blue = sample[..., 0], sample[..., 1], sample[..., 2]
    rg = red - green
    yb = 0.5 * (red + green) - blue
    spread = math.hypot(float(rg.std()), float(yb.std()))
    mean = math.hypot(float(rg.mean()), float(yb.mean()))
    return spread + 0.3 * mean


def finite_to_unit(file: Path, values: np.ndarray) -> np.ndarray:
    """Map float (or wide integer) data to 0..1.

    NaN becomes the smallest finite value and +-inf is clipped to the finite range (an
    undefined pixel is shown as background rather than as a white spot). Data already within
    0..1 is kept as is (it is then in LungLens's own convention); anything else is stretched
    min..max, since such files carry no display range of their own.
    """
    data = np.asarray(values, dtype=np.float32)
    finite = np.isfinite(data)
    all_finite = bool(finite.all())
    if not all_finite and not finite.any():
        raise ImageLoadError(file, "contains no finite pixel values (all NaN or infinite)")
    low = float(data.min()) if all_finite else float(data[finite].min())
    high = float(data.max()) if all_finite else float(data[finite].max())
    out = data.copy() if data is values else data
    if not all_finite:
        out[np.isnan(out)] = low
        np.clip(out, low, high, out=out)
    if low >= 0.0 and high <= 1.0:
        return out
    return min_max(out)



def min_max(values: np.ndarray) -> np.ndarray:
    """Stretch ``values`` to 0..1 (in place if already float32); a flat image becomes 0."""
    out = values if values.dtype == np.float32 else values.astype(np.float32)
    low, high = float(out.min()), float(out.max())
    if high > low:
        out -= low
        out /= high - low
    else:
        out[...] = 0.0
    return out




# --------------------------------------------------------------------------- reduction


def reduction_factor(width: int, height: int, min_side: int | None, *, limit: int = 64) -> int:
    """Largest integer factor that keeps the shorter side at least ``min_side`` pixels.

    Args:
        width: Width of the full image.
        height: Height of the full image.
        min_side: Shortest side the reduced image must keep, or ``None`` for no reduction.
        limit: Largest factor allowed (codecs have their own limits).

    Returns:
        1 (no reduction) up to ``limit``; ``ceil(side / factor) >= min_side`` holds.
    """
    if min_side is None or min_side <= 0:
        return 1
    factor = min(width, height) // min_side  # floor(side / k) >= min_side implies ceil too
    return max(1, min(limit, factor))


def power_of_two_factor(width: int, height: int, min_side: int | None, *, limit: int) -> int:
    """Like :func:`reduction_factor` but a power of two (DCT scaling, JPEG 2000 levels)."""
    factor = reduction_factor(width, height, min_side, limit=limit)
    return 1 << (factor.bit_length() - 1)


def box_reduce(values: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each ``factor x factor`` block, computed before any float conversion of the image.

    Runs on the decoded samples so that windowing, scaling and the model's resize all work on
    ``1/factor**2`` of the pixels. Edge blocks average the pixels they have, so no row or
    column is dropped and the result is ``ceil(side / factor)`` on each side. 8-bit data
    (gray or colour) goes through Pillow's ``Image.reduce`` (C, stays 8-bit, the mean rounded);
    other integers are summed rows first, then columns, into float32 accumulators (exact for
    sums below 2**24: 16-bit samples in blocks of up to 16 x 16), about the cost of one float
    conversion of the image and several times faster than Pillow's 32-bit integer mode.

    Args:
        values: ``(h, w)`` or ``(h, w, 3|4)`` decoded samples.
        factor: Block side; 1 returns ``values`` unchanged.

    Returns:
        The block means: uint8 for uint8 input, float32 for other 2-D input; layouts it
        cannot reduce (wide colour) are returned unchanged.
    """
    if factor <= 1:
        return values
    if values.dtype == np.uint8:
        return np.asarray(Image.fromarray(np.ascontiguousarray(values)).reduce(factor))
    if values.ndim != 2 or values.dtype.kind not in "iuf":
        return values
    return _block_means(_block_means(values, factor).T, factor).T


def _block_means(values: np.ndarray, factor: int) -> np.ndarray:
    """Means of ``factor`` consecutive rows (the last group may be shorter), float32.

    Strided row slices added into one float32 accumulator: each sample is read once and
    converted inside the addition, without a float copy of the whole image.
    """
    height, width = values.shape
    groups, whole = height // factor, height // factor * factor
    out = np.empty((-(-height // factor), width), dtype=np.float32)
    if groups:
        body = out[:groups]
        body[...] = values[0:whole:factor]
        for offset in range(1, factor):
            body += values[offset:whole:factor]
        body *= 1.0 / factor
    if whole < height:
        np.mean(values[whole:], axis=0, dtype=np.float32, out=out[-1])
    return out
