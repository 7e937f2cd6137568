from __future__ import annotations

import numpy as np
import pytest

from desktop_app.core.classify.heatmap import colourise, heatmap_for_input, heatmap_for_original
from desktop_app.core.preprocessing import PreprocessingSpec, preprocess


def test_input_heatmap_is_normalised_and_keeps_only_positive_evidence() -> None:
    cam = np.array([[-3.0, 0.0], [1.0, 2.0]], np.float32)
    heat = heatmap_for_input(cam, 8)
    assert heat.shape == (8, 8)
    assert heat.max() == pytest.approx(1.0, abs=1e-6)
    assert heat.min() == 0.0
    assert heat[-1, -1] > heat[0, 0]


def test_flat_or_negative_cam_gives_an_empty_map() -> None:
    assert not heatmap_for_input(np.full((4, 4), -1.0), 16).any()


def test_original_heatmap_is_aligned_with_the_image_and_drops_the_padding() -> None:
    # A wide image: padding above and below the content in the model input.
    pixels = np.random.default_rng(0).random((100, 200)).astype(np.float32)
    prepared = preprocess(pixels, PreprocessingSpec(input_size=64))
    assert prepared.content_box == (0, 16, 64, 48)
    cam = np.zeros((8, 8), np.float32)
    cam[2:4, 0] = 1.0  # hot at the left edge, middle rows of the input = middle of the image
    heat = heatmap_for_original(cam, prepared, (200, 100))
    assert heat.shape == (100, 200)
    peak_row, peak_col = np.unravel_index(np.argmax(heat), heat.shape)
    assert peak_col < 30
    assert 0 <= peak_row < 100
    # the right half of the image is cold
    assert heat[:, 120:].max() < 0.05


def test_crop_policy_leaves_the_cut_sides_empty() -> None:
    pixels = np.random.default_rng(1).random((100, 200)).astype(np.float32)
    prepared = preprocess(pixels, PreprocessingSpec(input_size=32, resize="crop"))
    heat = heatmap_for_original(np.ones((4, 4), np.float32), prepared, (200, 100))
    assert heat[:, :50].max() == 0.0
    assert heat[:, 150:].max() == 0.0
    assert heat[:, 60:140].min() > 0.9


def test_colourise_is_rgba_with_alpha_following_heat() -> None:
    rgba = colourise(np.array([[0.0, 0.5, 1.0]]))
    assert rgba.shape == (1, 3, 4)
    assert rgba.dtype == np.uint8
    assert rgba[0, 0, 3] == 0
    assert rgba[0, 2, 3] == 255
    assert rgba[0, 2, 0] > rgba[0, 2, 2]  # hot is red
