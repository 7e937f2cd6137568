"""What the view model learns to refuse, made from real images (model_training.view_synthesis)."""

from __future__ import annotations

import numpy as np
import pytest

from model_training.view_synthesis import (
    annotated,
    light_box_photo,
    marked_lateral,
    multi_panel,
    rewindow,
    topogram,
    viewer_screenshot,
    with_scout_inset,
)


@pytest.fixture
def film() -> np.ndarray:
    """A smooth 'chest': bright mediastinum, darker lungs."""
    rows, cols = np.mgrid[0:150, 0:120].astype(np.float32)
    lungs = 0.3 + 0.1 * np.sin(rows / 12.0) * np.cos(cols / 15.0)
    return np.clip(lungs + 0.5 * np.exp(-((cols - 60) / 12.0) ** 2), 0, 1).astype(np.float32)


@pytest.fixture
def slice_() -> np.ndarray:
    """A 'CT slice': a bright disc (the body) on black."""
    rows, cols = np.mgrid[0:128, 0:128].astype(np.float32)
    body = ((rows - 64) ** 2 / 50 ** 2 + (cols - 64) ** 2 / 60 ** 2) < 1
    return np.where(body, 0.6, 0.0).astype(np.float32)


def _valid(image: np.ndarray) -> None:
    assert image.dtype == np.float32
    assert image.ndim == 2
    assert min(image.shape) >= 32
    assert float(image.min()) >= 0.0
    assert float(image.max()) <= 1.0


def test_every_generator_returns_a_valid_image_and_is_deterministic(
        film: np.ndarray, slice_: np.ndarray) -> None:
    makers = {
        "rewindow": lambda rng: rewindow(slice_, rng),
        "inset": lambda rng: with_scout_inset(slice_, film, rng),
        "panels": lambda rng: multi_panel([slice_, film, film], rng),
        "grid": lambda rng: multi_panel([slice_, film, slice_, film], rng),
        "viewer": lambda rng: viewer_screenshot(film, rng, [film, slice_]),
        "scout": lambda rng: topogram(film, rng),
        "light box": lambda rng: light_box_photo(film, rng),
        "annotated": lambda rng: annotated(film, rng),
        "lateral": lambda rng: marked_lateral(film, rng),
    }
    for name, make in makers.items():
        first = make(np.random.default_rng(3))
        _valid(first)
        again = make(np.random.default_rng(3))
        assert np.array_equal(first, again), name


def test_the_scout_inset_keeps_the_slice_outside_its_corner(film: np.ndarray,
                                                            slice_: np.ndarray) -> None:
    out = with_scout_inset(slice_, np.ones_like(film), np.random.default_rng(0))
    assert out.shape == slice_.shape
    changed = out != slice_
    assert 0 < changed.mean() < 0.15  # a corner, not the slice
    assert out[64, 64] == slice_[64, 64]  # the body's centre is untouched


def test_a_viewer_screenshot_shows_the_film_in_part_of_the_window(film: np.ndarray) -> None:
    shot = viewer_screenshot(np.ones_like(film), np.random.default_rng(1))
    assert shot.shape[1] >= 900
    bright = (shot > 0.98).mean()  # the white 'film' (and the overlay text)
    assert 0.05 < bright < 0.7


def test_a_scout_view_is_longer_than_the_film_and_carries_the_planned_range(
        film: np.ndarray) -> None:
    scout = topogram(film, np.random.default_rng(2))
    assert scout.shape[0] > film.shape[0]
    assert (scout >= 0.99).sum() > scout.shape[1]  # the box and lines are drawn in white


def test_rewindow_changes_the_grey_values_not_the_size(slice_: np.ndarray) -> None:
    rng = np.random.default_rng(5)
    shown = [rewindow(slice_, rng) for _ in range(5)]
    assert all(image.shape == slice_.shape for image in shown)
    assert len({round(float(image.max() - image[image > 0].min()), 3) for image in shown}) >= 1
    assert any(not np.allclose(image, slice_) for image in shown)
