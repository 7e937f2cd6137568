"""A generated, X-ray-like test image, for the self-test and the benchmarks.

It is not a radiograph and the model is not expected to label it meaningfully; it exercises
the whole classify path (decode, preprocessing, LiteRT, gate) with no patient data shipped.
"""

from __future__ import annotations

import numpy as np

__all__ = ["synthetic_radiograph"]


def synthetic_radiograph(size: tuple[int, int] = (320, 384), seed: int = 0) -> np.ndarray:
    """A deterministic grayscale image with the rough layout of a frontal chest film.

    Returns:
        uint8 array (height, width): dark lung fields, a bright mediastinum and spine,
        soft-tissue borders and film noise.
    """
    width, height = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    cx = width / 2
    body = np.exp(-(((x - cx) / (0.48 * width)) ** 6)) * 0.75
    lungs = np.zeros_like(body)
    for side in (-1, 1):
        lx = cx + side * 0.2 * width
        lungs += np.exp(-(((x - lx) / (0.15 * width)) ** 2 + ((y - 0.47 * height)
                                                                / (0.3 * height)) ** 2) ** 2)
    mediastinum = np.exp(-(((x - cx) / (0.07 * width)) ** 2)) * (y > 0.15 * height)
    ribs = 0.06 * (np.sin(y / height * 40.0) > 0.6) * (lungs > 0.2)
    image = body - 0.45 * np.clip(lungs, 0, 1) + 0.3 * mediastinum + ribs
    image += rng.normal(0.0, 0.02, image.shape)
    image = (image - image.min()) / (image.max() - image.min())
    return (image * 255).astype(np.uint8)
