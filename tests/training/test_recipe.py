"""The shortcut-breaking recipe: group-balanced loss weights and format-erasing augmentation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model_training.augmentation import get_preset
from model_training.datasets import normalise_age_group, normalise_view
from model_training.training import sample_weights, weighting_groups


def test_class_group_weights_lift_rare_groups_within_each_class() -> None:
    # Normal: 8 children (kermany) and 2 adult PA films (nih); COVID-19: 10 adults.
    labels = np.array([0] * 10 + [2] * 10)
    table = pd.DataFrame({
        "source": ["kermany"] * 8 + ["nih"] * 2 + ["cxnet"] * 10,
        "age_group": ["child"] * 8 + ["adult"] * 12,
        "view": ["AP"] * 8 + ["PA"] * 2 + [""] * 10,
    })
    groups = weighting_groups(table)
    assert groups[0] == "kermany|child|AP"
    assert groups[9] == "nih|adult|PA"
    weights = sample_weights(labels, table["source"].to_numpy(), 3, "class-group",
                             groups=groups)
    assert weights.mean() == pytest.approx(1.0)
    # Classes keep equal total weight; within Normal each adult film outweighs a child's by
    # sqrt(10/(2*2)) / sqrt(10/(2*8)) = 2.
    assert weights[:10].sum() == pytest.approx(weights[10:].sum())
    assert weights[9] / weights[0] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="needs the groups"):
        sample_weights(labels, table["source"].to_numpy(), 3, "class-group")


def test_age_group_and_view_normalisation() -> None:
    assert normalise_age_group("adult") == "adult"
    assert normalise_age_group("", "17") == "child"
    assert normalise_age_group("", "18") == "adult"
    assert normalise_age_group("", "50+") == "unknown"  # a range is not an age
    assert normalise_age_group("", "412") == "unknown"
    assert normalise_view("AP Supine") == "AP"
    assert normalise_view("PA") == "PA"
    assert normalise_view("L") == ""


def test_robust_augmentation_changes_format_cues_deterministically() -> None:
    import tensorflow as tf

    from model_training.augmentation import augment_batch

    rng = np.random.default_rng(0)
    smooth = np.clip(rng.normal(0.5, 0.02, (16, 32, 32, 1)), 0, 1).astype(np.float32)
    images = tf.constant(smooth)
    config = get_preset("robust")
    assert not config.is_identity
    first = augment_batch(images, config, tf.constant([3, 1], tf.int64)).numpy()
    again = augment_batch(images, config, tf.constant([3, 1], tf.int64)).numpy()
    other = augment_batch(images, config, tf.constant([3, 2], tf.int64)).numpy()
    assert first.shape == smooth.shape
    assert first.min() >= 0.0
    assert first.max() <= 1.0
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).mean() > 1e-3
    # Noise, blur/sharpen and re-compression change the pixel-to-pixel texture, the cue that
    # tells a source's files apart.
    texture = np.abs(np.diff(first, axis=2)).mean(axis=(1, 2, 3))
    assert texture.std() > np.abs(np.diff(smooth, axis=2)).mean(axis=(1, 2, 3)).std()
