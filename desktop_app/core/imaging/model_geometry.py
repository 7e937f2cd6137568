"""Keep a reduced decode's model-input geometry identical to the full image's.

A reduced side is the full side divided by the reduction, rounded up, so its aspect ratio is
off by up to a pixel in ~400; the card's preprocessing rounds the padded content size from
that ratio, and one pixel more or less of content shifts every model input pixel a little
(measured: mean absolute difference 0.011-0.017 on some 2,000-3,000 px films, against 0.001
when the content sizes agree). This module asks the preprocessing's own geometry what the
full image would give and, when the reduced image would differ, resamples it by that pixel.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PIL import Image

from desktop_app.core.imaging.loaded_image import LoadedImage
from desktop_app.core.preprocessing import PreprocessingSpec

# The preprocessing's own geometry (private there), so that nothing here restates its rounding.
from desktop_app.core.preprocessing import _geometry as preprocessing_geometry

__all__ = ["match_model_geometry"]

# One-pixel adjustments (width, height) tried, smallest change first.
_NUDGES = ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, -1), (1, -1), (-1, 1))


def _content_size(width: int, height: int, spec: PreprocessingSpec) -> tuple[int, int]:
    return preprocessing_geometry(height, width, spec)[1]


def match_model_geometry(loaded: LoadedImage, spec: PreprocessingSpec) -> LoadedImage:
    """Return ``loaded``, resampled by a pixel if needed so ``preprocess`` sizes it as the full.

    Args:
        loaded: An image from ``load_image(path, min_side=...)`` (returned as is when it was
            not reduced or already agrees).
        spec: The model card's preprocessing.

    Returns:
        An image whose content size in the model input equals the full image's.
    """
    if not loaded.reduced:
        return loaded
    height, width = loaded.pixels.shape
    target = _content_size(*loaded.original_size, spec)
    if _content_size(width, height, spec) == target:
        return loaded
    for dw, dh in _NUDGES:
        if _content_size(width + dw, height + dh, spec) == target:
            resized = np.asarray(Image.fromarray(loaded.pixels).resize(
                (width + dw, height + dh), Image.Resampling.BILINEAR), dtype=np.float32)
            resized.flags.writeable = False
            return replace(loaded, pixels=resized)
    return loaded
