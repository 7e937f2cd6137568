"""The lung box: from a segmenter mask to the part of the film the classifier sees."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.classify.lung_fields import (
    LUNG_CARD_FILE,
    LUNG_CARD_FORMAT,
    LUNG_TFLITE_FILE,
    MIN_LUNG_FRACTION,
    LungSegmenterCard,
    ModelInputs,
    load_lung_segmenter,
    lung_box,
    prepare_model_input,
)
from desktop_app.core.errors import ModelBundleError
from desktop_app.core.preprocessing import PreprocessingSpec, preprocess


def two_lungs(size: int = 64) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[10:50, 8:28] = True
    mask[10:50, 36:56] = True
    return mask


def test_box_spans_both_lungs_and_scales_to_the_image() -> None:
    box = lung_box(two_lungs(), (0, 0, 64, 64), (640, 640), margin=0.0)
    assert box is not None
    left, top, right, bottom = box
    assert left == pytest.approx(80, abs=10)
    assert right == pytest.approx(560, abs=10)
    assert top == pytest.approx(100, abs=10)
    assert bottom == pytest.approx(500, abs=10)


def test_margin_widens_the_box_within_the_image() -> None:
    tight = lung_box(two_lungs(), (0, 0, 64, 64), (64, 64), margin=0.0)
    wide = lung_box(two_lungs(), (0, 0, 64, 64), (64, 64), margin=0.1)
    assert tight is not None
    assert wide is not None
    assert wide[0] < tight[0]
    assert wide[2] > tight[2]
    assert wide[1] < tight[1]
    assert wide[3] > tight[3]
    whole = lung_box(np.ones((64, 64), bool), (0, 0, 64, 64), (64, 64), margin=0.5)
    assert whole == (0, 0, 64, 64)


def test_box_ignores_the_padding_of_the_segmenter_input() -> None:
    # A 2:1 landscape image sits in rows 16..48 of the square input; the lungs fill it.
    mask = np.zeros((64, 64), dtype=bool)
    mask[16:48, :] = True
    mask[0:4, 0:4] = True  # a blob in the padding must not count
    box = lung_box(mask, (0, 16, 64, 48), (200, 100), margin=0.0)
    assert box == (0, 0, 200, 100)


def test_stray_pixels_move_the_box_little() -> None:
    mask = two_lungs(128)  # lungs in rows 10..50, columns 8..56
    mask[125, 2] = True
    box = lung_box(mask, (0, 0, 128, 128), (128, 128), margin=0.0)
    assert box == (8, 10, 56, 50)


def test_no_box_when_almost_no_lung_is_found() -> None:
    mask = np.zeros((64, 64), dtype=bool)
    side = int(np.sqrt(MIN_LUNG_FRACTION * 64 * 64)) - 1
    mask[:side, :side] = True
    assert lung_box(mask, (0, 0, 64, 64), (64, 64), margin=0.05) is None


def test_preprocess_of_a_region_is_the_crop_with_original_coordinates() -> None:
    rng = np.random.default_rng(1)
    image = rng.random((120, 100)).astype(np.float32)
    spec = PreprocessingSpec(input_size=32)
    region = (10, 20, 90, 100)
    framed = preprocess(image, spec, region=region)
    cropped = preprocess(image[20:100, 10:90], spec)
    np.testing.assert_array_equal(framed.array, cropped.array)
    assert framed.content_box == cropped.content_box
    assert framed.source_box == (10, 20, 90, 100)


@pytest.mark.parametrize("region", [(0, 0, 200, 50), (10, 10, 10, 40), (-1, 0, 20, 20)])
def test_a_region_outside_the_image_is_refused(region: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match="region"):
        preprocess(np.zeros((100, 100), np.float32), PreprocessingSpec(input_size=32),
                   region=region)


def test_spec_names_a_segmenter_exactly_when_it_frames_the_lungs() -> None:
    with pytest.raises(ValueError, match="lung_segmenter"):
        PreprocessingSpec(region="lungs")
    with pytest.raises(ValueError, match="lung_segmenter"):
        PreprocessingSpec(lung_segmenter="lunglens-lungs-x")
    with pytest.raises(ValueError, match="region"):
        PreprocessingSpec(region="chest", lung_segmenter="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lung_margin"):
        PreprocessingSpec(region="lungs", lung_segmenter="x", lung_margin=0.9)
    spec = PreprocessingSpec(region="lungs", lung_segmenter="lunglens-lungs-x", lung_margin=0.05)
    assert PreprocessingSpec.from_dict(spec.to_dict()) == spec


def test_whole_film_spec_reads_as_before_the_lung_fields_existed() -> None:
    # Cards and cache keys written before must stay valid: no new keys for region="image".
    data = PreprocessingSpec(input_size=192).to_dict()
    assert "region" not in data
    assert "lung_segmenter" not in data
    assert PreprocessingSpec.from_dict(data) == PreprocessingSpec(input_size=192)


def test_whole_film_input_needs_no_segmenter() -> None:
    image = np.random.default_rng(2).random((50, 40)).astype(np.float32)
    spec = PreprocessingSpec(input_size=32)
    prepared, found = ModelInputs(spec)(image)
    assert found
    np.testing.assert_array_equal(prepared.array, preprocess(image, spec).array)


def test_lung_spec_without_segmenter_is_refused() -> None:
    spec = PreprocessingSpec(input_size=32, region="lungs", lung_segmenter="lunglens-lungs-x")
    with pytest.raises(ValueError, match="lunglens-lungs-x"):
        prepare_model_input(np.zeros((40, 40), np.float32), spec, None)


def write_card(folder: Path, **changes: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LUNG_TFLITE_FILE).write_bytes(b"not a model")
    card = {"format": LUNG_CARD_FORMAT, "model_id": "lunglens-lungs-test",
            "preprocessing": PreprocessingSpec(input_size=128).to_dict(), "threshold": 0.5,
            "files": {LUNG_TFLITE_FILE: "0" * 64}}
    card.update(changes)
    (folder / LUNG_CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    return folder


def test_card_errors_name_the_file_and_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ModelBundleError, match="missing"):
        LungSegmenterCard.read(tmp_path / LUNG_CARD_FILE)
    folder = write_card(tmp_path / "a", format="something-else/1")
    with pytest.raises(ModelBundleError, match="something-else/1"):
        load_lung_segmenter(folder)
    folder = write_card(tmp_path / "b", threshold=1.5)
    with pytest.raises(ModelBundleError, match=r"1\.5"):
        load_lung_segmenter(folder)
    folder = write_card(tmp_path / "c")
    with pytest.raises(ModelBundleError, match=r"sha256|altered|differs"):
        load_lung_segmenter(folder)
    with pytest.raises(ModelBundleError, match="does not exist"):
        load_lung_segmenter(tmp_path / "absent")


def test_a_model_trained_with_another_segmenter_is_refused(tmp_path: Path) -> None:
    folder = write_card(tmp_path / "seg")
    other = load_lung_segmenter(folder, verify_hashes=False)
    spec = PreprocessingSpec(input_size=32, region="lungs", lung_segmenter="lunglens-lungs-old")
    with pytest.raises(ModelBundleError, match="lunglens-lungs-old"):
        ModelInputs(spec, other)
