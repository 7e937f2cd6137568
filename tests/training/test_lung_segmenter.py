"""Training and export of the lung segmenter, end to end on a few generated films."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop_app.core.classify.lung_fields import LungSegmenter, load_lung_segmenter
from desktop_app.core.classify.synthetic import synthetic_radiograph
from model_training.lung_segmenter import (
    SegmenterConfig,
    build_lung_segmenter,
    dice,
    held_out_patients,
)


def test_dice_counts_overlap_per_image() -> None:
    a = np.zeros((2, 8, 8), bool)
    b = np.zeros((2, 8, 8), bool)
    a[0, :4], b[0, :4] = True, True          # identical
    a[1, :4], b[1, 4:] = True, True          # disjoint
    scores = dice(a, b)
    assert scores[0] == pytest.approx(1.0)
    assert scores[1] < 0.05


def test_held_out_patients_are_stable_and_a_share_of_all() -> None:
    patients = [f"p{i % 50}" for i in range(120)]
    config = SegmenterConfig(held_out_share=0.2)
    first = held_out_patients(patients, config)
    assert first == held_out_patients(list(reversed(patients)), config)
    assert len(first) == 10
    assert first != held_out_patients(patients, SegmenterConfig(seed=1))


def _dataset(root: Path) -> tuple[Path, Path]:
    data, masks = root / "cxr", root / "masks"
    (data / "images").mkdir(parents=True)
    masks.mkdir()
    rows = []
    for index in range(10):
        pixels = synthetic_radiograph(seed=index)
        source = "ieee8023" if index < 8 else "kermany"
        name = f"{source}_film{index}.jpg"
        Image.fromarray(pixels).save(data / "images" / name)
        if source == "ieee8023":
            lung = np.zeros(pixels.shape, np.uint8)
            height, width = pixels.shape
            lung[height // 5:4 * height // 5, width // 8:7 * width // 16] = 255
            lung[height // 5:4 * height // 5, 9 * width // 16:7 * width // 8] = 255
            Image.fromarray(lung).save(masks / f"film{index}.png")
        rows.append({"X_ray_image_name": name, "Label": "Normal", "Dataset_type": "TRAIN",
                     "source": source, "patient_id": f"{source}-{index}"})
    with (data / "metadata.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return data, masks


def test_trained_segmenter_is_exported_with_a_card_the_app_loads(tmp_path: Path) -> None:
    data, masks = _dataset(tmp_path)
    out = tmp_path / "segmenter"
    config = SegmenterConfig(input_size=32, base_filters=4, epochs=2, batch_size=4)
    messages: list[str] = []
    card = build_lung_segmenter(data, masks, out, config, progress=messages.append)
    assert any("masked films 8" in m for m in messages)
    assert card["training"]["films"] + card["training"]["held_out_films"] == 8
    assert 0.0 <= card["metrics"]["held_out_dice_mean"] <= 1.0
    assert set(card["metrics"]["box_reach_train_films"]) == {"kermany"}
    model = load_lung_segmenter(out)  # verifies the sha256 the card lists
    assert model.card.model_id == card["model_id"]
    assert model.card.preprocessing.input_size == 32
    runner = LungSegmenter(model)
    probabilities = runner.probabilities(np.zeros((3, 32, 32), np.float32))
    assert probabilities.shape == (3, 32, 32)
    assert np.all((probabilities >= 0) & (probabilities <= 1))


def test_films_without_masks_are_reported(tmp_path: Path) -> None:
    data, _ = _dataset(tmp_path)
    empty = tmp_path / "no-masks"
    empty.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(empty / "unrelated.png")
    with pytest.raises(ValueError, match="no film"):
        build_lung_segmenter(data, empty, tmp_path / "out",
                             SegmenterConfig(input_size=32, base_filters=4, epochs=1))
