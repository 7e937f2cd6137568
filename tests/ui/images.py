"""Generated test images for the UI tests (never real patient data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from desktop_app.core.classify.synthetic import synthetic_radiograph


def write_xray(path: Path, seed: int = 0, size: tuple[int, int] = (320, 384)) -> Path:
    """A generated grayscale chest-film-like PNG (never real patient data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(synthetic_radiograph(size, seed=seed)).save(path)
    return path


def write_colour_noise(path: Path, seed: int = 0) -> Path:
    """A colourful noise PNG: the out-of-distribution gate refuses it for its colour."""
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (300, 300, 3), dtype=np.uint8), "RGB").save(path)
    return path
