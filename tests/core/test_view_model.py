"""The shipped view model: verified at load, independent of the classifier, and used."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.classify.synthetic import synthetic_radiograph
from desktop_app.core.errors import ModelBundleError
from desktop_app.core.gate import VIEW_CLASSES, ViewCheck, load_view_model, view_input
from desktop_app.core.gate import view as view_module
from desktop_app.core.gate.view import (
    SUBSAMPLE_FACTOR,
    VIEW_CARD_FILE,
    VIEW_TFLITE_FILE,
    bundled_view_model_dir,
)
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.preprocessing import PreprocessingSpec, preprocess


@pytest.fixture
def view_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped view-model folder."""
    return Path(shutil.copytree(bundled_view_model_dir(), tmp_path / "view_model"))


def test_shipped_view_model_is_verified_and_small() -> None:
    model = load_view_model()
    assert model.card.classes == VIEW_CLASSES
    assert 0.0 < model.card.min_frontal_probability < 1.0
    assert model.tflite_path.stat().st_size < 1_000_000  # "a few hundred KB"
    raw = model.card.raw
    assert raw["training_data"]["held_out_lateral_files"]
    assert "held_out_laterals" in raw["metrics"]


def test_a_corrupted_view_model_is_refused_naming_the_file(view_copy: Path) -> None:
    tflite = view_copy / VIEW_TFLITE_FILE
    data = bytearray(tflite.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tflite.write_bytes(bytes(data))
    with pytest.raises(ModelBundleError, match=r"sha256 of 'view_model\.tflite'") as caught:
        load_view_model(view_copy)
    assert caught.value.path == tflite
    assert "corrupted or was replaced" in str(caught.value)


def test_a_missing_or_foreign_card_is_refused(view_copy: Path) -> None:
    card_path = view_copy / VIEW_CARD_FILE
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["format"] = "something-else/9"
    card_path.write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ModelBundleError, match="'something-else/9'"):
        load_view_model(view_copy)
    card_path.unlink()
    with pytest.raises(ModelBundleError, match="view model card is missing"):
        load_view_model(view_copy)


def test_the_app_does_not_start_with_a_damaged_view_model(
    tiny_bundle: Path, view_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (view_copy / VIEW_TFLITE_FILE).write_bytes(b"not a model")
    monkeypatch.setattr(view_module, "bundled_view_model_dir", lambda: view_copy)
    with pytest.raises(ModelBundleError, match="sha256"):
        Analyzer(load_bundle(tiny_bundle))


def test_view_input_is_the_shared_preprocessing_of_a_subsample() -> None:
    spec = PreprocessingSpec(input_size=64)
    pixels = synthetic_radiograph((900, 1100), seed=3).astype(np.float32) / 255.0
    stride = 1100 // int(SUBSAMPLE_FACTOR * 64)
    assert stride > 1
    expected = preprocess(pixels[::stride, ::stride], spec).array
    np.testing.assert_array_equal(view_input(pixels, spec), expected)
    small = pixels[:90, :80]  # already smaller than the subsample target: used as is
    np.testing.assert_array_equal(view_input(small, spec), preprocess(small, spec).array)


def test_a_retrained_classifier_keeps_the_shipped_view_check(tiny_bundle: Path) -> None:
    analyzer = Analyzer(load_bundle(tiny_bundle))
    assert analyzer.model_id == "tiny-test-model-0"
    assert analyzer.view.model.card.model_id == load_view_model().card.model_id
    assert analyzer.gate.view is analyzer.view


def test_view_probabilities_are_a_distribution_per_image() -> None:
    check = ViewCheck(load_view_model())
    inputs = np.stack([check.input_for(synthetic_radiograph(seed=s)) for s in range(3)])
    probabilities = check.probabilities(inputs)
    assert probabilities.shape == (3, len(VIEW_CLASSES))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="Received: \\(3, 7, 7\\)"):
        check.probabilities(np.zeros((3, 7, 7), dtype=np.float32))


def _laterals_dir(cxr_data_dir: Path) -> Path:
    folder = cxr_data_dir.parent / "views" / "lateral"
    if not (folder / "metadata.csv").is_file():
        pytest.skip(f"real lateral films not found at {folder}")
    return folder


def test_held_out_real_laterals_are_refused_as_lateral_views(
    cxr_data_dir: Path, tiny_bundle: Path, tmp_path: Path
) -> None:
    """The patients the view model never saw, through a retrained (tiny) classifier."""
    laterals = _laterals_dir(cxr_data_dir)
    held = set(load_view_model().card.raw["training_data"]["held_out_lateral_files"])
    with (laterals / "metadata.csv").open(newline="", encoding="utf-8") as handle:
        files = [laterals / "images" / r["X_ray_image_name"] for r in csv.DictReader(handle)
                 if r["X_ray_image_name"] in held]
    assert files, "the view card names held-out laterals that are not in the folder"
    results = list(Analyzer(load_bundle(tiny_bundle)).analyse(files))
    refused = [r for r in results if r.out_of_distribution]
    assert len(refused) >= 0.95 * len(files), [(r.path.name, r.ood.reason) for r in results]
    lateral = [r for r in refused if r.to_json()["ood_reason"].startswith("lateral view")]
    assert len(lateral) >= 0.8 * len(files)
    assert all(r.label is None for r in refused)
