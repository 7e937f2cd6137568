"""Chest films that are not frontal views the model may label.

Drawn lateral films and synthetic frontal films turned by 90° (the documented decisions are
in the package's docstring).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from desktop_app.core.classify.synthetic import synthetic_radiograph
from model_training.non_chest.drawing import Spec, as_film, capsule, ellipse, save


def _lateral_chest(seed: int) -> np.ndarray:
    """A lateral chest film sketch: one lung field, spine on one side, heart in front."""
    rng = np.random.default_rng(seed)
    height, width = 560, 480
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    flip = seed % 2 == 1  # patient facing left or right
    x = (width - xx) if flip else xx
    body = ellipse(yy, x, 300, 240, 330, 210)
    image = 0.15 + 0.55 * body
    lung = ellipse(yy, x, 250, 230, 190, 140, angle=0.15)
    image -= 0.45 * lung
    image += 0.3 * ellipse(yy, x, 360, 170, 90, 85) * lung  # heart shadow, anterior
    for level in range(9):  # vertebral bodies, posterior
        y = 70 + level * 52
        image += 0.4 * ellipse(yy, x, y, 360 + 0.05 * y, 22, 28)
    image += 0.35 * (yy > 430 + 0.0015 * (x - 240) ** 2) * body  # diaphragm / abdomen
    image += 0.25 * capsule(yy, x, (60, 120), (200, 80), 22)  # sternum / arm
    return as_film(image, rng)


def _rotated_radiograph(seed: int, clockwise: bool) -> np.ndarray:
    pixels = synthetic_radiograph((320 + 16 * seed, 384 + 16 * seed), seed=seed)
    return np.rot90(pixels, -1 if clockwise else 1).copy()


def cxr_transformed_specs() -> Iterator[Spec]:
    """Lateral chest film sketches and synthetic frontal films turned by 90°."""
    for seed in range(6):

        def lateral(path: Path, seed: int = seed) -> None:
            save(_lateral_chest(seed), path)

        yield Spec(f"lateral_chest_{seed}.png",
                   f"lateral chest film sketch (seed {seed}, facing "
                   f"{'left' if seed % 2 else 'right'})", f"lateral{seed}", lateral)
    for seed in range(3):
        for clockwise in (True, False):

            def rotated(path: Path, seed: int = seed, clockwise: bool = clockwise) -> None:
                save(_rotated_radiograph(seed, clockwise), path)

            direction = "90° clockwise" if clockwise else "90° counter-clockwise"
            yield Spec(f"synthetic_cxr_rot{'90' if clockwise else '270'}_{seed}.png",
                       f"synthetic frontal radiograph rotated {direction} (seed {seed})",
                       f"rot{seed}", rotated)
