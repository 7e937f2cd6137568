"""Class activation maps, aligned with the preprocessed image and the original.

The exported model already returns the CAM of every class (last feature map times the linear
head's weights, computed inside the LiteRT graph), so the app only has to pick the class,
normalise and resize here with numpy and Pillow. No TensorFlow at run time.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from desktop_app.core.preprocessing import PreprocessedImage

__all__ = ["colourise", "heatmap_for_input", "heatmap_for_original"]


def _normalise(cam: np.ndarray) -> np.ndarray:
    # Only positive evidence for the class is shown; the top of the map is its strongest region.
    cam = np.maximum(np.asarray(cam, dtype=np.float32), 0.0)
    peak = float(cam.max())
    return cam / peak if peak > 1e-12 else np.zeros_like(cam)


def heatmap_for_input(cam: np.ndarray, input_size: int) -> np.ndarray:
    """Upsample one class's CAM ``(h, w)`` to the model input, normalised to 0..1."""
    image = Image.fromarray(_normalise(cam))
    return np.asarray(
        image.resize((input_size, input_size), Image.Resampling.BILINEAR), dtype=np.float32
    ).clip(0.0, 1.0)


def heatmap_for_original(
    cam: np.ndarray,
    prepared: PreprocessedImage,
    original_size: tuple[int, int],
) -> np.ndarray:
    """Map one class's CAM onto the original image, cutting away the padding.

    Args:
        cam: ``(h, w)`` CAM for one class.
        prepared: The preprocessing result (its content and source boxes).
        original_size: ``(width, height)`` of the original pixels.

    Returns:
        ``(height, width)`` float32 heat map in 0..1; zero outside a cropped region.
    """
    size = prepared.array.shape[0]
    full = heatmap_for_input(cam, size)
    left, top, right, bottom = prepared.content_box
    content = Image.fromarray(full[top:bottom, left:right])
    s_left, s_top, s_right, s_bottom = prepared.source_box
    resized = np.asarray(
        content.resize((s_right - s_left, s_bottom - s_top), Image.Resampling.BILINEAR),
        dtype=np.float32,
    )
    width, height = original_size
    out = np.zeros((height, width), dtype=np.float32)
    out[s_top:s_bottom, s_left:s_right] = resized
    return out.clip(0.0, 1.0)


#: Heat levels of the colour table: finer than the 256 levels of an 8-bit colour, so looking
#: a level up in it gives what computing the ramp for each pixel gave (at most one level off).
_LEVELS = 4096


def _ramp(heat: np.ndarray) -> np.ndarray:
    """RGBA uint8 for heat values 0..1 (a perceptually ordered blue-red ramp)."""
    # A compact approximation of the 'turbo'-like ramp: blue -> cyan -> yellow -> red.
    stops = np.array([0.0, 0.35, 0.65, 1.0], dtype=np.float32)
    colours = np.array(
        [[48, 18, 180], [30, 190, 220], [250, 220, 40], [215, 30, 20]], dtype=np.float32
    )
    rgba = np.empty((*heat.shape, 4), dtype=np.uint8)
    for channel in range(3):
        rgba[..., channel] = np.interp(heat, stops, colours[:, channel]).astype(np.uint8)
    rgba[..., 3] = np.clip(heat * 1.4 * 255.0, 0, 255).astype(np.uint8)
    return rgba


_TABLE = _ramp(np.linspace(0.0, 1.0, _LEVELS, dtype=np.float32))
# Each RGBA entry as one 32-bit word: one gather per pixel instead of four.
_PACKED = _TABLE.view(np.uint32).reshape(-1)


def colourise(heat: np.ndarray) -> np.ndarray:
    """Turn a 0..1 heat map into RGBA uint8 (a perceptually ordered blue-red ramp).

    Alpha grows with the heat so that cold regions leave the X-ray visible. A table lookup:
    computing the ramp for each pixel of a 1024 x 896 film took 40-100 ms on the 2-core
    development machine (the largest part of building each Secondary Capture the node
    sends), the lookup 1-2 ms.
    """
    heat = np.asarray(heat, dtype=np.float32)
    scaled = np.clip(heat, 0.0, 1.0) * (_LEVELS - 1) + 0.5
    return _PACKED.take(scaled.astype(np.uint16)).view(np.uint8).reshape(*heat.shape, 4)
