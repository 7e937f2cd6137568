"""Noise: uniform, Gaussian, salt-and-pepper, smooth fractal noise, speckle, blobs, stripes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from model_training.non_chest.drawing import Spec, normalise, save, smooth_noise, u8


def noise_specs() -> Iterator[Spec]:
    """Noise images, two seeds of each recipe."""
    recipes: list[tuple[str, str, Callable[[np.random.Generator], np.ndarray]]] = [
        ("uniform_gray", "uniform noise, grayscale", lambda r: r.random((512, 512))),
        ("uniform_colour", "uniform noise, colour", lambda r: r.random((480, 640, 3))),
        ("gaussian_gray", "Gaussian noise around mid-grey",
         lambda r: np.clip(r.normal(0.5, 0.15, (600, 500)), 0, 1)),
        ("gaussian_colour", "Gaussian colour noise",
         lambda r: np.clip(r.normal(0.5, 0.2, (500, 500, 3)), 0, 1)),
        ("salt_pepper", "salt-and-pepper noise on a grey field",
         lambda r: np.where(r.random((512, 512)) < 0.1, r.integers(0, 2, (512, 512)), 0.5)),
        ("perlin_gray", "smooth fractal (Perlin-like) noise, grayscale",
         lambda r: smooth_noise((600, 500), r)),
        ("perlin_colour", "smooth fractal noise, colour",
         lambda r: np.stack([smooth_noise((480, 480), r) for _ in range(3)], axis=-1)),
        ("perlin_vignette", "smooth noise with a dark vignette (film-like border)",
         lambda r: smooth_noise((640, 520), r, 6) * _vignette((640, 520))),
        ("speckle", "multiplicative speckle on smooth noise",
         lambda r: normalise(smooth_noise((512, 512), r, 3) * r.rayleigh(1.0, (512, 512)))),
        ("gradient_noise", "linear gradient with mild noise",
         lambda r: np.clip(np.linspace(0, 1, 500)[None, :] * np.ones((400, 1))
                           + r.normal(0, 0.05, (400, 500)), 0, 1)),
        ("blobs", "smooth random blobs (thresholded noise, blurred)",
         lambda r: normalise(np.asarray(Image.fromarray(
             u8(smooth_noise((512, 512), r, 3) > 0.5)).filter(ImageFilter.GaussianBlur(6)),
             dtype=np.float64))),
        ("stripes_noise", "horizontal stripes plus noise",
         lambda r: np.clip(0.5 + 0.3 * np.sin(np.arange(480)[:, None] / 6.0)
                           + r.normal(0, 0.1, (480, 640)), 0, 1)),
    ]
    for name, description, make in recipes:
        for seed in (0, 1):

            def write(path: Path, make: Callable[[np.random.Generator], np.ndarray] = make,
                      seed: int = seed) -> None:
                save(make(np.random.default_rng(1000 + seed)), path)

            yield Spec(f"{name}_{seed}.png", f"{description} (seed {seed})", name, write)


def _vignette(shape: tuple[int, int]) -> np.ndarray:
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    radius = np.hypot((yy - shape[0] / 2) / shape[0], (xx - shape[1] / 2) / shape[1])
    return np.clip(1.3 - 2.0 * radius, 0, 1)
