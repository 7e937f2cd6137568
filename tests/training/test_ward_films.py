"""Bedside-film augmentation of the view model's material (model_training.ward_films)."""

from __future__ import annotations

import numpy as np
import pytest

from model_training.ward_films import (
    add_devices,
    collimate,
    extend_field_of_view,
    portable_look,
    rotate_patient,
    ward_film,
)


@pytest.fixture
def film() -> np.ndarray:
    """A smooth 'chest': bright mediastinum, darker lungs, values well inside 0..1."""
    rows, cols = np.mgrid[0:160, 0:200].astype(np.float32)
    lungs = 0.35 + 0.1 * np.sin(rows / 15.0) * np.cos(cols / 20.0)
    mediastinum = 0.4 * np.exp(-((cols - 100) / 18.0) ** 2)
    return np.clip(lungs + mediastinum, 0.0, 0.9).astype(np.float32)


def test_every_step_keeps_a_valid_image(film: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    for step in (add_devices, extend_field_of_view, rotate_patient, collimate, portable_look,
                 ward_film):
        out = step(film, rng)
        assert out.dtype == np.float32, step.__name__
        assert out.ndim == 2, step.__name__
        assert min(out.shape) > 50, (step.__name__, out.shape)
        assert float(out.min()) >= 0.0, step.__name__
        assert float(out.max()) <= 1.0, step.__name__


def test_devices_only_add_bright_structures(film: np.ndarray) -> None:
    changed = 0
    for seed in range(10):
        out = add_devices(film, np.random.default_rng(seed))
        assert out.shape == film.shape
        assert np.all(out >= film - 1e-6)  # drawn on top, never darkening the film
        changed += int(np.count_nonzero(out > film + 0.05) > 20)
    assert changed >= 8  # nearly every draw puts a tube, line, electrode or marker on


def test_field_of_view_grows_by_rows_only(film: np.ndarray) -> None:
    out = extend_field_of_view(film, np.random.default_rng(3))
    assert out.shape[1] == film.shape[1]
    assert film.shape[0] * 1.1 < out.shape[0] <= film.shape[0] * 1.36


def test_detector_crop_keeps_most_of_the_chest(film: np.ndarray) -> None:
    for seed in range(20):
        out = collimate(film, np.random.default_rng(seed))
        assert out.shape[0] >= 0.75 * film.shape[0]
        assert out.shape[1] >= 0.75 * film.shape[1]


def test_same_seed_same_ward_film(film: np.ndarray) -> None:
    first = ward_film(film, np.random.default_rng(42))
    again = ward_film(film, np.random.default_rng(42))
    other = ward_film(film, np.random.default_rng(43))
    np.testing.assert_array_equal(first, again)
    assert first.shape != other.shape or not np.array_equal(first, other)
