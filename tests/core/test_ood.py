from __future__ import annotations

import numpy as np
import pytest

from desktop_app.core.gate import ImageStatistics, OodGate, fit_ood_spec, image_statistics

CLASSES = ["Normal", "Pneumonia", "COVID-19"]


def fitted_gate(seed: int = 0) -> tuple[OodGate, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(600) % 3
    centres = np.array([[0.0] * 8, [3.0] + [0.0] * 7, [0.0, 3.0] + [0.0] * 6])
    features = centres[labels] + rng.normal(0, 1, (600, 8))
    stats = [ImageStatistics(0.0, 1.2, 0.05, 230) for _ in range(600)]
    spec = fit_ood_spec(features, labels, CLASSES, stats, distance_quantile=0.99)
    return OodGate(spec), features


def test_threshold_flags_about_the_chosen_fraction_of_reference_images() -> None:
    gate, features = fitted_gate()
    flagged = np.mean([v.out_of_distribution for v in gate.check_features(features)])
    assert 0.005 <= flagged <= 0.02


def test_far_features_are_flagged_with_a_reason() -> None:
    gate, _ = fitted_gate()
    verdict = gate.check_features(np.full((1, 8), 12.0))[0]
    assert verdict.out_of_distribution
    assert "unlike the chest X-rays" in verdict.reason
    assert verdict.distance > gate.distance_threshold


def test_distances_are_the_minimum_class_mahalanobis_distance() -> None:
    """The fast matrix form gives exactly the textbook distance, row by row."""
    gate, features = fitted_gate()
    rows = features[:5] * 1.7
    expected = [
        min(np.sqrt((row - mean) @ gate.features._precision @ (row - mean))
            for mean in gate.features._means)
        for row in rows
    ]
    np.testing.assert_allclose(gate.distances(rows), expected, rtol=1e-10)


def test_thumbnail_is_the_block_average() -> None:
    from desktop_app.core.gate import thumbnail_vector

    image = np.random.default_rng(3).random((195, 195), dtype=np.float32)
    expected = image[:192, :192].astype(np.float64).reshape(16, 12, 16, 12).mean(axis=(1, 3))
    np.testing.assert_allclose(thumbnail_vector(image), expected.ravel(), rtol=1e-6)


def test_non_finite_features_are_flagged() -> None:
    gate, _ = fitted_gate()
    assert gate.check_features(np.full((1, 8), np.nan))[0].out_of_distribution


@pytest.mark.parametrize(
    ("stats", "fragment"),
    [
        (ImageStatistics(40.0, 1.2, 0.05, 230), "colour image"),
        (ImageStatistics(0.0, 3.5, 0.05, 230), "aspect ratio"),
        (ImageStatistics(0.0, 1.2, 0.05, 5), "grey levels"),
        (ImageStatistics(0.0, 1.2, 0.8, 230), "flat value"),
    ],
)
def test_image_checks(stats: ImageStatistics, fragment: str) -> None:
    gate, _ = fitted_gate()
    verdict = gate.check_image(stats)
    assert verdict.out_of_distribution
    assert fragment in verdict.reason


def test_image_checks_pass_a_radiograph_like_image() -> None:
    from desktop_app.core.classify.synthetic import synthetic_radiograph

    gate, _ = fitted_gate()
    stats = image_statistics(synthetic_radiograph().astype(np.float32) / 255, 0.0)
    assert not gate.check_image(stats).out_of_distribution


def test_image_statistics_of_a_flat_chart() -> None:
    chart = np.ones((200, 300), np.float32)
    chart[50:60, 20:280] = 0.0
    stats = image_statistics(chart, 0.0)
    assert stats.gray_levels == 2
    assert stats.uniform_fraction > 0.9
    assert stats.aspect == pytest.approx(1.5)


def test_fit_refuses_too_few_rows_and_missing_class() -> None:
    with pytest.raises(ValueError, match="at least 10"):
        fit_ood_spec(np.zeros((3, 4)), np.zeros(3), CLASSES, [])
    with pytest.raises(ValueError, match="COVID-19"):
        fit_ood_spec(np.random.default_rng(0).random((20, 4)), np.arange(20) % 2, CLASSES, [])


def test_appearance_check_separates_radiograph_layout_from_other_images() -> None:
    from desktop_app.core.classify.synthetic import synthetic_radiograph
    from desktop_app.core.gate import thumbnail_vector
    from desktop_app.core.preprocessing import PreprocessingSpec, preprocess

    spec = PreprocessingSpec(input_size=64)

    def prepared(pixels: np.ndarray) -> np.ndarray:
        return preprocess(pixels.astype(np.float32) / 255.0, spec).array

    reference = [prepared(synthetic_radiograph(seed=s)) for s in range(60)]
    rng = np.random.default_rng(0)
    features = rng.normal(0, 1, (60, 4))
    labels = np.arange(60) % 3
    stats = [ImageStatistics(0.0, 1.2, 0.05, 230)] * 60
    spec_ood = fit_ood_spec(features, labels, CLASSES, stats,
                            thumbnails=np.stack([thumbnail_vector(r) for r in reference]),
                            appearance_quantile=1.0)
    gate = OodGate(spec_ood)
    assert not gate.check_appearance(prepared(synthetic_radiograph(seed=99))).out_of_distribution
    # A transposed film (lungs stacked vertically) and a centred bright disc are not frontal
    # chest layouts.
    transposed = gate.check_appearance(prepared(synthetic_radiograph(seed=5).T))
    assert transposed.out_of_distribution
    assert "layout" in transposed.reason
    yy, xx = np.mgrid[0:256, 0:256]
    disc = ((np.hypot(yy - 128, xx - 128) < 80) * 200 + 20).astype(np.uint8)
    assert gate.check_appearance(prepared(disc)).out_of_distribution


def _prepared_radiographs(count: int, size: int = 64) -> list[np.ndarray]:
    from desktop_app.core.classify.synthetic import synthetic_radiograph
    from desktop_app.core.preprocessing import PreprocessingSpec, preprocess

    spec = PreprocessingSpec(input_size=size)
    return [preprocess(synthetic_radiograph(seed=s).astype(np.float32) / 255.0, spec).array
            for s in range(count)]


def _gate_with_texture_and_global(count: int = 60) -> tuple[OodGate, dict]:
    from desktop_app.core.gate import global_vector, texture_vector, thumbnail_vector

    reference = _prepared_radiographs(count)
    rng = np.random.default_rng(0)
    spec = fit_ood_spec(
        rng.normal(0, 1, (count, 4)), np.arange(count) % 3, CLASSES,
        [ImageStatistics(0.0, 1.2, 0.05, 230)] * count,
        thumbnails=np.stack([thumbnail_vector(r) for r in reference]),
        texture_vectors=np.stack([texture_vector(r) for r in reference]),
        global_vectors=np.stack([global_vector(r) for r in reference]),
        appearance_quantile=1.0, texture_quantile=1.0, global_quantile=1.0,
        orientation_quantile=0.0,
    )
    # 60 generated images are a thin reference in 144 dimensions: leave room for a new one.
    for section in ("texture", "global"):
        spec[section]["distance_threshold"] *= 1.5
    return OodGate(spec), spec


def test_texture_and_global_vectors_are_finite_and_sized() -> None:
    from desktop_app.core.gate import GLOBAL_NAMES, global_vector, texture_vector

    flat = np.zeros((64, 64), np.float32)  # a perfectly flat image must not give NaN/inf
    for image in (*_prepared_radiographs(1), flat):
        assert texture_vector(image).shape == (16 + 64 + 64,)
        assert global_vector(image).shape == (len(GLOBAL_NAMES),)
        assert np.isfinite(texture_vector(image)).all()
        assert np.isfinite(global_vector(image)).all()


def test_orientation_score_is_positive_upright_and_negative_sideways() -> None:
    from desktop_app.core.gate import global_vector, orientation_score

    upright = _prepared_radiographs(1)[0]
    assert orientation_score(global_vector(upright))[0] > 0
    assert orientation_score(global_vector(np.rot90(upright)))[0] < 0


def test_texture_global_and_orientation_checks_flag_what_layout_alone_misses() -> None:
    gate, spec = _gate_with_texture_and_global()
    assert {"texture", "global", "orientation"} <= set(spec)
    held_out = _prepared_radiographs(70)[65]
    assert not gate.check_appearance(held_out).out_of_distribution
    names = set(gate.appearance_distances(held_out))
    assert names == {"layout", "orientation", "global", "texture"}

    noise = np.random.default_rng(1).random((64, 64)).astype(np.float32)
    verdict = gate.check_appearance(noise)
    assert verdict.out_of_distribution
    fired = {n for n, (d, t) in gate.appearance_distances(noise).items() if d > t}
    assert fired & {"global", "texture"}, fired

    sideways = gate.appearance_distances(np.rot90(held_out).copy())
    distance, limit = sideways["orientation"]
    assert distance > limit
    assert gate.check_appearance(np.rot90(held_out).copy()).out_of_distribution


def test_cards_without_the_new_sections_still_work() -> None:
    _, spec = _gate_with_texture_and_global()
    old = {k: v for k, v in spec.items() if k not in ("texture", "global", "orientation")}
    old_gate = OodGate(old)
    image = _prepared_radiographs(1)[0]
    assert set(old_gate.appearance_distances(image)) == {"layout"}
    assert old_gate.texture_distance(np.zeros((2, 144))).tolist() == [0.0, 0.0]
    assert old_gate.global_distance(np.zeros((3, 13))).tolist() == [0.0, 0.0, 0.0]


def test_new_sections_refuse_too_few_reference_images() -> None:
    from desktop_app.core.gate import global_vector

    rows = np.stack([global_vector(r) for r in _prepared_radiographs(5)])
    with pytest.raises(ValueError, match="at least 10 reference vectors"):
        fit_ood_spec(np.random.default_rng(0).random((30, 4)), np.arange(30) % 3, CLASSES,
                     [ImageStatistics(0.0, 1.2, 0.05, 230)] * 30, global_vectors=rows)


def test_a_card_with_statistics_of_another_length_is_refused() -> None:
    from desktop_app.core.gate import validate_ood_spec

    _, spec = _gate_with_texture_and_global()
    spec["global"]["mean"] = spec["global"]["mean"][:11]
    with pytest.raises(ValueError, match="global statistics have 11 dimensions"):
        validate_ood_spec(spec)


def test_appearance_vectors_equal_the_three_separate_vectors() -> None:
    from desktop_app.core.gate import (
        appearance_vectors,
        global_vector,
        texture_vector,
        thumbnail_vector,
    )

    image = np.random.default_rng(5).random((64, 64), dtype=np.float32)
    thumbnail, texture, global_ = appearance_vectors(image)
    np.testing.assert_array_equal(thumbnail, thumbnail_vector(image))
    np.testing.assert_array_equal(texture, texture_vector(image))
    np.testing.assert_array_equal(global_, global_vector(image))
