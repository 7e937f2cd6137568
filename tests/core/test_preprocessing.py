from __future__ import annotations

import numpy as np
import pytest

from desktop_app.core.preprocessing import PreprocessingSpec, preprocess, preprocess_batch, to_uint8


def gradient(height: int, width: int) -> np.ndarray:
    return np.tile(np.linspace(0.2, 0.6, width, dtype=np.float32), (height, 1))


def test_pad_keeps_aspect_and_centres_content() -> None:
    spec = PreprocessingSpec(input_size=64)
    result = preprocess(gradient(100, 200), spec)
    assert result.array.shape == (64, 64)
    assert result.array.dtype == np.float32
    assert result.content_box == (0, 16, 64, 48)
    left, top, right, bottom = result.content_box
    assert np.all(result.array[:top] == spec.pad_value)
    assert np.all(result.array[bottom:] == spec.pad_value)
    # percentile windowing stretches the 0.2..0.6 ramp to the full 0..1 range
    content = result.array[top:bottom, left:right]
    assert content.min() == pytest.approx(0.0, abs=1e-6)
    assert content.max() == pytest.approx(1.0, abs=1e-6)


def test_crop_and_stretch_geometry() -> None:
    crop = preprocess(gradient(100, 200), PreprocessingSpec(input_size=50, resize="crop"))
    assert crop.source_box == (50, 0, 150, 100)
    assert crop.content_box == (0, 0, 50, 50)
    stretch = preprocess(gradient(100, 200), PreprocessingSpec(input_size=50, resize="stretch"))
    assert stretch.source_box == (0, 0, 200, 100)


def test_global_scale_and_offset_do_not_change_the_input() -> None:
    rng = np.random.default_rng(0)
    image = rng.random((120, 90)).astype(np.float32)
    spec = PreprocessingSpec(input_size=48)
    a = preprocess(image, spec).array
    b = preprocess(image * 0.25 + 0.5, spec).array
    c = preprocess((image * 4095).astype(np.uint16), spec).array
    assert np.abs(a - b).max() < 1e-4
    assert np.abs(a - c).max() < 2e-3


def test_flat_image_stays_flat() -> None:
    out = preprocess(np.full((80, 80), 0.7, np.float32), PreprocessingSpec(input_size=32)).array
    assert np.all(out == out[0, 0])


def test_batch_matches_single() -> None:
    spec = PreprocessingSpec(input_size=32)
    images = [gradient(70, 90), gradient(90, 70)]
    batch = preprocess_batch(images, spec)
    assert batch.shape == (2, 32, 32, 1)
    assert np.array_equal(batch[1, :, :, 0], preprocess(images[1], spec).array)


@pytest.mark.parametrize(
    ("field", "value"),
    [("input_size", 8), ("resize", "squash"), ("intensity", "zscore"),
     ("low_percentile", 99.9), ("pad_value", 2.0), ("interpolation", "nearest-ish")],
)
def test_invalid_spec_values_are_refused_with_the_value(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=repr(value).strip("'")):
        PreprocessingSpec(**{field: value})


def test_spec_round_trip_and_unknown_field() -> None:
    spec = PreprocessingSpec(input_size=96, resize="crop")
    assert PreprocessingSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="unknown preprocessing field"):
        PreprocessingSpec.from_dict({**spec.to_dict(), "gamma": 2.2})


def test_non_2d_input_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\(4, 4, 3\)"):
        preprocess(np.zeros((4, 4, 3)), PreprocessingSpec(input_size=16))


def test_to_uint8_rounds_and_clips() -> None:
    assert to_uint8(np.array([-1.0, 0.0, 0.5, 1.0, 2.0])).tolist() == [0, 0, 128, 255, 255]


def smooth_film(height: int, width: int) -> np.ndarray:
    """A smooth, film-like image: a bright body with two darker lung-like ellipses."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    body = 0.8 - 0.4 * ((cols / width - 0.5) ** 2 + (rows / height - 0.5) ** 2)
    for centre in (0.3, 0.7):
        inside = ((cols / width - centre) / 0.15) ** 2 + ((rows / height - 0.5) / 0.3) ** 2
        body -= 0.35 * np.exp(-inside)
    return np.clip(body, 0.0, 1.0)


def test_equalize_gives_the_same_input_under_any_tone_curve() -> None:
    # A site's look-up table (gamma, S-curve) must not change the model input.
    image = smooth_film(240, 200)
    spec = PreprocessingSpec(input_size=64, intensity="equalize")
    reference = preprocess(image, spec).array
    for curve in (image**0.5, image**2.2, 1.0 / (1.0 + np.exp(-8.0 * (image - 0.5)))):
        assert np.abs(preprocess(curve.astype(np.float32), spec).array - reference).mean() < 0.01
    # percentile windowing does not have that property: the test above is not trivially true
    windowed = PreprocessingSpec(input_size=64)
    gap = np.abs(preprocess(image**2.2, windowed).array - preprocess(image, windowed).array)
    assert gap.mean() > 0.02


def test_equalize_spreads_content_over_0_to_1_and_leaves_padding_alone() -> None:
    spec = PreprocessingSpec(input_size=64, intensity="equalize")
    result = preprocess(smooth_film(100, 200), spec)
    left, top, right, bottom = result.content_box
    content = result.array[top:bottom, left:right]
    assert content.min() == pytest.approx(0.0, abs=0.01)
    assert content.max() == pytest.approx(1.0, abs=1e-6)
    assert content.mean() == pytest.approx(0.5, abs=0.03)  # a uniform histogram
    assert np.all(result.array[:top] == spec.pad_value)
    flat = preprocess(np.full((80, 80), 0.7, np.float32), spec).array
    assert np.all(flat == flat[0, 0])


def test_percentiles_equal_numpy_bit_for_bit() -> None:
    from desktop_app.core.preprocessing import percentiles

    rng = np.random.default_rng(7)
    for index in range(400):
        values = rng.random(int(rng.integers(2, 30000))).astype(np.float32)
        if index % 3 == 0:
            values = np.round(values * 20) / 20  # many ties
        if index % 5 == 0:
            values = np.round(values * 255).astype(np.float32) / 255  # 8-bit levels
        for quantiles in ((0.5, 99.5), (0.0, 100.0), (1.0, 99.0), (50.0, 50.0)):
            expected = tuple(float(v) for v in np.percentile(values, quantiles))
            assert percentiles(values, quantiles) == expected
